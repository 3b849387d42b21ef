"""End-to-end acceptance: the official `openai` SDK against a real `orchestrator up` stack."""

"""API keys and the limits attached to them: the hashed key store, request authentication, the rate limit."""

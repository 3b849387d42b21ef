"""`orchestrator keys create|list|revoke`: manage the API keys kept (hashed) in Redis."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from orchestrator.auth.apikeys import ApiKeyRecord, ApiKeyStore
from orchestrator.settings import Settings
from orchestrator.store import Keys, clients


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser("keys", help="create, list and revoke API keys (stored hashed in Redis)")
    keys.add_argument("--redis-url", default=None, help="default: ORCH_REDIS_URL, else the one `up` started")
    keys.add_argument("--data-dir", default=".orchestrator")
    keys.add_argument("--json", action="store_true", help="machine-readable output")
    action = keys.add_subparsers(dest="keys_command", required=True)
    create = action.add_parser("create", help="a new key for a project; the key is printed once, never again")
    create.add_argument("--project", required=True, type=_project_name)
    listing = action.add_parser("list", help="every key's id, project, creation time and hint (never the key)")
    listing.add_argument("--project", default=None, help="only this project's keys")
    revoke = action.add_parser("revoke", help="delete a key by its id; it stops working within a second or two")
    revoke.add_argument("key_id")


def _project_name(value: str) -> str:
    # Project names become part of Redis keys and index members (`project|thread|run`): keep them plain.
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", value):
        raise argparse.ArgumentTypeError("use 1 to 64 letters, digits, '_', '.' or '-'")
    return value


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run one `keys` action; returns the exit status."""
    client = clients.state_client(_redis_url(args, settings), cluster=_cluster(args, settings))
    store = ApiKeyStore(client, Keys(settings.key_prefix))
    try:
        if args.keys_command == "create":
            record, key = store.create(args.project)
            _out(json.dumps({**_row(record), "key": key}) if args.json else _created(record, key))
            return 0
        if args.keys_command == "list":
            records = store.list(args.project)
            _out(json.dumps([_row(r) for r in records]) if args.json else _table(records))
            return 0
        revoked = store.revoke(args.key_id)
        if revoked is None:
            _out(f"No key with id {args.key_id}.")
            return 1
        _out(json.dumps(_row(revoked)) if args.json else f"Revoked {revoked.id} ({revoked.project}).")
        return 0
    finally:
        client.close()


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _cluster(args: argparse.Namespace, settings: Settings) -> bool:
    """A cluster when the settings say so, or when the URL is that of an `up --redis-cluster` (its broker file)."""
    from_file = not args.redis_url and not os.environ.get("ORCH_REDIS_URL")
    return settings.redis_cluster or (from_file and (Path(args.data_dir) / "broker_url").exists())


def _redis_url(args: argparse.Namespace, settings: Settings) -> str:
    url_file = Path(args.data_dir) / "redis_url"
    if args.redis_url:
        return str(args.redis_url)
    if not os.environ.get("ORCH_REDIS_URL") and url_file.exists():
        return url_file.read_text().strip()
    return settings.redis_url


def _row(record: ApiKeyRecord) -> dict[str, object]:
    return {"id": record.id, "project": record.project, "created_at": record.created_at, "hint": record.hint}


def _created(record: ApiKeyRecord, key: str) -> str:
    return f"Created {record.id} for project {record.project}. The key is shown only now; keep it safe:\n\n  {key}\n"


def _table(records: list[ApiKeyRecord]) -> str:
    if not records:
        return "No keys."
    lines = [f"{'ID':<22} {'PROJECT':<24} {'CREATED (UTC)':<20} HINT"]
    for r in records:
        created = datetime.fromtimestamp(r.created_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        lines.append(f"{r.id:<22} {r.project:<24} {created:<20} {r.hint}")
    return "\n".join(lines)

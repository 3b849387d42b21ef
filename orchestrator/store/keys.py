"""Every Redis key and channel name. Nothing else builds key strings.

A thread's keys share the `{thread_id}` hash tag, so the scripts that touch a run, its thread's messages and
its event log address one slot (on a Redis Cluster too). Indexes that span threads are sharded or per project,
and written outside those scripts. Project names are part of every key, so another project's key cannot even
name an object it does not own.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str

    # Assistants are not tied to a thread.
    def assistant(self, project: str, assistant_id: str) -> str:
        return f"{self.prefix}:p:{project}:asst:{assistant_id}"

    def assistants(self, project: str) -> str:
        return f"{self.prefix}:p:{project}:assistants"

    def file(self, project: str, file_id: str) -> str:
        return f"{self.prefix}:p:{project}:file:{file_id}"

    def files(self, project: str) -> str:
        return f"{self.prefix}:p:{project}:files"

    def files_by_purpose(self, project: str, purpose: str) -> str:
        """The project's files of one purpose, so `GET /files?purpose=` pages without filtering."""
        return f"{self.prefix}:p:{project}:files:{purpose}"

    def threads(self, project: str) -> str:
        """The project's threads (`GET /threads`, beyond OpenAI's API). Not in any thread's slot, so the scripts
        that create a thread cannot write it: it is written just before them (services/threads.py `listed`)."""
        return f"{self.prefix}:p:{project}:threads"

    def thread(self, project: str, thread_id: str) -> str:
        return f"{self.prefix}:p:{project}:{{{thread_id}}}:thread"

    def active_run(self, project: str, thread_id: str) -> str:
        return f"{self.prefix}:p:{project}:{{{thread_id}}}:active"

    def messages(self, project: str, thread_id: str) -> str:
        return f"{self.prefix}:p:{project}:{{{thread_id}}}:messages"

    def message(self, project: str, thread_id: str, message_id: str) -> str:
        return f"{self.prefix}:p:{project}:{{{thread_id}}}:msg:{message_id}"

    def runs(self, project: str, thread_id: str) -> str:
        return f"{self.prefix}:p:{project}:{{{thread_id}}}:runs"

    def run(self, project: str, thread_id: str, run_id: str) -> str:
        return f"{self.prefix}:p:{project}:{{{thread_id}}}:run:{run_id}"

    def run_messages(self, project: str, thread_id: str, run_id: str) -> str:
        return f"{self.prefix}:p:{project}:{{{thread_id}}}:run:{run_id}:messages"

    def steps(self, project: str, thread_id: str, run_id: str) -> str:
        return f"{self.prefix}:p:{project}:{{{thread_id}}}:run:{run_id}:steps"

    def step(self, project: str, thread_id: str, step_id: str) -> str:
        return f"{self.prefix}:p:{project}:{{{thread_id}}}:step:{step_id}"

    def tool_outputs(self, project: str, thread_id: str, step_id: str) -> str:
        return f"{self.prefix}:p:{project}:{{{thread_id}}}:step:{step_id}:outputs"

    def events(self, project: str, thread_id: str, run_id: str) -> str:
        return f"{self.prefix}:p:{project}:{{{thread_id}}}:run:{run_id}:events"

    # -- the sweeper's indexes: sharded, so no script of a thread's slot writes them and no single slot holds
    # -- every run. A run's shard follows from its id (`index_shard`); the sweeper reads every shard.

    def expiring(self, member: str) -> str:
        """Sorted set of active runs scored by expires_at (the shard `member` belongs to); the sweeper's only way
        to find them (no SCAN)."""
        return self.expiring_shard(index_shard(member))

    def expiring_shard(self, shard: int) -> str:
        return f"{self.prefix}:expiring:{{s{shard}}}"

    def leases(self, member: str) -> str:
        """Sorted set of runs scored by when the sweeper must look at them again: an executor's lease deadline, or
        the moment a task sent for the run counts as lost (the shard `member` belongs to)."""
        return self.leases_shard(index_shard(member))

    def leases_shard(self, shard: int) -> str:
        return f"{self.prefix}:leases:{{s{shard}}}"

    def legacy_indexes(self) -> tuple[str, str]:
        """The unsharded expiring and leases sets of earlier versions; the sweeper moves what it finds there into
        the shards (a deployment upgraded in place keeps watching the runs it had)."""
        return f"{self.prefix}:expiring", f"{self.prefix}:leases"

    def tool_claims(self, project: str, thread_id: str, step_id: str) -> str:
        """Hash call id -> `token|deadline` of the tool worker executing that call."""
        return f"{self.prefix}:p:{project}:{{{thread_id}}}:step:{step_id}:claims"

    def tool_payloads(self, project: str, thread_id: str, step_id: str) -> str:
        """Hash call id -> the task payload a server-side tool call was sent with, so it can be sent again."""
        return f"{self.prefix}:p:{project}:{{{thread_id}}}:step:{step_id}:payloads"

    def code_cells(self, project: str, thread_id: str) -> str:
        """List: the thread's code_interpreter session, the cells replayed into a fresh interpreter (session.py)."""
        return f"{self.prefix}:p:{project}:{{{thread_id}}}:code:cells"

    def code_inputs(self, project: str, thread_id: str) -> str:
        """Hash name -> file id: the input files the thread's code session has seeded into /mnt/data."""
        return f"{self.prefix}:p:{project}:{{{thread_id}}}:code:inputs"

    def thread_vector_store(self, project: str, thread_id: str) -> str:
        """The id of the vector store made for the thread's attachments: the one store deleting the thread deletes
        (stores the user listed on the thread may be shared, and are left alone)."""
        return f"{self.prefix}:p:{project}:{{{thread_id}}}:own_vector_store"

    def code_files(self, project: str, thread_id: str) -> str:
        """Hash `sandbox:/mnt/data/<path>` -> file id: the files of the thread's code session, for file_path links."""
        return f"{self.prefix}:p:{project}:{{{thread_id}}}:code:files"

    def run_channel(self, run_id: str) -> str:
        return f"{self.prefix}:events:{run_id}"

    def control_channel(self) -> str:
        """Cancellation notices for the run workers, so a streaming model call stops within a second."""
        return f"{self.prefix}:control"

    def worker_heartbeat(self, pool: str) -> str:
        return f"{self.prefix}:workers:{pool}"

    # -- keys and limits ------------------------------------------------------------------------------------

    def api_keys(self) -> str:
        """Hash: SHA-256 hex digest of an API key -> its record (JSON). The key itself is never stored."""
        return f"{self.prefix}:apikeys"

    def api_key_ids(self) -> str:
        """Hash: API key id -> digest, so a key can be revoked by its id."""
        return f"{self.prefix}:apikeys:ids"

    def rate_limit(self, key_id: str) -> str:
        """Token bucket of one API key (a string; `ratelimit:` held an earlier version's hash, left to expire)."""
        return f"{self.prefix}:ratebucket:{key_id}"

    def active_runs(self, project: str) -> str:
        """Sorted set: the project's active runs scored by expires_at, for the active-run cap. A run reserves its
        place here (active_cap.lua, this key's own slot) before the commit that starts it and gives it back after
        the commit that ends it; places past their expiry are reaped by score."""
        return f"{self.prefix}:p:{project}:active_runs"

    def idempotency(self, project: str, key_digest: str) -> str:
        """A POST's outcome under its Idempotency-Key (digest), per project."""
        return f"{self.prefix}:p:{project}:idem:{key_digest}"

    # -- vector stores: one `{vs_id}` hash tag, so the scripts that move a file's status and write its chunks ----
    # -- address one slot. ------------------------------------------------------------------------------------

    def vector_stores(self, project: str) -> str:
        return f"{self.prefix}:p:{project}:vector_stores"

    def vector_store(self, project: str, vs_id: str) -> str:
        """Hash: `doc` (the store's given fields) and the counters its status and file_counts derive from."""
        return f"{self.prefix}:p:{project}:vs:{{{vs_id}}}"

    def vs_files(self, project: str, vs_id: str, status: str = "") -> str:
        """Index of the store's files; with `status`, of those in that status (kept by the same scripts)."""
        suffix = f":{status}" if status else ""
        return f"{self.prefix}:p:{project}:vs:{{{vs_id}}}:files{suffix}"

    def vs_file(self, project: str, vs_id: str, file_id: str) -> str:
        return f"{self.prefix}:p:{project}:vs:{{{vs_id}}}:file:{file_id}"

    def vs_batch(self, project: str, vs_id: str, batch_id: str) -> str:
        return f"{self.prefix}:p:{project}:vs:{{{vs_id}}}:batch:{batch_id}"

    def vs_batches(self, project: str, vs_id: str) -> str:
        """Index of the store's file batch ids (so deleting the store finds them without a SCAN)."""
        return f"{self.prefix}:p:{project}:vs:{{{vs_id}}}:batches"

    def vs_batch_files(self, project: str, vs_id: str, batch_id: str) -> str:
        return f"{self.prefix}:p:{project}:vs:{{{vs_id}}}:batch:{batch_id}:files"

    def vs_chunks(self, project: str, vs_id: str) -> str:
        """Hash chunk id -> chunk JSON (file id, filename, text)."""
        return f"{self.prefix}:p:{project}:vs:{{{vs_id}}}:chunks"

    def vs_chunk_terms(self, project: str, vs_id: str) -> str:
        """Hash chunk id -> 'length term term ...': its BM25 length, and the postings to drop when it goes."""
        return f"{self.prefix}:p:{project}:vs:{{{vs_id}}}:chunkterms"

    def vs_embeddings(self, project: str, vs_id: str) -> str:
        """Hash chunk id -> base64 of the chunk's float32 embedding."""
        return f"{self.prefix}:p:{project}:vs:{{{vs_id}}}:emb"

    def vs_stats(self, project: str, vs_id: str) -> str:
        """Hash: chunks, tokens (BM25's N and total length), model (the embedder the vectors came from), generation
        (moves with every change of the index's content)."""
        return f"{self.prefix}:p:{project}:vs:{{{vs_id}}}:stats"

    def vs_term_prefix(self, project: str, vs_id: str) -> str:
        """Prefix of the postings hashes (term -> {chunk id: term frequency}); the term follows it."""
        return f"{self.prefix}:p:{project}:vs:{{{vs_id}}}:t:"

    def vs_term(self, project: str, vs_id: str, term: str) -> str:
        return self.vs_term_prefix(project, vs_id) + term

    def file_vector_stores(self, project: str, file_id: str) -> str:
        """Set of the vector stores that hold a file, so deleting the file can find them."""
        return f"{self.prefix}:p:{project}:file:{file_id}:vector_stores"


#: Shards of each sweeper index. Fixed: every process must agree on a run's shard, so changing it strands entries.
INDEX_SHARDS = 16


def index_shard(member: str) -> int:
    """The shard of a run's entries in the sweeper's indexes (by its run id, the member's last part)."""
    return zlib.crc32(member.rpartition("|")[2].encode()) % INDEX_SHARDS


def expiry_member(project: str, thread_id: str, run_id: str) -> str:
    return f"{project}|{thread_id}|{run_id}"


def parse_expiry_member(member: str) -> tuple[str, str, str]:
    project, thread_id, run_id = member.split("|", 2)
    return project, thread_id, run_id

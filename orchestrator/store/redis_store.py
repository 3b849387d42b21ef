"""`RedisStore`: the only module that issues Redis data commands for objects, indexes and event logs."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar, cast

import redis
from pydantic import BaseModel

from orchestrator import observe
from orchestrator.domain.models import Assistant, FileObject, Message, Run, RunStep, Thread, Usage
from orchestrator.errors import ConcurrentUpdate, ThreadBusy, TooManyActiveRuns
from orchestrator.store import slots
from orchestrator.store.commit import Commit, CommitResult
from orchestrator.store.keys import INDEX_SHARDS, Keys, expiry_member
from orchestrator.store.scripts import Scripts

M = TypeVar("M", bound=BaseModel)
Order = Literal["asc", "desc"]


@dataclass(frozen=True)
class RunRecord:
    """A run as stored: the public object plus the executor's bookkeeping fields."""

    run: Run
    version: int
    project: str
    dispatch: str = ""  # token of the one execute task allowed to claim the run
    holder: str = ""  # token of the executor currently working on the run
    awaiting: int = 0  # server-side tool outputs the parked run waits for
    open_step: str = ""  # the step in progress (a tool step while parked or in requires_action)
    open_message: str = ""  # the message being written
    usage: Usage = field(default_factory=Usage)  # tokens used by the run's turns so far
    turns: int = 0  # model turns taken so far
    requires_action_at: float = 0.0  # when the run last started waiting on the client
    created_s: float = 0.0  # creation time with sub-second precision, for latency metrics
    lease: float = 0.0  # when the holder's lease lapses unless renewed (epoch seconds)
    parked_step: str = ""  # the tool step whose server-side calls were sent to the tool pools
    tools_sent_at: float = 0.0  # when those calls were (last) sent
    recoveries: int = 0  # times the sweeper handed the run on after its executor vanished
    sent_at: float = 0.0  # when the task carrying `dispatch` was (last) sent
    usage_unknown: bool = False  # a turn's upstream reported no usage: the run's usage is null, not a guess
    step_turns: dict[str, int] = field(default_factory=dict)  # step id -> the model turn that created it


@dataclass(frozen=True)
class Page:
    ids: list[str]
    has_more: bool


@dataclass(frozen=True)
class StoredEvent:
    id: str
    event: str
    data: bytes


class RedisStore:
    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        *,
        event_log_maxlen: int = 10_000,
        event_log_ttl_s: int = 86_400,
        max_active_runs: int = 0,
        resend_after_s: float = 30.0,
    ) -> None:
        self.client = client
        self.keys = keys
        self._scripts = Scripts(client)
        self._maxlen = event_log_maxlen
        self._ttl = event_log_ttl_s
        self.resend_after_s = resend_after_s  # a task nobody claimed this long after it was sent is sent again
        self._max_active_runs = max_active_runs  # checked when a run takes its thread; 0: no cap

    # -- documents -------------------------------------------------------------------------------------------

    def _get(self, key: str, model: type[M]) -> M | None:
        raw = self.client.get(key)
        return None if raw is None else model.model_validate_json(raw)

    def _get_many(self, keys: Sequence[str], model: type[M]) -> list[M]:
        if not keys:
            return []
        return [model.model_validate_json(raw) for raw in slots.mget(self.client, keys) if raw is not None]

    def put_indexed(self, docs: Sequence[tuple[str, BaseModel]], index: Sequence[tuple[str, str]]) -> None:
        """Write documents, then their index entries (no run is involved): one transaction when they share a slot
        (a thread and its messages), else in that order, so a crash between leaves a document nothing lists."""
        pipe = slots.pipeline(self.client, [*(k for k, _ in docs), *(k for k, _ in index)])
        for key, doc in docs:
            pipe.set(key, doc.model_dump_json())
        for index_key, member in index:
            pipe.zadd(index_key, {member: 0})
        pipe.execute()

    def update_doc(self, key: str, model: type[M], change: Callable[[M], M]) -> M | None:
        """Optimistic read-change-write of one document (WATCH/MULTI), retried when another writer wins."""
        with self.client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(key)  # type: ignore[no-untyped-call]
                    raw = pipe.get(key)
                    if raw is None:
                        return None
                    updated = change(model.model_validate_json(raw))
                    pipe.multi()
                    pipe.set(key, updated.model_dump_json())
                    pipe.execute()
                    return updated
                except redis.WatchError:
                    continue

    def delete(self, keys: Sequence[str], index: Sequence[tuple[str, str]] = ()) -> bool:
        """Delete `keys` (of one slot), then drop their index entries: one transaction when those share the slot,
        else in that order, so a crash between leaves an index entry whose readers skip it (its document is gone).
        """
        return bool(slots.delete_then_unindex(self.client, keys, index))

    def page(
        self, index_key: str, *, limit: int, order: Order, after: str | None = None, before: str | None = None
    ) -> Page:
        """One page of an id index in creation order, OpenAI cursor semantics, O(log n + limit)."""
        if order == "asc":
            low = f"({after}" if after else "-"
            high = f"({before}" if before else "+"
            if before and not after:
                ids = _strs(self.client.zrevrangebylex(index_key, high, low, start=0, num=limit + 1))
                return Page(ids=list(reversed(ids[:limit])), has_more=len(ids) > limit)
            ids = _strs(self.client.zrangebylex(index_key, low, high, start=0, num=limit + 1))
        else:
            high = f"({after}" if after else "+"
            low = f"({before}" if before else "-"
            if before and not after:
                ids = _strs(self.client.zrangebylex(index_key, low, high, start=0, num=limit + 1))
                return Page(ids=list(reversed(ids[:limit])), has_more=len(ids) > limit)
            ids = _strs(self.client.zrevrangebylex(index_key, high, low, start=0, num=limit + 1))
        return Page(ids=ids[:limit], has_more=len(ids) > limit)

    def all_ids(self, index_key: str) -> list[str]:
        return _strs(self.client.zrangebylex(index_key, "-", "+"))

    def add_to_index(self, index_key: str, member: str) -> None:
        """One id index entry on its own, for an index no write of its document's slot can carry."""
        self.client.zadd(index_key, {member: 0})

    def remove_from_index(self, index_key: str, member: str) -> None:
        self.client.zrem(index_key, member)

    # -- typed reads ------------------------------------------------------------------------------------------

    def get_assistant(self, project: str, assistant_id: str) -> Assistant | None:
        return self._get(self.keys.assistant(project, assistant_id), Assistant)

    def get_assistants(self, project: str, ids: Sequence[str]) -> list[Assistant]:
        return self._get_many([self.keys.assistant(project, i) for i in ids], Assistant)

    def get_file(self, project: str, file_id: str) -> FileObject | None:
        return self._get(self.keys.file(project, file_id), FileObject)

    def get_files(self, project: str, ids: Sequence[str]) -> list[FileObject | None]:
        """One entry per id, None where there is no such file (callers name the missing one)."""
        if not ids:
            return []
        raw = slots.mget(self.client, [self.keys.file(project, i) for i in ids])
        return [None if value is None else FileObject.model_validate_json(value) for value in raw]

    def get_thread(self, project: str, thread_id: str) -> Thread | None:
        return self._get(self.keys.thread(project, thread_id), Thread)

    def get_threads(self, project: str, ids: Sequence[str]) -> list[Thread]:
        """The threads of `ids` that exist (one MGET per slot on a cluster: each thread is in a slot of its own)."""
        return self._get_many([self.keys.thread(project, i) for i in ids], Thread)

    def get_message(self, project: str, thread_id: str, message_id: str) -> Message | None:
        return self._get(self.keys.message(project, thread_id, message_id), Message)

    def get_messages(self, project: str, thread_id: str, ids: Sequence[str]) -> list[Message]:
        return self._get_many([self.keys.message(project, thread_id, i) for i in ids], Message)

    def get_messages_by_id(self, project: str, thread_id: str, ids: Sequence[str]) -> list[Message | None]:
        """One entry per id, None where the message is gone (deleted since its id was read)."""
        if not ids:
            return []
        raw = self.client.mget([self.keys.message(project, thread_id, i) for i in ids])
        return [None if value is None else Message.model_validate_json(value) for value in raw]

    def get_step(self, project: str, thread_id: str, step_id: str) -> RunStep | None:
        return self._get(self.keys.step(project, thread_id, step_id), RunStep)

    def get_steps(self, project: str, thread_id: str, ids: Sequence[str]) -> list[RunStep]:
        return self._get_many([self.keys.step(project, thread_id, i) for i in ids], RunStep)

    def get_run(self, project: str, thread_id: str, run_id: str) -> RunRecord | None:
        raw = self.client.hgetall(self.keys.run(project, thread_id, run_id))
        if not raw:
            return None
        fields = {_str(k): _str(v) for k, v in raw.items()}
        if "doc" not in fields:
            return None
        return RunRecord(
            run=Run.model_validate_json(fields["doc"]),
            version=int(fields.get("ver", 0)),
            project=project,
            dispatch=fields.get("dispatch", ""),
            holder=fields.get("holder", ""),
            awaiting=int(fields.get("awaiting", 0) or 0),
            open_step=fields.get("open_step", ""),
            open_message=fields.get("open_message", ""),
            usage=Usage.model_validate_json(fields["usage"]) if fields.get("usage") else Usage(),
            turns=int(fields.get("turns", 0) or 0),
            requires_action_at=float(fields.get("requires_action_at", 0) or 0),
            created_s=float(fields.get("created_s", 0) or 0),
            lease=float(fields.get("lease", 0) or 0),
            parked_step=fields.get("parked_step", ""),
            tools_sent_at=float(fields.get("tools_sent_at", 0) or 0),
            recoveries=int(fields.get("recoveries", 0) or 0),
            sent_at=float(fields.get("sent_at", 0) or 0),
            usage_unknown=fields.get("usage_unknown") == "1",
            step_turns={k[8:]: int(v) for k, v in fields.items() if k.startswith("turn_of:")},
        )

    def get_run_doc(self, project: str, thread_id: str, run_id: str) -> Run | None:
        """The public run alone (HGET of its `doc` field): what reads outside the executor's bookkeeping need."""
        raw = self.client.hget(self.keys.run(project, thread_id, run_id), "doc")
        return None if raw is None else Run.model_validate_json(raw)

    def get_runs(self, project: str, thread_id: str, ids: Sequence[str]) -> list[Run]:
        pipe = self.client.pipeline(transaction=False)
        for run_id in ids:
            pipe.hget(self.keys.run(project, thread_id, run_id), "doc")
        return [Run.model_validate_json(raw) for raw in pipe.execute() if raw is not None]

    def active_run_id(self, project: str, thread_id: str) -> str | None:
        value = self.client.get(self.keys.active_run(project, thread_id))
        return None if value is None else _str(value)

    def tool_outputs(self, project: str, thread_id: str, step_id: str) -> dict[str, str]:
        outputs = self.client.hgetall(self.keys.tool_outputs(project, thread_id, step_id))
        return {_str(k): _str(v) for k, v in outputs.items()}

    def events(
        self, project: str, thread_id: str, run_id: str, after: str = "-", count: int = 1000
    ) -> list[StoredEvent]:
        start = f"({after}" if after != "-" else "-"
        entries = self.client.xrange(self.keys.events(project, thread_id, run_id), start, "+", count=count) or []
        return [
            StoredEvent(id=_str(i), event=_str((f or {})["e"]), data=_str((f or {})["d"]).encode()) for i, f in entries
        ]

    # -- atomic writes ---------------------------------------------------------------------------------------

    def commit(self, commit: Commit) -> CommitResult:
        """Apply `commit` atomically; raise `ConcurrentUpdate` if a guard fails, `ThreadBusy` if the thread is held."""
        keys = self.keys
        p, t, r = commit.project, commit.thread_id, commit.run_id
        run_key = keys.run(p, t, r) if r else keys.active_run(p, t)
        script_keys = [run_key, keys.events(p, t, r) if r else run_key, keys.active_run(p, t)]
        args: list[str | bytes | int] = [
            r,
            commit.active,
            keys.run_channel(r) if r else "",
            self._maxlen,
            self._ttl,
            len(commit.guards),
        ]
        for name, allowed in commit.guards.items():
            args += [name, "|".join(allowed)]
        args.append(len(commit.run_fields))
        for name, value in commit.run_fields.items():
            args += [name, value]
        args.append(len(commit.docs))
        for key, doc in commit.docs:
            script_keys.append(key)
            args.append(doc)
        args.append(len(commit.index))
        for index_key, member in commit.index:
            script_keys.append(index_key)
            args.append(member)
        for name, data in commit.events:
            args += [name, data]
        starting = commit.active == "acquire" and bool(r)
        if starting or commit.expires_at is not None:
            self._index_before(commit)
        # An error here leaves the entries: the commit may have landed, and entries of a run that did not are dropped.
        reply = self._scripts.commit(keys=script_keys, args=args)
        status = int(reply[0])
        # A run that did not start gives back what it reserved; one that ended, once its end is written (a release
        # whose guard failed leaves an active run, which keeps its entries).
        ended = status == 1 and commit.active == "release" and bool(r)
        if (status != 1 and starting) or ended:
            self._unindex(p, t, r, ended=ended)
        if status == 2:
            raise ThreadBusy(f"Thread {t} already has an active run {reply[1]}.", active_run_id=str(reply[1]))
        if status == 0:
            raise ConcurrentUpdate(f"run {r}: {reply[1]} is {reply[2]!r}", field=str(reply[1]), current=str(reply[2]))
        if commit.events:
            observe.events_committed(commit.events)
        return CommitResult(version=int(reply[1]), event_ids=[str(x) for x in reply[2:]])

    def _index_before(self, commit: Commit) -> None:
        """Before the commit that starts a run: reserve its place under the project's cap and index its expiry.

        Intent before act: these sets are in other slots than the thread, so no script writes them with the
        commit. An entry whose commit never lands is dropped (the sweeper finds no active run; a place is reaped
        past its expiry), while a run whose entries were missing could never be expired or counted."""
        p, t, r = commit.project, commit.thread_id, commit.run_id
        if commit.active == "acquire" and r:
            score = commit.expires_at if commit.expires_at is not None else ""
            reply = self._scripts.active_cap(keys=[self.keys.active_runs(p)], args=[r, score, self._max_active_runs])
            if int(reply[0]) == 0:
                raise TooManyActiveRuns(int(reply[1]), self._max_active_runs)
        if commit.expires_at is not None:
            member = expiry_member(p, t, r)
            self.client.zadd(self.keys.expiring(member), {member: commit.expires_at})

    def _unindex(self, project: str, thread_id: str, run_id: str, *, ended: bool) -> None:
        """After the commit that ends a run (or in place of one that did not start it): drop its expiry entry and
        give back its place under the cap; once it `ended`, also the sweeper's look (nobody owes an ended run
        work). One round trip (on a cluster, one per node); a crash before it leaves entries the sweeper and the
        cap drop."""
        member = expiry_member(project, thread_id, run_id)
        pipe = self.client.pipeline(transaction=False)
        pipe.zrem(self.keys.expiring(member), member)
        pipe.zrem(self.keys.active_runs(project), run_id)
        if ended:
            pipe.zrem(self.keys.leases(member), member)
        pipe.execute()

    def run_index_entries(self, project: str, thread_id: str, run_id: str) -> list[tuple[str, str]]:
        """The run's entries in the indexes that span threads (for a delete that takes the run with it)."""
        member = expiry_member(project, thread_id, run_id)
        return [
            (self.keys.expiring(member), member),
            (self.keys.leases(member), member),
            (self.keys.active_runs(project), run_id),
        ]

    def record_tool_output(
        self,
        project: str,
        thread_id: str,
        run_id: str,
        step_id: str,
        call_id: str,
        output: bytes,
        token: str,
        events: Sequence[tuple[str, bytes]],
    ) -> str:
        """Store a server-side tool's output; returns 'dispatch' for exactly one caller once all are in."""
        k = self.keys
        args: list[str | bytes | int] = [call_id, output, token, k.run_channel(run_id), self._maxlen]
        for name, data in events:
            args += [name, data]
        reply = self._scripts.tool_output(
            keys=[
                k.run(project, thread_id, run_id),
                k.tool_outputs(project, thread_id, step_id),
                k.events(project, thread_id, run_id),
            ],
            args=args,
        )
        outcome = _str(reply[0])
        if outcome not in ("stale", "duplicate"):
            observe.events_committed(events)
        return outcome

    def expiring_runs(self, now: int, limit: int = 100) -> list[str]:
        """The earliest `limit` runs due by `now`, across every shard."""
        return self._due([self.keys.expiring_shard(s) for s in range(INDEX_SHARDS)], now, limit)

    def forget_expiring(self, member: str) -> None:
        self.client.zrem(self.keys.expiring(member), member)

    def postpone_expiring(self, member: str, at: int) -> None:
        """Move a run's expiry entry to `at`, if it still has one."""
        self.client.zadd(self.keys.expiring(member), {member: at}, xx=True)

    def _due(self, shards: Sequence[str], now: float, limit: int) -> list[str]:
        pipe = self.client.pipeline(transaction=False)
        for key in shards:
            pipe.zrangebyscore(key, "-inf", now, start=0, num=limit, withscores=True)
        due = sorted(((score, _str(m)) for reply in pipe.execute() for m, score in reply), key=lambda e: e[0])
        return [member for _, member in due[:limit]]

    def adopt_legacy_indexes(self, limit: int = 1000) -> int:
        """Move entries of the unsharded indexes an earlier version kept into their shards; returns how many.

        Copy, then remove what was copied (never the whole key: a process of the earlier version may still be
        adding). A crash between copies again next time, which changes nothing."""
        moved = 0
        for legacy, shard_of in zip(self.keys.legacy_indexes(), (self.keys.expiring, self.keys.leases), strict=True):
            found = cast("list[tuple[str, float]]", self.client.zrange(legacy, 0, limit - 1, withscores=True))
            entries = [(_str(m), float(score)) for m, score in found]
            if not entries:
                continue
            pipe = self.client.pipeline(transaction=False)
            for member, score in entries:
                if member.count("|") == 2:
                    pipe.zadd(shard_of(member), {member: score}, nx=True)
            pipe.execute()
            self.client.zrem(legacy, *(member for member, _ in entries))
            moved += len(entries)
        return moved

    # -- leases ----------------------------------------------------------------------------------------------

    def look_again_at(self, project: str, thread_id: str, run_id: str, at: float) -> None:
        """Have the sweeper look at the run at `at` (or earlier, if it already meant to).

        Called before the commit that sends work, so no crash between the two can leave the work unwatched; a look
        at a run that was never written just drops the entry."""
        member = expiry_member(project, thread_id, run_id)
        self.client.zadd(self.keys.leases(member), {member: at}, lt=True)

    def watch_sent(self, project: str, thread_id: str, run_id: str) -> dict[str, str]:
        """Before a commit that sends the run's task: schedule the look, and return the field that dates the send."""
        now = time.time()
        self.look_again_at(project, thread_id, run_id, now + self.resend_after_s)
        return {"sent_at": f"{now:.3f}"}

    def reschedule_look(self, member: str, at: float) -> None:
        self.client.zadd(self.keys.leases(member), {member: at})

    def due_looks(self, now: float, limit: int = 100) -> list[str]:
        """The earliest `limit` looks due by `now`, across every shard."""
        return self._due([self.keys.leases_shard(s) for s in range(INDEX_SHARDS)], now, limit)

    def forget_look(self, member: str) -> None:
        self.client.zrem(self.keys.leases(member), member)

    def mark_sent(self, project: str, thread_id: str, run_id: str, at: float) -> None:
        """Note when the run's pending task was sent again (bookkeeping only: no version bump, no event)."""
        self.client.hset(self.keys.run(project, thread_id, run_id), "sent_at", f"{at:.3f}")

    def mark_tools_sent(self, project: str, thread_id: str, run_id: str, at: float) -> None:
        self.client.hset(self.keys.run(project, thread_id, run_id), "tools_sent_at", f"{at:.3f}")

    def renew_lease(self, project: str, thread_id: str, run_id: str, holder: str, deadline: float) -> bool:
        """Extend the executor's lease; False once the run is no longer held by `holder`."""
        reply = self._scripts.lease(keys=[self.keys.run(project, thread_id, run_id)], args=[holder, f"{deadline:.3f}"])
        if not int(reply):
            return False
        # After the renewal (lease.lua says why a crash between is safe).
        self.reschedule_look(expiry_member(project, thread_id, run_id), deadline)
        return True

    def claim_tool_call(
        self, project: str, thread_id: str, run_id: str, step_id: str, call_id: str, token: str, now: float, ttl: float
    ) -> str:
        """Claim (or renew the claim on) a tool call: 'ok', 'busy' (a live worker has it) or 'done'."""
        k = self.keys
        reply = _str(
            self._scripts.tool_claim(
                keys=[k.tool_outputs(project, thread_id, step_id), k.tool_claims(project, thread_id, step_id)],
                args=[call_id, token, f"{now:.3f}", f"{now + ttl:.3f}"],
            )
        )
        if reply == "ok":
            # Look at the run once the claim can have lapsed, unless a look is already due later (tool_claim.lua).
            member = expiry_member(project, thread_id, run_id)
            self.client.zadd(k.leases(member), {member: now + ttl}, gt=True)
        return reply

    def tool_claims(self, project: str, thread_id: str, step_id: str) -> dict[str, tuple[str, float]]:
        raw = self.client.hgetall(self.keys.tool_claims(project, thread_id, step_id))
        claims = {}
        for call_id, value in raw.items():
            token, _, deadline = _str(value).partition("|")
            claims[_str(call_id)] = (token, float(deadline or 0))
        return claims

    def tool_payloads(self, project: str, thread_id: str, step_id: str) -> dict[str, str]:
        raw = self.client.hgetall(self.keys.tool_payloads(project, thread_id, step_id))
        return {_str(k): _str(v) for k, v in raw.items()}

    def save_tool_payloads(self, project: str, thread_id: str, step_id: str, payloads: Mapping[str, str]) -> None:
        key = self.keys.tool_payloads(project, thread_id, step_id)
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(key, mapping=dict(payloads))  # type: ignore[arg-type]
        pipe.expire(key, self._ttl)
        pipe.execute()


def _str(value: object) -> str:
    """Clients here decode responses; the typeshed of redis-py still says bytes | str."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _strs(values: object) -> list[str]:
    return [_str(v) for v in values]  # type: ignore[attr-defined]

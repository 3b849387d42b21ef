"""The thread's messages one model turn reads: newest first, in pages, only as far as the truncation strategy and
the context budget reach, each finished message parsed and rendered once per process.

A message's role, content, attachments and run never change once it is finished (completed or incomplete): only
its metadata can be modified, and the model does not read metadata. So a finished message's rendering is kept
by its key; a deleted message leaves the thread's index, which is read on every turn, and so the context, and its
rendering ages out of the cache. Messages still in progress, this run's own and those showing image files (whose
bytes may be deleted) are read each turn.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from orchestrator.domain.models import Message, Run
from orchestrator.domain.status import MessageStatus
from orchestrator.store import RedisStore
from workers.executor.context import CHARS_PER_TOKEN, ImageData, chat_message, estimated_chars
from workers.tools.code_interpreter.tool import attached_file_ids

#: The most thread messages one model turn reads, whatever the budget; OpenAI's `auto` has no such cap, but no
#: context window holds a thousand turns of conversation.
MAX_HISTORY_MESSAGES = 1000
#: The model's context window, in tokens, when the deployment names none (ORCH_CONTEXT_TOKENS).
DEFAULT_CONTEXT_TOKENS = 128_000
#: Renderings kept per process, at most so many and so much text (a short message's costs about 500 bytes of
#: memory, a long one its text): about 64 MB at most, the last few hundred threads' worth.
CACHE_ENTRIES = 50_000
CACHE_CHARS = 32_000_000
_FIRST_PAGE = 64
_CHUNK = 128  # messages read from Redis at once when not rendered yet
T = TypeVar("T")
_FINISHED = frozenset({MessageStatus.COMPLETED, MessageStatus.INCOMPLETE})


@dataclass(frozen=True, slots=True)
class Rendered:
    """What a turn needs of one finished message."""

    run_id: str | None
    chars: int  # its estimated size, for the budget
    code_files: tuple[str, ...]  # files attached for the code_interpreter tool
    chat: dict[str, Any] | None  # as the model reads it; None: rendered each turn (it shows image files)


@dataclass(frozen=True)
class History:
    """The thread's messages a turn sends (other runs' and the user's, oldest first) and this run's own."""

    chat: list[dict[str, Any]]
    own: list[Message]


class RenderedCache:
    """Renderings of finished messages by key, least recently used dropped first; shared by a process's threads."""

    def __init__(self, entries: int = CACHE_ENTRIES, chars: int = CACHE_CHARS) -> None:
        self.entries, self.chars = entries, chars
        self._items: OrderedDict[str, Rendered] = OrderedDict()
        self._held = 0  # the chars of the renderings kept
        self._lock = threading.Lock()

    def get_many(self, keys: list[str]) -> list[Rendered | None]:
        with self._lock:
            found = [self._items.get(key) for key in keys]
            for key, rendered in zip(keys, found, strict=True):
                if rendered is not None:
                    self._items.move_to_end(key)
            return found

    def put(self, key: str, rendered: Rendered) -> None:
        with self._lock:
            replaced = self._items.pop(key, None)
            self._held -= replaced.chars if replaced is not None else 0
            self._items[key] = rendered
            self._held += rendered.chars
            while len(self._items) > self.entries or (self._held > self.chars and len(self._items) > 1):
                _, dropped = self._items.popitem(last=False)
                self._held -= dropped.chars

    def __len__(self) -> int:
        return len(self._items)


class HistoryReader:
    def __init__(
        self, store: RedisStore, *, context_tokens: int = DEFAULT_CONTEXT_TOKENS, cache: RenderedCache | None = None
    ) -> None:
        self.store = store
        self.context_tokens = context_tokens
        self.cache = cache if cache is not None else RenderedCache()

    def read(self, project: str, run: Run, image_data: ImageData | None = None, reserved_chars: int = 0) -> History:
        """The newest messages that fit: at most `last_messages` of them under that strategy, and no more than the
        budget holds (the run's max_prompt_tokens or the model's context window, less `reserved_chars` for what
        every request carries). The newest message is always sent, even alone over the budget."""
        strategy = run.truncation_strategy
        window = MAX_HISTORY_MESSAGES
        if strategy.get("type") == "last_messages" and strategy.get("last_messages"):
            window = min(int(strategy["last_messages"]), MAX_HISTORY_MESSAGES)
        tokens = min(run.max_prompt_tokens or self.context_tokens, self.context_tokens)
        budget = tokens * CHARS_PER_TOKEN - reserved_chars
        chat: list[dict[str, Any]] = []
        own: list[Message] = []
        used, run_id = 0, run.id
        for rendered, message in self._newest_first(project, run):
            if rendered.run_id == run_id:
                own.append(_need(message))
                continue
            if len(chat) >= window or (chat and used + rendered.chars > budget):
                break
            used += rendered.chars
            chat.append(rendered.chat if rendered.chat is not None else chat_message(_need(message), image_data))
        return History(chat=chat[::-1], own=own[::-1])

    def attached_code_files(self, project: str, run: Run) -> list[str]:
        """Files attached for the code_interpreter tool to the thread's newest messages, oldest first."""
        newest_first = [rendered.code_files for rendered, _ in self._newest_first(project, run)]
        return [file_id for files in reversed(newest_first) for file_id in files]

    def _newest_first(self, project: str, run: Run) -> Iterator[tuple[Rendered, Message | None]]:
        """Each message with what a turn needs of it, newest first, up to MAX_HISTORY_MESSAGES; the message itself
        where it has to be read (this run's own, in progress, or showing image files).

        Ids come in two reads at most (a first page for short windows, then the rest of the cap: ids are small);
        messages not rendered yet are read in chunks, as far as the caller goes."""
        store, thread_id = self.store, run.thread_id
        index = store.keys.messages(project, thread_id)
        after: str | None = None
        size, seen = _FIRST_PAGE, 0
        while seen < MAX_HISTORY_MESSAGES:
            page = store.page(index, limit=min(size, MAX_HISTORY_MESSAGES - seen), order="desc", after=after)
            for start in range(0, len(page.ids), _CHUNK):
                yield from self._chunk(project, run, page.ids[start : start + _CHUNK])
            seen += len(page.ids)
            if not page.has_more:
                return
            after, size = page.ids[-1], MAX_HISTORY_MESSAGES

    def _chunk(self, project: str, run: Run, ids: list[str]) -> Iterator[tuple[Rendered, Message | None]]:
        store, thread_id, run_id = self.store, run.thread_id, run.id
        keys = [store.keys.message(project, thread_id, i) for i in ids]
        known = self.cache.get_many(keys)
        unread = [
            i
            for i, found in zip(ids, known, strict=True)
            if found is None or found.chat is None or found.run_id == run_id
        ]
        if not unread:  # the common case: every message was rendered before
            yield from zip(known, itertools.repeat(None))
            return
        read = dict(zip(unread, store.get_messages_by_id(project, thread_id, unread), strict=True))
        for message_id, key, found in zip(ids, keys, known, strict=True):
            if message_id not in read:
                yield _need(found), None
            elif (message := read[message_id]) is not None:  # else deleted since the index was read
                yield self._render(key, message), message

    def _render(self, key: str, message: Message) -> Rendered:
        images = any(part["type"] == "image_file" for part in message.content) and message.role == "user"
        rendered = Rendered(
            run_id=message.run_id,
            chars=estimated_chars(message),
            code_files=tuple(attached_file_ids([message])),
            chat=None if images else chat_message(message),
        )
        if message.status in _FINISHED:
            self.cache.put(key, rendered)
        return rendered


def _need(found: T | None) -> T:
    assert found is not None, "a message without a cached rendering (or one that must be read) is always read"
    return found

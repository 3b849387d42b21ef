"""One model turn as the client sees it: the steps and messages it opens and the deltas it streams."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import jiter
import orjson
import structlog

from orchestrator import observe
from orchestrator.domain.ids import new_id
from orchestrator.domain.models import JSON, Message, Run, RunStep
from orchestrator.domain.status import MessageStatus, StepStatus
from orchestrator.domain.tools import SERVER_TOOLS, call_type
from orchestrator.errors import UpstreamError
from orchestrator.services.ledger import Change, RunLedger, now_s
from workers.executor.citations import Citations, CitationScanner
from workers.executor.interruptible import Idle, coalesce_window_s
from workers.executor.llm import Finish, Piece, TextPiece, ToolCallPiece
from workers.tools.code_interpreter.tool import file_path_annotations

log = structlog.get_logger(__name__)

#: Held-back text this long goes out at once, whatever the window (a delta stays a small event).
MAX_HELD_CHARS = 2048


@dataclass
class Call:
    index: int
    id: str
    name: str
    type: str
    arguments: str = ""
    streamed: str = ""  # the part of a code_interpreter call's input already sent as `input` deltas

    def partial_argument(self) -> str:
        """The server tool's argument decoded from the arguments so far (a prefix of the final one): jiter's partial
        mode closes the unfinished string and drops an escape cut in half, so the code can stream as it comes."""
        try:
            parsed = jiter.from_json(self.arguments.encode(), partial_mode="trailing-strings")
        except ValueError:
            return ""
        value = parsed.get(SERVER_TOOLS[self.type][1]) if isinstance(parsed, dict) else None
        return value if isinstance(value, str) else ""

    def server_argument(self) -> str:
        """The one string argument of a server-side tool, from the model's JSON arguments."""
        try:
            parsed = orjson.loads(self.arguments or "{}")
        except orjson.JSONDecodeError:
            return self.arguments
        value = parsed.get(SERVER_TOOLS[self.type][1], "") if isinstance(parsed, dict) else ""
        return value if isinstance(value, str) else orjson.dumps(value).decode()


@dataclass
class Turn:
    """Streams one completion into a message step and/or a tool-calls step, then reports what it produced."""

    ledger: RunLedger
    run: Run
    holder: str
    message: Message | None = None
    message_step: RunStep | None = None
    text: str = ""
    tool_step: RunStep | None = None
    calls: dict[int, Call] = field(default_factory=dict)
    finish: Finish | None = None
    first_turn: bool = False  # the run's first model turn, whose first delta is the run's first token
    created_s: float = 0.0  # the run's precise creation time
    number: int = 0  # the run's model turns before this one; steps remember it, to rebuild the turn for the model
    #: Tool calls whose name has not arrived yet (upstream index -> id and arguments so far): their kind, and so
    #: where they run, is only known with the name.
    unnamed: dict[int, ToolCallPiece] = field(default_factory=dict)
    #: The file_search results this run's answers may cite; their markers become `file_citation` annotations.
    citations: Citations | None = None
    scanner: CitationScanner | None = None
    annotated: int = 0  # annotations streamed in the open message: the next one's `index`
    #: Images the run's code calls made that no message shows yet: the next message opens with them, as OpenAI's.
    images: list[str] = field(default_factory=list)
    #: The thread's code session files (`sandbox:/mnt/data/...` -> file id): links to them get `file_path`s.
    links: dict[str, str] = field(default_factory=dict)
    message_images: list[str] = field(default_factory=list)  # the images the open message shows
    linked: set[int] = field(default_factory=set)  # start indices of the links annotated in the open message
    #: Text pieces arriving within this many seconds of the last delta are held and sent as one delta
    #: (`ORCH_DELTA_COALESCE_MS`; 0: a delta per piece). Held text goes out before any other event.
    window_s: float = field(default_factory=coalesce_window_s)
    held: str = ""  # text of the open message not sent yet
    sent_at: float = float("-inf")  # monotonic time of the last text delta (none yet: the first goes at once)

    def feed(self, piece: Piece | Idle) -> None:
        if isinstance(piece, TextPiece):
            self._text(piece.text)
        elif isinstance(piece, Idle):
            self.flush_text()
        elif isinstance(piece, ToolCallPiece):
            self.flush_text()
            self._tool_call(piece)
        elif isinstance(piece, Finish):
            self.flush_text()
            if self.unnamed:
                raise UpstreamError("The model called a tool without naming it.", code="server_error")
            self.finish = piece
            self._flush_server_inputs()

    # -- text ------------------------------------------------------------------------------------------------

    def _text(self, text: str) -> None:
        if not text:
            return
        if self.message is None or self.message.status is not MessageStatus.IN_PROGRESS:
            # Text after tool calls gets a message of its own, after the tool step, as OpenAI's run steps have it.
            self.flush_text()
            self._open_message()
        self.held += text
        now = time.monotonic()
        if now - self.sent_at >= self.window_s or len(self.held) >= MAX_HELD_CHARS:
            self.flush_text(now)

    def flush_text(self, now: float | None = None) -> None:
        """Send the held text as one `thread.message.delta` (with the annotations it completes)."""
        if not self.held:
            return
        text, self.held = self.held, ""
        self.sent_at = time.monotonic() if now is None else now
        assert self.message is not None
        part: JSON = {"index": len(self.message_images), "type": "text", "text": {"value": text}}
        if not self.text:
            part["text"]["annotations"] = []
        self.text += text
        cited = self.scanner.scan(self.text) if self.scanner is not None else []
        cited += self._new_links()
        if cited:
            # One numbering for all of the message's annotations, citations and file links alike: the SDK merges
            # annotation deltas by `index`, and refuses one without it.
            for offset, annotation in enumerate(cited):
                annotation["index"] = self.annotated + offset
            self.annotated += len(cited)
            part["text"]["annotations"] = cited
        self._emit(
            "thread.message.delta",
            {"id": self.message.id, "object": "thread.message.delta", "delta": {"content": [part]}},
        )

    def ensure_message(self) -> None:
        """An answer with no text still creates its (empty) message, as clients expect one per completed run."""
        if self.message is None:
            self._open_message()

    def _open_message(self) -> None:
        self.text = ""
        self.scanner = self.citations.scanner() if self.citations else None
        self.annotated = 0
        now = now_s()
        run = self.run
        self.message = Message(
            id=new_id("msg_"),
            created_at=now,
            thread_id=run.thread_id,
            role="assistant",
            status=MessageStatus.IN_PROGRESS,
            completed_at=None,
            assistant_id=run.assistant_id,
            run_id=run.id,
            content=[],
        )
        self.message_step = self._new_step(
            "message_creation", {"type": "message_creation", "message_creation": {"message_id": self.message.id}}
        )
        change = self._step_opened(self.message_step)
        change.new_messages.append(self.message)
        change.fields["open_message"] = self.message.id
        change.events += [
            ("thread.message.created", self.message.wire()),
            ("thread.message.in_progress", self.message.wire()),
        ]
        self._commit(change)
        self.message_images, self.images, self.linked = self.images, [], set()
        if self.message_images:
            parts = [{"index": i, **part} for i, part in enumerate(_image_parts(self.message_images))]
            delta = {"id": self.message.id, "object": "thread.message.delta", "delta": {"content": parts}}
            self._emit("thread.message.delta", delta)

    def close_message(self, status: MessageStatus, reason: str | None = None) -> Change:
        """The change that finishes the open message and its step (the caller commits it)."""
        self.flush_text()
        assert self.message is not None and self.message_step is not None
        now = now_s()
        update: dict[str, object] = {"status": status, "content": self._content()}
        if status is MessageStatus.COMPLETED:
            update["completed_at"] = now
        else:
            update.update(incomplete_at=now, incomplete_details={"reason": reason})
        self.message = self.message.model_copy(update=update)
        self.message_step = self.message_step.model_copy(
            update={
                "status": StepStatus.COMPLETED,
                "completed_at": now,
                "usage": self.finish.usage if self.finish and self.tool_step is None else None,
            }
        )
        change = Change(docs=[self.message, self.message_step], fields={"open_message": "", "open_step": ""})
        change.events += [
            (f"thread.message.{status.value}", self.message.wire()),
            ("thread.run.step.completed", self.message_step.wire()),
        ]
        return change

    def _content(self) -> list[JSON]:
        annotations = self.citations.annotations(self.text) if self.citations else []
        annotations += file_path_annotations(self.text, self.links)
        annotations.sort(key=lambda a: a["start_index"])
        text: JSON = {"type": "text", "text": {"value": self.text, "annotations": annotations}}
        return [*_image_parts(self.message_images), text]

    def _new_links(self) -> list[JSON]:
        """`file_path` annotations for session file links completed in the open message since the last delta."""
        fresh = [a for a in file_path_annotations(self.text, self.links) if a["start_index"] not in self.linked]
        self.linked.update(a["start_index"] for a in fresh)
        return fresh

    # -- tool calls ------------------------------------------------------------------------------------------

    def _tool_call(self, piece: ToolCallPiece) -> None:
        if self.message is not None and self.message.status is MessageStatus.IN_PROGRESS:
            self._commit(self.close_message(MessageStatus.COMPLETED))
        if self.tool_step is None:
            self.tool_step = self._new_step("tool_calls", {"type": "tool_calls", "tool_calls": []})
            self._commit(self._step_opened(self.tool_step))
        call = self.calls.get(piece.index)
        if call is None:
            pending = self.unnamed.pop(piece.index, None)
            if pending is not None:
                piece = ToolCallPiece(piece.index, piece.name, pending.arguments + piece.arguments)
            if piece.name is None:
                self.unnamed[piece.index] = piece
                return
            index = len(self.calls)
            call = Call(index=index, id=new_id("call_"), name=piece.name, type=call_type(piece.name, self.run.tools))
            self.calls[piece.index] = call
            self._emit_call(call, _call_header(call))
        call.arguments += piece.arguments
        if call.type == "function" and piece.arguments:
            self._emit_call(call, {"index": call.index, "type": "function", "function": {"arguments": piece.arguments}})
        elif call.type == "code_interpreter" and piece.arguments:
            self._stream_input(call, call.partial_argument())

    def _flush_server_inputs(self) -> None:
        """What is left of each code input once its call is complete (all of it, from a model that sends whole
        calls)."""
        for call in self.calls.values():
            if call.type == "code_interpreter":
                self._stream_input(call, call.server_argument())

    def _stream_input(self, call: Call, code: str) -> None:
        """Send the part of `code` not sent yet as an `input` delta; the deltas concatenate to the call's input."""
        if len(code) <= len(call.streamed) or not code.startswith(call.streamed):
            return  # nothing new, or arguments that are not JSON after all: the step keeps the raw input
        delta, call.streamed = code[len(call.streamed) :], code
        self._emit_call(call, {"index": call.index, "type": "code_interpreter", "code_interpreter": {"input": delta}})

    def step_tool_calls(self) -> list[JSON]:
        """The tool calls as stored on the step (server calls without outputs yet)."""
        stored: list[JSON] = []
        for call in sorted(self.calls.values(), key=lambda c: c.index):
            if call.type == "function":
                stored.append(
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.arguments, "output": None},
                    }
                )
            elif call.type == "code_interpreter":
                stored.append(
                    {
                        "id": call.id,
                        "type": "code_interpreter",
                        "code_interpreter": {"input": call.server_argument(), "outputs": []},
                    }
                )
            else:
                stored.append({"id": call.id, "type": call.type, call.type: {"query": call.server_argument()}})
        return stored

    # -- plumbing --------------------------------------------------------------------------------------------

    def _new_step(self, kind: str, details: JSON) -> RunStep:
        run = self.run
        return RunStep(
            id=new_id("step_"),
            created_at=now_s(),
            run_id=run.id,
            assistant_id=run.assistant_id,
            thread_id=run.thread_id,
            type=kind,
            step_details=details,
        )

    def _step_opened(self, step: RunStep) -> Change:
        change = Change(new_steps=[step], fields={"open_step": step.id, f"turn_of:{step.id}": str(self.number)})
        change.events += [("thread.run.step.created", step.wire()), ("thread.run.step.in_progress", step.wire())]
        return change

    def _emit_call(self, call: Call, entry: JSON) -> None:
        assert self.tool_step is not None
        self._emit(
            "thread.run.step.delta",
            {
                "id": self.tool_step.id,
                "object": "thread.run.step.delta",
                "delta": {"step_details": {"type": "tool_calls", "tool_calls": [entry]}},
            },
        )

    def _emit(self, name: str, data: JSON) -> None:
        self.ledger.emit([(name, data)], holder=self.holder)
        if self.first_turn:
            self.first_turn = False
            observe.first_token(self.created_s)

    def _commit(self, change: Change) -> None:
        change.guards.update({"status": ("in_progress",), "holder": (self.holder,)})
        self.ledger.commit(None, None, change)


def _call_header(call: Call) -> JSON:
    if call.type == "function":
        return {
            "index": call.index,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": "", "output": None},
        }
    if call.type == "code_interpreter":
        return {
            "index": call.index,
            "id": call.id,
            "type": "code_interpreter",
            "code_interpreter": {"input": "", "outputs": []},
        }
    return {"index": call.index, "id": call.id, "type": call.type, call.type: {}}


def _image_parts(file_ids: list[str]) -> list[JSON]:
    return [{"type": "image_file", "image_file": {"file_id": file_id}} for file_id in file_ids]

"""Data shapes of the OpenAI stand-in: recorded requests and the wire format it answers.

``ChatRequest`` / ``SpeechRequest`` wrap recorded JSON bodies with shortcuts; the
``*_chunks`` / ``completion`` builders produce ``chat.completion.chunk`` SSE payloads
and non-streaming ``chat.completion`` bodies, including tool calls.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ChatRequest",
    "Failure",
    "RecordedRequest",
    "SpeechRequest",
    "ToolCall",
    "completion",
    "stream_chunks",
]

TTS_SAMPLE_RATE = 24000


def text_of(content: Any) -> str:
    """Text of a chat message ``content``: a string or a list of typed parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


@dataclass
class RecordedRequest:
    method: str
    path: str
    body: Any
    authorization_present: bool
    received_at: float = field(default_factory=time.monotonic)
    """`time.monotonic()` when the request reached the handler, before its body was read."""


@dataclass
class ChatRequest:
    """One ``POST /chat/completions`` body, with shortcuts into it."""

    body: dict
    received_at: float = field(default_factory=time.monotonic)
    """``time.monotonic()`` when the request arrived."""

    @property
    def model(self) -> str:
        return self.body.get("model", "")

    @property
    def messages(self) -> list[dict]:
        return self.body.get("messages", [])

    @property
    def system(self) -> str | None:
        """Text of the first system (or developer) message, i.e. the agent's instructions."""
        for m in self.messages:
            if m.get("role") in ("system", "developer"):
                return text_of(m.get("content"))
        return None

    @property
    def user_texts(self) -> list[str]:
        return [text_of(m.get("content")) for m in self.messages if m.get("role") == "user"]

    @property
    def last_user_text(self) -> str | None:
        texts = self.user_texts
        return texts[-1] if texts else None

    @property
    def tool_names(self) -> list[str]:
        return [t.get("function", {}).get("name", "") for t in self.body.get("tools", []) or []]

    @property
    def tool_results(self) -> list[dict]:
        return [m for m in self.messages if m.get("role") == "tool"]


@dataclass
class SpeechRequest:
    body: dict
    audio_bytes: int = 0
    received_at: float = field(default_factory=time.monotonic)
    """``time.monotonic()`` when the request arrived."""

    @property
    def input(self) -> str:
        return self.body.get("input", "")

    @property
    def voice(self) -> str:
        return self.body.get("voice", "")


@dataclass
class ToolCall:
    name: str
    arguments: dict
    call_id: str = field(default_factory=lambda: f"call_{uuid.uuid4().hex[:12]}")


Reply = str | list[ToolCall]


@dataclass(frozen=True)
class Failure:
    """A scripted failure of one request: an HTTP error, no answer, or a broken stream."""

    status: int = 500
    message: str = "scripted failure"
    hang_s: float | None = None
    """Accept the request and answer nothing for this long (the client's timeout decides)."""
    broken_after: str | None = None
    """Answer 200 and stream this text, then a line that is not JSON, then end (no [DONE])."""


def request_id_header() -> dict[str, str]:
    return {"x-request-id": f"req_{uuid.uuid4().hex}"}


def _chunk(req: ChatRequest, cid: str, choices: list[dict], **extra: Any) -> dict:
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": req.model or "gpt-standin",
        "system_fingerprint": "fp_standin",
        "choices": choices,
        **extra,
    }


def stream_chunks(req: ChatRequest, reply: Reply) -> list[dict]:
    cid = f"chatcmpl-{uuid.uuid4().hex[:16]}"
    chunks: list[dict] = []
    if isinstance(reply, str):
        pieces = [w + " " for w in reply.split(" ")]
        pieces[-1] = pieces[-1][:-1]
        for i, piece in enumerate(pieces):
            delta: dict = {"content": piece}
            if i == 0:
                delta["role"] = "assistant"
            chunks.append(_chunk(req, cid, [{"index": 0, "delta": delta, "finish_reason": None}]))
        finish = "stop"
        completion_tokens = len(pieces)
    else:
        for idx, call in enumerate(reply):
            args = json.dumps(call.arguments)
            head = {
                "index": idx,
                "id": call.call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            delta = {"role": "assistant", "content": None, "tool_calls": [head]}
            chunks.append(_chunk(req, cid, [{"index": 0, "delta": delta, "finish_reason": None}]))
            half = len(args) // 2
            for part in (args[:half], args[half:]):
                delta = {"tool_calls": [{"index": idx, "function": {"arguments": part}}]}
                chunks.append(
                    _chunk(req, cid, [{"index": 0, "delta": delta, "finish_reason": None}])
                )
        finish = "tool_calls"
        completion_tokens = 5 * len(reply)
    chunks.append(_chunk(req, cid, [{"index": 0, "delta": {}, "finish_reason": finish}]))
    prompt_tokens = sum(len(text_of(m.get("content")).split()) for m in req.messages)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    chunks.append(_chunk(req, cid, [], usage=usage))
    return chunks


def completion(req: ChatRequest, reply: Reply) -> dict:
    """Non-streaming answer (the plugins stream; kept for other OpenAI clients)."""
    message: dict = {"role": "assistant", "content": reply if isinstance(reply, str) else None}
    if not isinstance(reply, str):
        message["tool_calls"] = [
            {
                "id": c.call_id,
                "type": "function",
                "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
            }
            for c in reply
        ]
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:16]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": req.model or "gpt-standin",
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "stop" if isinstance(reply, str) else "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }

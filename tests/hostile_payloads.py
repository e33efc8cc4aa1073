"""A seeded stream of hostile participant metadata, for the long payload run and its CI sample.

Hypothesis explores; this generator is for volume: one `random.Random(seed)`, so a run of a
million payloads is repeatable from its seed and fast enough to finish in minutes. Each payload
carries its kind and, where the generator knows it independently of the parser, that the whole
document must be refused (`whole_rejected`). Kinds: valid changes (so the state keeps moving),
wrong types, values near and past the bounds and in the other unit, NaN and infinities, huge
integers, deep nesting, duplicate keys, lone surrogates, operator-only fields, random Unicode,
non-objects, bytes, broken and oversized JSON, bad instructions and profiles, min above max, and
objects mixing several of these. Documents are sent as JSON text, as bytes, or already decoded.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tests.strategies import (
    ALIASES_OF,
    BOOL_FIELDS,
    INT_FIELDS,
    LITERAL_FIELDS,
    NUMBER_FIELDS,
    ge,
    info,
    is_optional,
    le,
)
from voice_settings.json_input import MAX_DEPTH, MAX_METADATA_BYTES
from voice_settings.model import OPERATOR_FIELDS, PARTICIPANT_FIELDS

PROFILES = ("default", "patient", "snappy", "dictation")
SETTABLE = tuple(sorted(PARTICIPANT_FIELDS))
APP_KEYS = ("theme", "userName", "plan", "locale")
_PADDING = "p" * MAX_METADATA_BYTES
_TOO_LONG = "x" * 8001  # instructions: 8000 characters at most
_RANGES = [(0x20, 0x7E), (0x0, 0x1F), (0x80, 0x2FF), (0x590, 0x6FF), (0x4E00, 0x4FFF),
           (0xD800, 0xDFFF), (0xFFF0, 0xFFFF), (0x1F600, 0x1F64F), (0x10FFF0, 0x10FFFF)]
"""Code points of random text: ASCII, controls, Latin, Hebrew and Arabic, CJK, lone
surrogates, specials, emoji, the last plane."""


@dataclass(frozen=True)
class Payload:
    kind: str
    value: Any
    whole_rejected: bool = False
    """True when the generator built something the rules refuse whole (not the parser's say)."""


class HostilePayloads:
    """`for payload in HostilePayloads(seed).take(n)`: n payloads, the same for the same seed."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.version = 0  # valid instructions are numbered, so their order can be followed
        # (kind, weight, builder): a builder returns a Payload, or a document that `_object`
        # sends as text, bytes or decoded.
        self.kinds: list[tuple[str, int, Callable[[], Payload | dict[str, Any]]]] = [
            ("valid", 12, self.valid_document),
            ("wrong_type", 8, lambda: self._field(self._wrong_type)),
            ("out_of_range", 8, lambda: self._field(self._out_of_range)),
            ("unit_mixup", 6, lambda: self._field(self._unit_mixup)),
            ("nan_infinity", 5, self._nan_infinity),
            ("huge_int", 4, self._huge_int),
            ("deep_nesting", 3, self._deep_nesting),
            ("duplicate_keys", 4, self._duplicate_keys),
            ("lone_surrogate", 6, self._lone_surrogate),
            ("operator_only", 5, self._operator_only),
            ("random_unicode", 8, self._random_unicode),
            ("non_object", 6, self._non_object),
            ("bytes", 5, self._bytes),
            ("broken_json", 5, self._broken_json),
            ("oversized", 1, self._oversized),
            ("instructions", 6, self._instructions),
            ("profile", 5, self._profile),
            ("min_above_max", 4, self._min_above_max),
            ("mixed", 10, self._mixed),
        ]
        self._names = [k for k, _, _ in self.kinds]
        self._weights = [w for _, w, _ in self.kinds]
        self._builders = {k: b for k, _, b in self.kinds}

    def take(self, count: int) -> Iterator[Payload]:
        for _ in range(count):
            yield self.next()

    def next(self) -> Payload:
        kind = self.rng.choices(self._names, self._weights)[0]
        built = self._builders[kind]()
        return built if isinstance(built, Payload) else self._object(kind, built)

    # --- valid values ------------------------------------------------------------------------
    def valid_value(self, field: str) -> Any:
        rng = self.rng
        if field in NUMBER_FIELDS:
            if is_optional(field) and rng.random() < 0.15:
                return rng.choice([None, "off", "OFF"])
            low, high = ge(field), le(field)
            return rng.randint(low, high) if field in INT_FIELDS else rng.uniform(low, high)
        if field in BOOL_FIELDS:
            return rng.random() < 0.5
        if field in LITERAL_FIELDS:
            return rng.choice(info(field).annotation.__args__)
        if field == "instructions":
            self.version += 1
            return f"Version {self.version}. " + self._text(rng.randint(0, 40), printable=True)
        if field == "greeting":
            return self._text(rng.randint(0, 60), printable=True)
        if field == "profile":
            return rng.choice(PROFILES)
        return rng.choice(["app-1", "support.bot", "team/42", "a@b:c"])  # assistant_id

    def valid_document(self) -> dict[str, Any]:
        fields = self.rng.sample(SETTABLE, self.rng.randint(1, 6))
        document = {self._spelling(f): self.valid_value(f) for f in fields}
        low, high = "min_endpointing_delay", "max_endpointing_delay"
        names = {ALIASES_OF[low][0]: low, ALIASES_OF[high][0]: high}
        given = {names.get(k, k): v for k, v in document.items()}
        if low in given and high in given and given[low] > given[high]:
            document = {k: v for k, v in document.items() if names.get(k) != low}
        if self.rng.random() < 0.3:
            document[self.rng.choice(APP_KEYS)] = self._text(5, printable=True)
        return document

    # --- field-level trouble -------------------------------------------------------------------
    def _field(self, bad: Callable[[str], Any]) -> dict[str, Any]:
        """A bad value for one field (a number field, except for wrong types), maybe beside
        valid ones."""
        fields = SETTABLE if bad == self._wrong_type else NUMBER_FIELDS
        field = self.rng.choice(fields)
        document = self.valid_document() if self.rng.random() < 0.5 else {}
        document[self._spelling(field)] = bad(field)
        return document

    def _wrong_type(self, field: str) -> Any:
        rng = self.rng
        options: list[Any] = [True, False, [], {}, [1, 2], {"value": 3}, "", " ", "null",
                              "true", rng.randint(-5, 5), rng.random(), "text"]
        if field in NUMBER_FIELDS:
            options += ["300", "0.5", "0x1F", "1e3", str(rng.randint(0, 9000))]
        if not is_optional(field):
            options.append(None)
        value = rng.choice(options)
        return self._text(8) if value == "text" else value

    def _out_of_range(self, field: str) -> Any:
        low, high = ge(field), le(field)
        return self.rng.choice([low - 1, high + 1, low - 0.001, high + 0.001, -high,
                                high * 1000, -(10 ** self.rng.randint(3, 18)), 2**63, -0.0001])

    def _unit_mixup(self, field: str) -> Any:
        low, high = ge(field), le(field)
        middle = (low + high) / 2
        return self.rng.choice([middle * 1000, middle / 1000, high * 1000, (low + 1) * 1000,
                                round(middle / 1000, 3), 1500, 0.3, 300.5])

    # --- documents the rules refuse whole ------------------------------------------------------
    def _nan_infinity(self) -> Payload:
        key = self._spelling(self.rng.choice(NUMBER_FIELDS))
        literal = self.rng.choice(["NaN", "Infinity", "-Infinity"])
        text = f'{{"{key}": {literal}}}'
        if self.rng.random() < 0.5:  # 1e999 is a valid JSON number that reads as infinity
            return self._object("nan_infinity", {key: float(self.rng.choice(["inf", "nan"]))})
        return Payload("nan_infinity", text, whole_rejected=True)

    def _huge_int(self) -> Payload:
        key = self._spelling(self.rng.choice(NUMBER_FIELDS + ("greeting", "instructions")))
        digits = self.rng.choice([19, 20, 40, 400, 4299, 4301, 6000])
        if self.rng.random() < 0.5:
            return Payload("huge_int", f'{{"{key}": {"9" * digits}}}', whole_rejected=digits > 4300)
        return Payload("huge_int", {key: 10 ** digits})  # already decoded: no digit limit

    def _deep_nesting(self) -> Payload:
        depth = self.rng.choice([MAX_DEPTH - 1, MAX_DEPTH + 1, 200, 1000, 30_000])
        key = self._spelling(self.rng.choice(SETTABLE))
        opener, closer = self.rng.choice([("[", "]"), ('{"a":', "}")])
        text = f'{{"{key}": {opener * depth}1{closer * depth}}}'
        return Payload("deep_nesting", text, whole_rejected=depth + 1 > MAX_DEPTH)

    def _duplicate_keys(self) -> Payload:
        field = self.rng.choice(SETTABLE)
        key = self._spelling(field)
        first, second = self.valid_value(field), self.valid_value(field)
        if self.rng.random() < 0.5:  # the same key twice: ambiguous, refused whole
            text = f"{{{json.dumps(key)}: {json.dumps(first)}, {json.dumps(key)}: " \
                   f"{json.dumps(second)}}}"
            return Payload("duplicate_keys", text, whole_rejected=True)
        spellings = ALIASES_OF[field]  # two spellings of one field: the canonical one wins
        return self._object("duplicate_keys", {s: self.valid_value(field) for s in spellings})

    def _lone_surrogate(self) -> Payload:
        rng = self.rng
        surrogate = chr(rng.randint(0xD800, 0xDFFF))
        field = rng.choice(SETTABLE)
        where = rng.randrange(3)
        if where == 0:  # escaped in JSON text: refused whole
            escaped = json.dumps(f"x{surrogate}y")
            return Payload("lone_surrogate", f'{{"{self._spelling(field)}": {escaped}}}',
                           whole_rejected=True)
        if where == 1:  # a raw surrogate in a Python str: not UTF-8 at all
            text = f'{{"{self._spelling(field)}": "a{surrogate}b"}}'
            return Payload("lone_surrogate", text, whole_rejected=True)
        document = {self._spelling(field): f"v{surrogate}", f"k{surrogate}": 1}
        return Payload("lone_surrogate", document)  # already decoded: field-level

    def _non_object(self) -> Payload:
        rng = self.rng
        choice = rng.randrange(4)
        if choice == 0:
            text = json.dumps(rng.choice([[], [1, 2], "text", 3, 2.5, True, None,
                                          [{"endpointing_ms": 300}]]))
            return Payload("non_object", text, whole_rejected=True)
        if choice == 1:
            value = rng.choice([3, 2.5, True, [1], (1, 2), {1, 2}, object(), 10**30, float("nan")])
            return Payload("non_object", value, whole_rejected=True)
        if choice == 2:
            text = self._text(rng.randint(1, 30))  # blank text reads as {}
            return Payload("non_object", text, whole_rejected=bool(text.strip())
                           and not text.strip().startswith("{"))
        return Payload("non_object", rng.choice(["", "   ", None, b"", "\n"]))  # reads as {}

    def _bytes(self) -> Payload:
        rng = self.rng
        if rng.random() < 0.5:
            document = json.dumps(self.valid_document()).encode()
            wrap = rng.choice([bytes, bytearray, memoryview])
            return Payload("bytes", wrap(document))
        raw = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 40)))
        return Payload("bytes", rng.choice([raw, b"\xc3\x28", b"\xff\xfe{}", raw + b"\x80"]))

    def _broken_json(self) -> Payload:
        text = json.dumps(self.valid_document())
        rng = self.rng
        broken = rng.choice([text[: rng.randint(1, len(text) - 1)], text + "}", text + "\x00",
                             "{" + text, text.replace('"', "'"), text + ", {}",
                             text.replace(":", "", 1)])
        return Payload("broken_json", broken, whole_rejected=True)

    def _oversized(self) -> Payload:
        document = self.valid_document()
        document["padding"] = _PADDING[: MAX_METADATA_BYTES - self.rng.randint(0, 20)]
        text = json.dumps(document)
        return Payload("oversized", text.encode() if self.rng.random() < 0.5 else text,
                       whole_rejected=len(text.encode()) > MAX_METADATA_BYTES)

    # --- particular fields -----------------------------------------------------------------------
    def _operator_only(self) -> dict[str, Any]:
        document = self.valid_document() if self.rng.random() < 0.5 else {}
        for field in self.rng.sample(sorted(OPERATOR_FIELDS), self.rng.randint(1, 3)):
            document[self._spelling(field)] = self.rng.choice(
                ["gpt-4o", "nova-2", "de", "nova", "tts-1", "x" * 200, 5, None])
        return document

    def _random_unicode(self) -> Payload:
        rng = self.rng
        if rng.random() < 0.3:
            return Payload("random_unicode", self._text(rng.randint(0, 50)))
        document = {self._text(rng.randint(0, 8)): self._text(rng.randint(0, 20))
                    for _ in range(rng.randint(1, 4))}
        document[self._spelling(rng.choice(SETTABLE))] = self._text(rng.randint(0, 30))
        return self._object("random_unicode", document)

    def _instructions(self) -> dict[str, Any]:
        rng = self.rng
        bad = rng.choice(["", " \n\t ", "\u3000\u2028", _TOO_LONG, 42, None, ["a"],
                          {"text": "a"}, "random"])
        bad = self._text(20) if bad == "random" else bad
        key = rng.choice(ALIASES_OF["instructions"])
        return {key: bad if rng.random() < 0.7 else self.valid_value("instructions")}

    def _profile(self) -> dict[str, Any]:
        rng = self.rng
        name = rng.choice([*PROFILES, "Patient", "unknown", "../etc/passwd", "", " ", "a" * 65,
                           None, 3, "default ", "snappy\n", "random"])
        name = self._text(6) if name == "random" else name
        document = {"profile": name}
        if rng.random() < 0.5:
            document["assistantId"] = rng.choice(["ok-id", "", "bad id", "x" * 200, 7])
        return document

    def _min_above_max(self) -> dict[str, Any]:
        low = self.rng.uniform(0.2, 5.0)
        high = self.rng.uniform(0.2, low)
        document = {self._spelling("min_endpointing_delay"): low}
        if self.rng.random() < 0.6:  # from one source: both refused; else against the previous
            document[self._spelling("max_endpointing_delay")] = high
        return document

    def _mixed(self) -> dict[str, Any]:
        document: dict[str, Any] = {}
        for kind in self.rng.sample(["wrong_type", "out_of_range", "unit_mixup", "operator_only",
                                     "instructions", "profile", "min_above_max", "valid"], 3):
            document.update(self._builders[kind]())
        return document

    # --- helpers ---------------------------------------------------------------------------
    def _spelling(self, field: str) -> str:
        return self.rng.choice(ALIASES_OF[field])

    def _text(self, length: int, printable: bool = False) -> str:
        rng = self.rng
        if printable:
            return "".join(rng.choices("abcdefghij klmnop.,?!éß中😀", k=length))
        return "".join(chr(low + int(rng.random() * (high - low + 1)))
                       for low, high in rng.choices(_RANGES, k=length))

    def _object(self, kind: str, document: dict[str, Any]) -> Payload:
        """Send a document as JSON text (sometimes ASCII-escaped), as UTF-8 bytes, or decoded."""
        how = self.rng.random()
        if how < 0.2:
            return Payload(kind, document)
        try:
            text = json.dumps(document, ensure_ascii=self.rng.random() < 0.3)
        except (ValueError, RecursionError):
            return Payload(kind, document)
        if how < 0.35:
            try:
                return Payload(kind, text.encode("utf-8"))
            except UnicodeEncodeError:  # a raw lone surrogate: bytes cannot carry it
                return Payload(kind, text)
        return Payload(kind, text)

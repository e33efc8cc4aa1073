"""Listening mode of the Deepgram stand-in: transcripts that follow the audio received.

Speech is detected with the energy measure of ``speech/audio.py``: each 10 ms frame of
the linear16 audio is voiced when its RMS level is at least ``threshold_dbfs`` (default
-50 dBFS). A silence shorter than ``MIN_SILENCE_S`` (100 ms) stays inside speech (stop
consonants); a longer one ends a stretch of speech. Everything is clocked by the audio
(seconds received on the connection), not by the wall clock, as Deepgram's VAD is.

What is sent, following Deepgram's documentation of endpointing:

* ``SpeechStarted`` (``vad_events=true``) at the first voiced frame of a segment (speech
  while no words are waiting to be finalized).
* interim ``Results`` (``interim_results=true``) every ``INTERIM_INTERVAL_S`` of speech,
  carrying the words heard so far: a growing prefix of the current word group.
* a final ``Results`` with ``is_final`` and ``speech_final`` true once the silence after
  speech reaches ``endpointing`` ms (at least ``MIN_SILENCE_S``; Deepgram's default 10 ms
  when the query does not say). With ``endpointing=false`` each stretch of speech is
  finalized when it ends (``is_final`` true, ``speech_final`` false).
* ``UtteranceEnd`` once ``utterance_end_ms`` of silence followed the last word.
* ``Finalize`` sends what is pending as a final with ``from_finalize`` true;
  ``CloseStream`` sends it as a final before the ``Metadata``.

Recognition is NOT modelled: the words come from a script. Each stretch of speech takes
the next expected word group (:meth:`DeepgramStandIn.expect_words`); speech with none
left gets an empty transcript, as noise does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .deepgram_wire import (
    results_message,
    speech_started_message,
    utterance_end_message,
    word_entries,
)
from .speech.audio import FRAME_S, MIN_SILENCE_S, SPEECH_THRESHOLD_DBFS, frame_level_dbfs

__all__ = ["HeardGroup", "ListenOptions", "Listener", "Outgoing"]

INTERIM_INTERVAL_S = 0.3
DEFAULT_ENDPOINTING_S = 0.010  # Deepgram's default
SECONDS_PER_WORD = 0.3  # pace of interim words when a group's duration is not known

Outgoing = tuple[dict, float]  # (message, audio time in seconds when it is due)
NextWords = Callable[[], "tuple[str, float | None] | None"]


@dataclass(frozen=True)
class ListenOptions:
    """The query parameters that shape the transcripts (already checked at the handshake)."""

    endpointing_s: float | None  # None: endpointing=false
    utterance_end_s: float | None
    interim_results: bool
    vad_events: bool
    sample_rate: int
    channels: int

    @classmethod
    def from_params(cls, params: dict[str, str]) -> ListenOptions:
        endpointing = params.get("endpointing")
        utterance_end = params.get("utterance_end_ms")
        return cls(
            endpointing_s=(None if endpointing == "false" else
                           DEFAULT_ENDPOINTING_S if endpointing is None else
                           int(endpointing) / 1000),
            utterance_end_s=int(utterance_end) / 1000 if utterance_end else None,
            interim_results=params.get("interim_results") == "true",
            vad_events=params.get("vad_events") == "true",
            sample_rate=int(params.get("sample_rate", "16000")),
            channels=int(params.get("channels", "1")),
        )


@dataclass
class HeardGroup:
    """One stretch of speech heard on the connection and the words it was given."""

    text: str
    start_s: float  # audio time of its first voiced frame
    end_s: float  # audio time of the end of its last voiced frame so far
    expected_duration_s: float | None = None

    def words_after(self, elapsed_s: float) -> str:
        """The prefix of ``text`` an interim result shows ``elapsed_s`` into the speech."""
        words = self.text.split()
        expected = self.expected_duration_s or SECONDS_PER_WORD * len(words)
        shown = math.ceil(len(words) * elapsed_s / expected) if expected > 0 else len(words)
        return " ".join(words[: min(max(shown, 1), len(words))])


class Listener:
    """Turns one connection's audio into Deepgram messages; see the module docstring."""

    def __init__(
        self,
        options: ListenOptions,
        *,
        next_words: NextWords,
        request_id: str,
        model: str = "",
        threshold_dbfs: float = SPEECH_THRESHOLD_DBFS,
    ) -> None:
        self.options = options
        self.threshold_dbfs = threshold_dbfs
        self.heard: list[HeardGroup] = []  # every stretch of speech, in order
        self._next_words = next_words
        self._request_id, self._model = request_id, model
        self._frame_bytes = round(options.sample_rate * FRAME_S) * 2 * options.channels
        self._buffer = b""
        self._frames = 0
        self._in_speech = False
        self._last_voice_end: float | None = None
        self._pending: list[HeardGroup] = []  # heard, not finalized yet
        self._current: HeardGroup | None = None  # the stretch of speech going on
        self._last_interim_s = 0.0
        self._words_since_utterance_end = False

    @property
    def audio_s(self) -> float:
        """Seconds of audio processed (whole 10 ms frames)."""
        return round(self._frames * FRAME_S, 3)

    @property
    def endpoint_silence_s(self) -> float | None:
        """Silence that ends an utterance: ``endpointing``, at least ``MIN_SILENCE_S``."""
        ep = self.options.endpointing_s
        return None if ep is None else max(ep, MIN_SILENCE_S)

    def feed(self, data: bytes) -> list[Outgoing]:
        """Process received audio (any chunking); return the messages it triggers."""
        out: list[Outgoing] = []
        self._buffer += data
        whole = len(self._buffer) - len(self._buffer) % self._frame_bytes
        chunk, self._buffer = self._buffer[:whole], self._buffer[whole:]
        samples = np.frombuffer(chunk, dtype="<i2").reshape(-1, self.options.channels)
        per_frame = self._frame_bytes // (2 * self.options.channels)
        for first in range(0, len(samples), per_frame):
            frame = samples[first : first + per_frame].mean(axis=1)
            self._frames += 1
            if frame_level_dbfs(frame) >= self.threshold_dbfs:
                self._voiced(out)
            else:
                self._unvoiced(out)
        return out

    def finalize(self) -> list[Outgoing]:
        """``Finalize``: send a final of what is pending now (``from_finalize`` true)."""
        return [self._final(speech_final=False, from_finalize=True)]

    def close(self) -> list[Outgoing]:
        """``CloseStream``: finalize what is pending before the stream's ``Metadata``."""
        return [self._final(speech_final=False)] if self._pending else []

    # -- per frame -------------------------------------------------------------------

    def _voiced(self, out: list[Outgoing]) -> None:
        start, end = round(self.audio_s - FRAME_S, 3), round(self.audio_s, 3)
        if not self._in_speech:
            self._in_speech = True
            if not self._pending and self.options.vad_events:
                out.append((speech_started_message(start), end))
            text, duration = self._next_words() or ("", None)
            self._current = HeardGroup(text, start, end, duration)
            self.heard.append(self._current)
            self._pending.append(self._current)
            self._last_interim_s = start
            self._words_since_utterance_end |= bool(text)
        self._last_voice_end = end
        if self._current is not None:
            self._current.end_s = end
        if self.options.interim_results and end - self._last_interim_s >= INTERIM_INTERVAL_S:
            self._last_interim_s = end
            if self._pending:
                out.append((self._results(is_final=False, speech_final=False), end))

    def _unvoiced(self, out: list[Outgoing]) -> None:
        if self._last_voice_end is None:
            return
        now = self.audio_s
        silence = now - self._last_voice_end
        if self._in_speech and silence >= MIN_SILENCE_S - 1e-9:
            self._in_speech, self._current = False, None
            if self.options.endpointing_s is None and self._pending:
                out.append(self._final(speech_final=False))
        endpoint = self.endpoint_silence_s
        if endpoint is not None and self._pending and silence >= endpoint - 1e-9:
            out.append(self._final(speech_final=True))
        ue = self.options.utterance_end_s
        if ue is not None and self._words_since_utterance_end and silence >= ue - 1e-9:
            self._words_since_utterance_end = False
            out.append((utterance_end_message(self._last_voice_end), now))

    # -- messages --------------------------------------------------------------------

    def _final(self, *, speech_final: bool, from_finalize: bool = False) -> Outgoing:
        message = self._results(is_final=True, speech_final=speech_final,
                                from_finalize=from_finalize)
        self._pending = []
        if self._current is not None:  # Finalize mid-speech: the rest gets no words
            self._current = None
        return message, self.audio_s

    def _results(self, *, is_final: bool, speech_final: bool, from_finalize: bool = False) -> dict:
        texts, words = [], []
        for group in self._pending:
            if is_final or group is not self._current:
                text = group.text
            else:
                text = group.words_after(group.end_s - group.start_s)
            texts.append(text)
            words += word_entries(text, group.start_s, group.end_s, 0.98)
        start = self._pending[0].start_s if self._pending else self.audio_s
        end = self._pending[-1].end_s if self._pending else self.audio_s
        return results_message(
            request_id=self._request_id, model=self._model,
            transcript=" ".join(t for t in texts if t), words=words, start_s=start,
            end_s=end, is_final=is_final, speech_final=speech_final,
            from_finalize=from_finalize,
        )

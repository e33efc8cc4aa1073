"""Scripted mode of the Deepgram stand-in: utterances queued by a test, gated on audio.

:meth:`queue_utterance` (or ``await standin.say(...)``) queues what the "user" says; the
stand-in answers on the newest open connection the way Deepgram does: ``SpeechStarted``,
an interim ``Results``, a final ``Results`` (``is_final`` and ``speech_final`` true) and,
when the client asked for ``utterance_end_ms``, ``UtteranceEnd``. An utterance goes out
once the connection has received ``audio_gate_bytes`` of audio after it was queued.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ._util import DEFAULT_TIMEOUT
from .deepgram_records import DeepgramConnection, Utterance
from .deepgram_wire import (
    results_message,
    speech_started_message,
    utterance_end_message,
    word_entries,
)

__all__ = ["ScriptedTranscripts"]


class ScriptedTranscripts:
    """The scripted half of :class:`~voice_settings.harness.deepgram.DeepgramStandIn`."""

    audio_gate_bytes: int
    connections: list[DeepgramConnection]
    pending: list[Utterance]
    delivered: list[Utterance]
    _send: Callable[[DeepgramConnection, dict], None]  # records and sends one message

    @property
    def open_connections(self) -> list[DeepgramConnection]:
        return [c for c in self.connections if c.is_open]

    def queue_utterance(
        self, text: str, *, confidence: float = 0.98, interim: bool = True
    ) -> Utterance:
        """Queue a user utterance; it is delivered on the newest open connection."""
        utt = Utterance(text=text, confidence=confidence, interim=interim)
        utt.delivered = asyncio.get_running_loop().create_future()
        self.pending.append(utt)
        utt._queued_on = conn = self._target()
        utt._queued_bytes = conn.audio_bytes if conn else 0
        self._pump()
        return utt

    async def say(
        self, text: str, *, confidence: float = 0.98, timeout: float = DEFAULT_TIMEOUT
    ) -> DeepgramConnection:
        """Queue ``text`` and wait until its final transcript has been sent."""
        utt = self.queue_utterance(text, confidence=confidence)
        assert utt.delivered is not None
        try:
            return await asyncio.wait_for(asyncio.shield(utt.delivered), timeout)
        except TimeoutError:
            raise TimeoutError(
                f"utterance {text!r} not delivered within {timeout}s "
                f"(open connections: {len(self.open_connections)})"
            ) from None

    def _target(self) -> DeepgramConnection | None:
        open_conns = self.open_connections
        return open_conns[-1] if open_conns else None

    def _pump(self) -> None:
        """Send every pending utterance whose connection and audio gate are ready."""
        while self.pending:
            conn = self._target()
            utt = self.pending[0]
            if conn is None:
                return
            # audio must have arrived after the utterance was queued (on a newer
            # connection, counted from its start)
            base = utt._queued_bytes if conn is utt._queued_on else 0
            if conn.audio_bytes < base + self.audio_gate_bytes:
                return
            self.pending.pop(0)
            self._send_utterance(conn, utt)

    def _send_utterance(self, conn: DeepgramConnection, utt: Utterance) -> None:
        n_words = len(utt.text.split())
        end = max(conn.audio_seconds, 0.3 * n_words)
        start = max(end - 0.3 * n_words, 0.0)
        words = word_entries(utt.text, start, end, utt.confidence)

        def results(final: bool) -> dict:
            return results_message(
                request_id=conn.request_id, model=conn.params.get("model", ""),
                transcript=utt.text, words=words, start_s=start, end_s=end,
                is_final=final, speech_final=final, confidence=utt.confidence,
            )

        self._send(conn, speech_started_message(start))
        if utt.interim and conn.params.get("interim_results") == "true":
            self._send(conn, results(False))
        self._send(conn, results(True))
        if "utterance_end_ms" in conn.params:
            self._send(conn, utterance_end_message(end))
        utt.delivered_on = conn
        self.delivered.append(utt)
        if utt.delivered is not None and not utt.delivered.done():
            utt.delivered.set_result(conn)


"""Deepgram's wire format as the stand-in speaks it: the messages it sends, and the handshake
checks Deepgram applies to the query string.
"""

from __future__ import annotations

__all__ = [
    "results_message",
    "speech_started_message",
    "utterance_end_message",
    "validate_params",
    "word_entries",
]


def word_entries(text: str, start_s: float, end_s: float, confidence: float) -> list[dict]:
    """Deepgram ``words`` for ``text``, spread evenly over ``start_s``..``end_s``."""
    words = text.split()
    step = (end_s - start_s) / max(len(words), 1)
    return [
        {
            "word": w.strip(".,!?;:").lower(),
            "punctuated_word": w,
            "start": round(start_s + step * i, 3),
            "end": round(start_s + step * (i + 1), 3),
            "confidence": confidence,
        }
        for i, w in enumerate(words)
    ]


def results_message(
    *,
    request_id: str,
    model: str,
    transcript: str,
    words: list[dict],
    start_s: float,
    end_s: float,
    is_final: bool,
    speech_final: bool,
    from_finalize: bool = False,
    confidence: float = 0.98,
) -> dict:
    return {
        "type": "Results",
        "channel_index": [0, 1],
        "duration": round(end_s - start_s, 3),
        "start": round(start_s, 3),
        "is_final": is_final,
        "speech_final": speech_final,
        "from_finalize": from_finalize,
        "channel": {
            "alternatives": [
                {"transcript": transcript, "confidence": confidence, "words": words}
            ]
        },
        "metadata": {
            "request_id": request_id,
            "model_info": {"name": model, "version": "standin"},
            "model_uuid": "00000000-0000-0000-0000-000000000000",
        },
    }


def speech_started_message(timestamp_s: float) -> dict:
    return {"type": "SpeechStarted", "channel": [0], "timestamp": round(timestamp_s, 3)}


def utterance_end_message(last_word_end_s: float) -> dict:
    return {"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": round(last_word_end_s, 3)}


def validate_params(params: dict[str, str]) -> str | None:
    """Return Deepgram's refusal text for parameters it rejects, or None when accepted."""
    ue = params.get("utterance_end_ms")
    if ue is not None:
        if not ue.isdigit() or int(ue) < 1000:
            return "utterance_end_ms must be an integer >= 1000"
        if params.get("interim_results", "false") != "true":
            return "utterance_end_ms requires interim_results=true"
    ep = params.get("endpointing")
    if ep is not None and ep != "false" and not ep.isdigit():
        return "endpointing must be false or a non-negative integer (milliseconds)"
    for name, low, high in (("sample_rate", 8000, 192000), ("channels", 1, 8)):
        value = params.get(name)
        if value is not None and not (value.isdigit() and low <= int(value) <= high):
            return f"{name} must be an integer from {low} to {high}"
    if params.get("encoding") not in (None, "linear16", "mulaw", "alaw", "opus", "flac"):
        return f"unsupported encoding {params.get('encoding')!r}"
    return None

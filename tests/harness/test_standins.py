"""The stand-ins on their own, driven by the real plugins (no AgentSession)."""

from __future__ import annotations

import asyncio
import contextlib

import numpy as np
import pytest
from livekit import rtc
from livekit.agents import APIConnectOptions, APIStatusError, llm, stt, utils
from livekit.plugins import deepgram, openai

from voice_settings.harness import DeepgramStandIn, OpenAIStandIn

T = 10.0


def _silence(ms: int = 10, rate: int = 16000) -> rtc.AudioFrame:
    n = rate * ms // 1000
    return rtc.AudioFrame(np.zeros(n, dtype=np.int16).tobytes(), rate, 1, n)


async def _feed(stream: stt.RecognizeStream, frames: int) -> None:
    for _ in range(frames):
        stream.push_frame(_silence())
        await asyncio.sleep(0.005)


async def test_deepgram_records_and_transcribes_after_audio() -> None:
    async with DeepgramStandIn() as dg, utils.http_context.open():
        plugin = deepgram.STT(
            base_url=dg.url, api_key="secret-key", endpointing_ms=300, utterance_end_ms=1000
        )
        stream = plugin.stream()
        conn = await dg.wait_for_connection(timeout=T)
        assert conn.params["endpointing"] == "300"
        assert "endpointing=300" in conn.query_string
        assert conn.params["language"] == "en-US"
        assert conn.authorization_present
        assert "secret-key" not in repr(conn)  # the key itself is never kept

        utt = dg.queue_utterance("what's the weather")
        await asyncio.sleep(0.05)
        assert utt.delivered_on is None  # gated: no audio since it was queued
        feeder = asyncio.create_task(_feed(stream, 40))
        events = []
        async for ev in stream:
            events.append(ev)
            if ev.type == stt.SpeechEventType.END_OF_SPEECH:
                break
        await feeder
        types = [e.type for e in events]
        assert types[0] == stt.SpeechEventType.START_OF_SPEECH
        finals = [e for e in events if e.type == stt.SpeechEventType.FINAL_TRANSCRIPT]
        assert [f.alternatives[0].text for f in finals] == ["what's the weather"]
        assert finals[0].request_id == conn.request_id
        assert [m["type"] for m in conn.sent][-1] == "UtteranceEnd"
        assert conn.audio_bytes >= dg.audio_gate_bytes and conn.audio_frames > 0

        await stream.aclose()
        await asyncio.wait_for(_until(lambda: conn.closed), T)
        assert conn.count("CloseStream") == 1
        assert conn.count("KeepAlive") >= 1
        await plugin.aclose()


async def _until(pred) -> None:
    while not pred():
        await asyncio.sleep(0.01)


async def test_deepgram_refuses_short_utterance_end_with_dg_error() -> None:
    async with DeepgramStandIn() as dg, utils.http_context.open():
        plugin = deepgram.STT(base_url=dg.url, api_key="k", utterance_end_ms=500)
        stream = plugin.stream(conn_options=APIConnectOptions(max_retry=0))
        with pytest.raises(APIStatusError) as err:
            async for _ in stream:
                pass
        assert err.value.status_code == 400
        assert dg.connections[0].rejected == "utterance_end_ms must be an integer >= 1000"
        await stream.aclose()
        await plugin.aclose()


async def test_deepgram_say_without_connection_times_out() -> None:
    async with DeepgramStandIn(audio_gate_bytes=0) as dg:
        with pytest.raises(TimeoutError):
            await dg.say("hello", timeout=0.2)


async def test_openai_chat_stream_text_and_usage() -> None:
    async with OpenAIStandIn() as oai:
        plugin = openai.LLM(model="gpt-4o-mini", base_url=oai.base_url, api_key="k")
        ctx = llm.ChatContext()
        ctx.add_message(role="system", content="be brief")
        ctx.add_message(role="user", content="hi there")
        oai.script_reply("Hello from the stand-in.")
        text, usage = "", None
        async with plugin.chat(chat_ctx=ctx) as stream:
            async for chunk in stream:
                if chunk.delta and chunk.delta.content:
                    text += chunk.delta.content
                usage = chunk.usage or usage
        assert text == "Hello from the stand-in."
        assert usage is not None and usage.completion_tokens > 0
        req = oai.chat_requests[0]
        assert req.system == "be brief"
        assert req.user_texts == ["hi there"]
        assert req.body["stream"] is True
        # nothing scripted: the default echo-like reply
        async with plugin.chat(chat_ctx=ctx) as stream:
            text = "".join([c.delta.content async for c in stream if c.delta and c.delta.content])
        assert text == "You said: hi there"
        await plugin.aclose()


async def test_openai_scripted_tool_call_and_error() -> None:
    async with OpenAIStandIn() as oai:
        plugin = openai.LLM(model="gpt-4o-mini", base_url=oai.base_url, api_key="k")
        ctx = llm.ChatContext()
        ctx.add_message(role="user", content="weather?")
        call = oai.script_tool_call("get_weather", {"city": "Paris"})
        calls = []
        async with plugin.chat(chat_ctx=ctx) as stream:
            async for chunk in stream:
                if chunk.delta and chunk.delta.tool_calls:
                    calls.extend(chunk.delta.tool_calls)
        assert [(c.name, c.arguments, c.call_id) for c in calls] == [
            ("get_weather", '{"city": "Paris"}', call.call_id)
        ]
        oai.script_error(500)
        with contextlib.suppress(Exception):
            async with plugin.chat(
                chat_ctx=ctx, conn_options=APIConnectOptions(max_retry=0)
            ) as stream:
                async for _ in stream:
                    pass
        assert len(oai.chat_requests) == 2
        await plugin.aclose()


@pytest.mark.parametrize("model", ["tts-1", "gpt-4o-mini-tts"])  # raw PCM / SSE answers
async def test_openai_tts_pcm(model: str) -> None:
    async with OpenAIStandIn(ms_per_char=10) as oai:
        plugin = openai.TTS(model=model, base_url=oai.base_url, api_key="k", response_format="pcm")
        frames = [ev.frame async for ev in plugin.synthesize("Hello world, testing.")]
        samples = sum(f.samples_per_channel for f in frames)
        assert frames[0].sample_rate == 24000 and frames[0].num_channels == 1
        req = oai.speech_requests[0]
        assert req.input == "Hello world, testing."
        assert req.body["response_format"] == "pcm"
        assert req.audio_bytes == 2 * int(21 * 0.010 * 24000)  # 10 ms per character
        # the plugin pads the last frame with silence: at most one frame more
        assert 0 <= samples * 2 - req.audio_bytes < 2 * 24000 * 0.05
        await plugin.aclose()

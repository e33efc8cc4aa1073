"""Offline harness: loopback stand-ins for LiveKit, Deepgram and OpenAI.

Run the real agent entrypoint, the real livekit-agents framework and the real
plugins with no credentials and no network beyond 127.0.0.1. The only seams are
configuration: base URLs / env vars and the room object. See README.md here.
"""

from .deepgram import DeepgramConnection, DeepgramStandIn, HeardGroup, SentMessage, Utterance
from .local_participant import AudioRecording, RecordedStream, RecordingLocalParticipant
from .openai import ChatRequest, OpenAIStandIn, SpeechRequest, ToolCall
from .room import FakeRoom, Playback, UserAudio
from .stack import OfflineStack

__all__ = [
    "AudioRecording",
    "ChatRequest",
    "DeepgramConnection",
    "DeepgramStandIn",
    "FakeRoom",
    "HeardGroup",
    "OfflineStack",
    "OpenAIStandIn",
    "Playback",
    "RecordedStream",
    "RecordingLocalParticipant",
    "SentMessage",
    "SpeechRequest",
    "ToolCall",
    "UserAudio",
    "Utterance",
]

"""The agent during a call; `agent.py` reads as the flow, the logic lives here.

- `config`: the agent's environment, read once per process at start-up.
- `caller`: waiting for the participant whose settings the session is built from.
- `call_settings`: the call's settings and every decision about a change (synchronous).
- `publisher`: applies instructions in order and publishes what the app sees (async).
- `attributes`: the JSON the app reads from the agent's participant attributes.
- `session_options`: settings onto Deepgram, OpenAI and the AgentSession's turn handling.
- `process_models`: what a job process builds once, before any caller: VAD, end-of-turn model,
  the OpenAI client the LLM and TTS share.
- `turn_detector`: which end-of-turn model this process runs.
- `turn_timing`: what each turn took, from the framework's measurements; `voice.timing`.
"""

"""The agent during a call; `agent.py` reads as the flow, the logic lives here.

- `startup`: what importing `agent.py` does (the .env file, the turn-detector plugin, the
  operator's profiles checked before a worker registers).
- `config`: the agent's environment, read once per process at start-up.
- `caller`: waiting for the participant whose settings the session is built from.
- `call_follower`: everything during the call: changes listened to, decisions acted on, turn
  timing, the job ended when the session closes, and its own teardown.
- `call_settings`: the call's settings and every decision about a change (synchronous).
- `publisher`: applies instructions in order and publishes what the app sees (async).
- `attributes`: the JSON the app reads from the agent's participant attributes.
- `session_options`: settings onto Deepgram, OpenAI and the AgentSession's turn handling.
- `process_models`: what a job process builds once, before any caller: VAD, end-of-turn model,
  the OpenAI client the LLM and TTS share.
- `turn_detector`: which end-of-turn model this process runs.
- `turn_timing`: what each turn took, from the framework's measurements; `voice.timing`.
"""

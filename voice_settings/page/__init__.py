"""The settings page `token_tool.py serve` serves at `/`: an operator edits an assistant (a
profile) or a caller's settings, hears what the timing does in the lab, and calls the agent.

`site` (the page's files, its Content-Security-Policy, what the server offers it), `caller`
(validating a caller's settings as the agent does), `lab_runs` (simulations over HTTP),
`lab_queue` (one at a time, results kept under a cap), `lab_job` (one simulation, in a process
of its own), `live_update` (a call's settings changed through RoomService). The page itself is
plain HTML, CSS and JavaScript modules under `static/`; livekit-client comes from npm
(`npm ci --prefix voice_settings/page`).
"""

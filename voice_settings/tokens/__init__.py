"""What `token_tool.py` calls: tokens that carry validated voice settings.

- `settings_input`: what a command line asks for, checked before anything is signed or sent.
- `metadata`: the metadata documents (JSON objects, merged keys, LiveKit's size limit).
- `signing`: the join token and the connection details livekit-client reads.
- `report`: what is shown about a token, minted or inspected.
- `server`: the endpoint livekit-client's `TokenSource.endpoint` calls.
- `participant_update`: a live participant's settings changed through RoomService.
- `credentials`: the LiveKit URL and key pair, from the environment or ./.env.local.

Unlike the settings core, these modules need livekit-api, aiohttp and PyJWT.
"""

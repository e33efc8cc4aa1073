"""What token_tool shows about a token: the summary of one just minted, and the inspect report of
any token (verified with the configured credentials, its settings parsed and validated)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

import jwt
from livekit import api

from ..errors import shown
from ..profiles import ProfileStore
from ..resolution import Resolution, resolve
from ..sources import Source
from ..tool_errors import ToolError, UsageError
from .credentials import Credentials
from .signing import TokenRequest, grants_json, video_grants

# Values nobody chose for this token: summaries show only the others.
BASELINE = {Source.DEFAULT, Source.DEFAULT_PROFILE}


def settings_lines(values: Mapping[str, Any], sources: Mapping[str, str],
                   heading: str = "settings chosen for this token") -> list[str]:
    chosen = [f"  {k} = {json.dumps(values[k], ensure_ascii=False)}  ({s})"
              for k, s in sources.items() if s not in BASELINE]
    return [f"{heading}:", *(chosen or ["  (none: the defaults apply)"])]


# --- A token just minted -----------------------------------------------------------------------


def mint_report(credentials: Credentials, request: TokenRequest, token: str,
                resolution: Resolution) -> dict[str, Any]:
    """The keys of `lk token create --json`, plus the effective settings."""
    return {
        "access_token": token, "project_url": credentials.url,
        "identity": request.identity, "name": request.display_name, "room": request.room,
        "grants": grants_json(video_grants(request)),
        "settings": resolution.settings.model_dump(mode="json"),
    }


def mint_summary(credentials: Credentials, request: TokenRequest,
                 resolution: Resolution) -> str:
    lines = [f"identity:  {request.identity}", f"name:      {request.display_name}",
             f"room:      {request.room}", f"server:    {credentials.url or '-'}",
             f"valid for: {request.valid_for}",
             f"grants:    {json.dumps(grants_json(video_grants(request)))}"]
    lines += [f"agent:     {name} (dispatch metadata: {meta or '-'})"
              for name, meta in request.agents]
    lines.append(f"metadata:  {request.metadata or '-'}")
    lines += settings_lines(resolution.settings.model_dump(mode="json"), resolution.sources)
    return "\n".join(lines)


# --- Any token ---------------------------------------------------------------------------------


def check_is_token(token: str) -> None:
    """UsageError unless `token` is shaped like a JWT: said before any key is looked for, since
    no key pair could make it verify."""
    if not token:
        raise UsageError("no token given: pass it as TOKEN, or - to read it from stdin")
    try:
        jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise UsageError(f"{shown(token)} is not a LiveKit token: expected a JWT as mint prints "
                         "it, three base64url parts joined by dots (header.payload.signature)"
                         ) from None


def verify(token: str, credentials: Credentials) -> tuple[api.access_token.Claims, dict]:
    verifier = api.TokenVerifier(credentials.api_key, credentials.api_secret)
    try:
        claims = verifier.verify(token)
    except jwt.PyJWTError as exc:
        raise ToolError(f"token does not verify with the configured credentials: {exc}") from None
    return claims, jwt.decode(token, options={"verify_signature": False})


def timestamp(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat().replace("+00:00", "Z")


def resolution_report(resolution: Resolution, agent_name: str | None) -> dict[str, Any]:
    """Settings, sources, errors and unknown keys; what the dispatch metadata caused names the
    agent it was dispatched with."""
    def tagged(entry: dict[str, Any]) -> dict[str, Any]:
        from_dispatch = agent_name is not None and entry["source"] == Source.DISPATCH
        return {**entry, "agent_name": agent_name} if from_dispatch else entry

    return {
        "settings": resolution.settings.model_dump(mode="json"),
        "sources": {k: str(v) for k, v in resolution.sources.items()},
        "errors": [tagged(e.to_dict()) for e in resolution.errors],
        "unknown_keys": [tagged({"source": str(s), "key": k})
                         for s, k in resolution.unknown_keys],
    }


def inspect_report(token: str, credentials: Credentials, store: ProfileStore) -> dict[str, Any]:
    """The token's claims, and the settings of every agent it dispatches: each runs with the
    participant metadata over its own dispatch metadata. Top-level `settings` and `sources` are
    those of the first agent (of the participant alone without one); `errors` and
    `unknown_keys` gather every agent's."""
    claims, raw = verify(token, credentials)
    participant = claims.metadata or None
    agents = list(claims.room_config.agents) if claims.room_config else []
    dispatch = [{"agent_name": a.agent_name, "metadata": a.metadata,
                 **resolution_report(resolve(participant=participant,
                                             dispatch=a.metadata or None, profiles=store),
                                     a.agent_name)}
                for a in agents]
    reports = dispatch or [resolution_report(resolve(participant=participant, profiles=store),
                                             None)]
    gathered = {key: distinct(entry for r in reports for entry in r[key])
                for key in ("errors", "unknown_keys")}
    return {
        "identity": claims.identity, "name": claims.name,
        "room": claims.video.room if claims.video else "",
        "grants": grants_json(claims.video) if claims.video else {},
        "not_before": timestamp(raw.get("nbf")), "expires_at": timestamp(raw.get("exp")),
        "metadata": claims.metadata, "attributes": claims.attributes or {},
        "dispatch": dispatch, "settings": reports[0]["settings"],
        "sources": reports[0]["sources"], **gathered,
    }


def distinct(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """`entries` without repeats: each agent's report repeats the participant's own errors."""
    kept: list[dict[str, Any]] = []
    for entry in entries:
        if entry not in kept:
            kept.append(entry)
    return kept


def render_inspect(report: Mapping[str, Any]) -> str:
    lines = [f"identity:   {report['identity']}", f"name:       {report['name'] or '-'}",
             f"room:       {report['room'] or '-'}", f"grants:     {json.dumps(report['grants'])}",
             f"expires at: {report['expires_at']}", f"metadata:   {report['metadata'] or '-'}"]
    lines += [f"dispatch:   {d['agent_name'] or '(unnamed)'} (metadata: {d['metadata'] or '-'})"
              for d in report["dispatch"]] or ["dispatch:   none"]
    if len(report["dispatch"]) > 1:
        for d in report["dispatch"]:
            lines += settings_lines(d["settings"], d["sources"],
                                    f"settings for agent {d['agent_name'] or '(unnamed)'}")
    else:
        lines += settings_lines(report["settings"], report["sources"])
    lines += [f"invalid: {e['field']} = {json.dumps(e['value'])}: {e['message']}"
              + (f" (dispatch metadata of agent {e['agent_name']})" if "agent_name" in e else "")
              for e in report["errors"]]
    return "\n".join(lines)

"""What token_tool shows about a token: the summary of one just minted, and the inspect report of
any token (verified with the configured credentials, its settings parsed and validated)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import jwt
from livekit import api

from .credentials import Credentials
from .errors import Source
from .profiles import ProfileStore
from .sources import Resolution, resolve
from .tokens import TokenRequest, grants_json, video_grants
from .tool_errors import ToolError

# Values nobody chose for this token: summaries show only the others.
BASELINE = {Source.DEFAULT, Source.DEFAULT_PROFILE}


def settings_lines(values: Mapping[str, Any], sources: Mapping[str, str]) -> list[str]:
    chosen = [f"  {k} = {json.dumps(values[k], ensure_ascii=False)}  ({s})"
              for k, s in sources.items() if s not in BASELINE]
    return ["settings chosen for this token:", *(chosen or ["  (none: the defaults apply)"])]


# --- A token just minted -----------------------------------------------------------------------


def mint_report(credentials: Credentials, request: TokenRequest, token: str,
                resolution: Resolution) -> dict[str, Any]:
    """The keys of `lk token create --json`, plus the effective settings."""
    return {
        "access_token": token, "project_url": credentials.url,
        "identity": request.identity, "name": request.name, "room": request.room,
        "grants": grants_json(video_grants(request)),
        "settings": resolution.settings.model_dump(mode="json"),
    }


def mint_summary(credentials: Credentials, request: TokenRequest,
                 resolution: Resolution) -> str:
    lines = [f"identity:  {request.identity}", f"name:      {request.name or '-'}",
             f"room:      {request.room}", f"server:    {credentials.url or '-'}",
             f"valid for: {request.valid_for}",
             f"grants:    {json.dumps(grants_json(video_grants(request)))}"]
    lines += [f"agent:     {name} (dispatch metadata: {meta or '-'})"
              for name, meta in request.agents]
    lines.append(f"metadata:  {request.metadata or '-'}")
    lines += settings_lines(resolution.settings.model_dump(mode="json"), resolution.sources)
    return "\n".join(lines)


# --- Any token ---------------------------------------------------------------------------------


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


def inspect_report(token: str, credentials: Credentials, store: ProfileStore) -> dict[str, Any]:
    claims, raw = verify(token, credentials)
    agents = list(claims.room_config.agents) if claims.room_config else []
    dispatch = [{"agent_name": a.agent_name, "metadata": a.metadata} for a in agents]
    resolution = resolve(participant=claims.metadata or None,
                         dispatch=(agents[0].metadata or None) if agents else None,
                         profiles=store)
    return {
        "identity": claims.identity, "name": claims.name,
        "room": claims.video.room if claims.video else "",
        "grants": grants_json(claims.video) if claims.video else {},
        "not_before": timestamp(raw.get("nbf")), "expires_at": timestamp(raw.get("exp")),
        "metadata": claims.metadata, "attributes": claims.attributes or {},
        "dispatch": dispatch, "settings": resolution.settings.model_dump(mode="json"),
        "sources": {k: str(v) for k, v in resolution.sources.items()},
        "errors": [e.to_dict() for e in resolution.errors],
        "unknown_keys": [{"source": str(s), "key": k} for s, k in resolution.unknown_keys],
    }


def render_inspect(report: Mapping[str, Any]) -> str:
    lines = [f"identity:   {report['identity']}", f"name:       {report['name'] or '-'}",
             f"room:       {report['room'] or '-'}", f"grants:     {json.dumps(report['grants'])}",
             f"expires at: {report['expires_at']}", f"metadata:   {report['metadata'] or '-'}"]
    lines += [f"dispatch:   {d['agent_name'] or '(unnamed)'} (metadata: {d['metadata'] or '-'})"
              for d in report["dispatch"]] or ["dispatch:   none"]
    lines += settings_lines(report["settings"], report["sources"])
    lines += [f"invalid: {e['field']} = {json.dumps(e['value'])}: {e['message']}"
              for e in report["errors"]]
    return "\n".join(lines)

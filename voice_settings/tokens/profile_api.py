"""The profile API of `token_tool.py serve`, for operators' admin screens: list, read, create,
replace and delete the profiles of the store (the profiles directory, or the database of
VOICE_PROFILES_URL), and the JSON Schema of a profile.

On only when PROFILES_ADMIN_SECRET is set (its routes do not exist otherwise: 404), and every call
needs `Authorization: Bearer <that secret>`. Writes are conditional on the profile's version (its
ETag), checked by the store in the same step as the write (a file lock held by every process on
the directory, or one database statement), so two editors never overwrite each other silently,
whichever replica each reached; a profile is validated exactly as at worker start. A fault of the
store (read-only, disk full, a directory in the way, database unreachable) answers 503 or 409.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from ..errors import SettingsError, allowed, shown
from ..json_input import MAX_METADATA_BYTES, JsonInputError, read_json_object
from ..keys import canonical_key
from ..profile_files import created_comment
from ..profiles import ProfileError, is_profile_name, validate_profile
from ..schema import profile_schema
from ..sources import Source
from ..store import (
    Expect,
    ProfileBackend,
    StoredProfile,
    StoreError,
    StoreFollower,
    VersionMismatch,
    check_store,
    store_with,
)
from .http_errors import HttpError, check_bearer, read_body

logger = logging.getLogger(__name__)
T = TypeVar("T")

ENV_ADMIN_SECRET = "PROFILES_ADMIN_SECRET"
PROFILES_PATH = "/api/profiles"
PROFILE_PATH = "/api/profiles/{name}"
SCHEMA_PATH = "/api/schema"
MAX_PROFILE_BYTES = MAX_METADATA_BYTES
"""A profile body; the largest valid one (8000 characters of instructions) is far below."""
WHOLE_PROFILE = "(profile)"
"""The `field` of an error about the profile as a whole (a rule between fields)."""
PROFILE_API_HELP = f"""\
  Profile API (only when {ENV_ADMIN_SECRET} is set; "Authorization: Bearer <it>" on every call):
  GET {PROFILES_PATH}  GET|PUT|DELETE {PROFILE_PATH}  GET {SCHEMA_PATH}
    PUT creates with "If-None-Match: *" (201) or replaces with "If-Match: <ETag>" (200);
    412 stale or existing, 428 no condition, 409 deleting the default profile"""


@dataclass
class ProfileAdminConfig:
    secret: str = field(repr=False)
    follower: StoreFollower
    """The store and its last valid profiles; writes are conditional in the store itself (a
    file lock, or one database statement), so any number of replicas can serve this API."""

    @property
    def backend(self) -> ProfileBackend:
        return self.follower.backend


ADMIN = web.AppKey("profile_admin", ProfileAdminConfig)


def add_profile_routes(app: web.Application, admin: ProfileAdminConfig) -> None:
    app[ADMIN] = admin
    app.router.add_get(PROFILES_PATH, handle_list)
    app.router.add_get(PROFILE_PATH, handle_get)
    app.router.add_put(PROFILE_PATH, handle_put)
    app.router.add_delete(PROFILE_PATH, handle_delete)
    app.router.add_get(SCHEMA_PATH, handle_schema)
    for path in (PROFILES_PATH, PROFILE_PATH, SCHEMA_PATH):
        app.router.add_route("OPTIONS", path, handle_preflight)


async def handle_preflight(request: web.Request) -> web.Response:
    return web.Response(status=204, headers={
        "Access-Control-Allow-Methods": "GET, PUT, DELETE, OPTIONS",
        "Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match, If-None-Match",
        "Access-Control-Max-Age": "600",
    })


def authorized(request: web.Request) -> ProfileAdminConfig:
    admin = request.app[ADMIN]
    check_bearer(request, admin.secret)
    return admin


def requested_name(request: web.Request) -> str:
    name = request.match_info["name"]
    if not is_profile_name(name):
        message = f"{shown(name)} is not a profile name. Allowed: {allowed('profile')}."
        raise HttpError(400, message, [{"field": "name", "value": name, "message": message,
                                        "source": Source.PROFILE.value}])
    return name


async def handle_schema(request: web.Request) -> web.Response:
    authorized(request)
    return web.json_response(profile_schema())


async def handle_list(request: web.Request) -> web.Response:
    admin = authorized(request)
    entries = await in_store(admin.backend.read_all)
    store = admin.follower.store
    listed = []
    for entry in entries:
        description = store.descriptions.get(entry.name, "") if entry.problem \
            else entry.description
        listed.append(with_problem({"name": entry.name, "description": description,
                                    "version": entry.version}, entry, admin.follower))
    return web.json_response({"profiles": listed})


def with_problem(body: dict[str, Any], entry: StoredProfile,
                 follower: StoreFollower) -> dict[str, Any]:
    """A profile that is not in use as it is stored (a bad edit by hand) says why."""
    if problem := entry.problem or follower.problems.get(entry.name):
        body["problem"] = str(problem.problem if problem.field is None
                              else f"{problem.field}: {problem.problem}")
    return body


async def handle_get(request: web.Request) -> web.Response:
    admin = authorized(request)
    name = requested_name(request)
    entry = await in_store(admin.backend.read, name)
    if entry is None:
        raise HttpError(404, f"no profile {name!r}")
    store = admin.follower.store
    in_use = entry.problem is None and name not in admin.follower.problems
    values = entry.values if in_use else store.profiles.get(name, {})
    description = entry.description if in_use else store.descriptions.get(name, "")
    body = with_problem(profile_body(name, description, values, entry.version), entry,
                        admin.follower)
    return profile_response(body, 200)


async def in_store(call: Callable[..., T], *args: Any) -> T:
    """`call(*args)` of the store, in a thread; a store fault answers 503 or 409."""
    try:
        return await asyncio.to_thread(call, *args)
    except StoreError as exc:
        raise HttpError(exc.status, exc.message, [store_fault(exc)]) from None


def store_fault(exc: StoreError) -> dict[str, Any]:
    return {"field": WHOLE_PROFILE, "value": None, "message": exc.message,
            "source": Source.PROFILE.value}


def profile_body(name: str, description: str, values: dict[str, Any],
                 version: str) -> dict[str, Any]:
    return {"name": name, "description": description, "values": values, "version": version}


def profile_response(body: dict[str, Any], status: int) -> web.Response:
    response = web.json_response(body, status=status)
    response.headers["ETag"] = f'"{body["version"]}"'
    response.headers["Access-Control-Expose-Headers"] = "ETag"
    return response


# --- Writes ------------------------------------------------------------------------------------


async def handle_put(request: web.Request) -> web.Response:
    admin = authorized(request)
    name = requested_name(request)
    values, description = parse_profile_body(name, await read_body(request))
    expect = await put_condition(request, admin.backend, name)
    try:
        check_store(store_with(admin.follower.store, name, values, description))
    except ProfileError as exc:
        raise HttpError(400, "invalid profile", [profile_error(exc, None)]) from None
    comment = created_comment(name) if expect.absent else None
    try:
        version = await in_store(admin.backend.write, name, values, description, comment,
                                 expect)
    except VersionMismatch as exc:
        raise condition_failed(request, name, exc.current) from None
    await admin.follower.refresh()
    created = expect.absent
    logger.info("profile %s: %s, version %s (from %s)", "created" if created else "replaced",
                name, version, request.remote)
    response = profile_response(profile_body(name, description, values, version),
                                201 if created else 200)
    if created:
        response.headers["Location"] = PROFILE_PATH.format(name=name)
    return response


async def handle_delete(request: web.Request) -> web.Response:
    admin = authorized(request)
    name = requested_name(request)
    current = await in_store(admin.backend.read, name)
    if current is None:
        raise HttpError(404, f"no profile {name!r}")
    if name == admin.follower.store.default_name:
        raise HttpError(409, f"{name!r} is the operator's default profile: every call "
                        "starts from it, so it cannot be deleted")
    if_match = request.headers.get("If-Match")
    if if_match is None:
        raise if_match_required(current)
    try:
        await in_store(admin.backend.delete, name, Expect(versions=frozenset(_tags(if_match))))
    except VersionMismatch as exc:
        if exc.current is None:
            raise HttpError(404, f"no profile {name!r}") from None
        raise condition_failed(request, name, exc.current) from None
    await admin.follower.refresh()
    logger.info("profile deleted: %s, was version %s (from %s)", name, current.version,
                request.remote)
    return web.Response(status=204)


def parse_profile_body(name: str, data: bytes) -> tuple[dict[str, Any], str]:
    """(values, description) of a PUT body shaped like a profile file, or a 4xx HttpError."""
    if not data.strip():
        raise HttpError(400, "empty body: send the profile as a JSON object ({} for a profile "
                        "without settings)")
    if len(data) > MAX_PROFILE_BYTES:
        raise HttpError(413, f"profile is {len(data)} bytes, over the {MAX_PROFILE_BYTES} "
                        "byte limit")
    try:
        document = read_json_object(data, what="profile", max_bytes=MAX_PROFILE_BYTES)
    except JsonInputError as exc:
        raise HttpError(400, exc.message) from None
    where = f"{name}.toml"
    # One field at a time first, so a form learns every bad field at once; rules between
    # fields (field None) are checked on the whole document below.
    errors = []
    for key, value in document.items():
        try:
            validate_profile(where, {key: value})
        except ProfileError as exc:
            if exc.field is not None:
                errors.append(profile_error(exc, document))
    if not errors:
        try:
            return validate_profile(where, document)
        except ProfileError as exc:
            errors.append(profile_error(exc, document))
    raise HttpError(400, "invalid profile", errors)


def profile_error(exc: ProfileError, document: dict[str, Any] | None) -> dict[str, Any]:
    value = None
    if document is not None and exc.field:  # the field may have been sent in another spelling
        value = next((v for k, v in document.items() if k == exc.field
                      or canonical_key(k) == exc.field), None)
    message = exc.problem if exc.field else f"{Path(exc.path).name}: {exc.problem}"
    return SettingsError(exc.field or WHOLE_PROFILE, value, message, Source.PROFILE).to_dict()


# --- Conditions (RFC 9110 13.1) ----------------------------------------------------------------


def _tags(header: str) -> set[str]:
    """The entity tags of an If-Match/If-None-Match header; a bare version is taken too."""
    tags = {t.strip().removeprefix("W/").strip('"') for t in header.split(",")}
    return tags - {""}


async def put_condition(request: web.Request, backend: ProfileBackend, name: str) -> Expect:
    """Create only with If-None-Match (`*` or tags), replace only with If-Match; 428 without
    either. Checked by the store in the same step as the write."""
    if (if_match := request.headers.get("If-Match")) is not None:
        return Expect(versions=frozenset(_tags(if_match)))
    if request.headers.get("If-None-Match") is not None:
        return Expect(absent=True)
    current = await in_store(backend.read, name)
    if current is None:
        raise HttpError(428, "send If-None-Match: * to create this profile")
    raise if_match_required(current)


def condition_failed(request: web.Request, name: str,
                     current: StoredProfile | None) -> HttpError:
    """The answer to a write whose condition did not hold, with what is stored now."""
    if current is None:
        return HttpError(412, "no such profile to replace; create it with If-None-Match: *")
    if "If-Match" in request.headers:
        return HttpError(412, f"profile changed since you read it: its version is now "
                         f"{current.version}; read it again and redo your edit")
    tags = _tags(request.headers.get("If-None-Match", ""))
    if "*" in tags or current.version in tags:
        return HttpError(412, f"profile {name!r} already exists (version {current.version}); "
                         "replace it with If-Match")
    return if_match_required(current)


def if_match_required(current: StoredProfile) -> HttpError:
    """428: a change to a stored profile names the version it was read at."""
    return HttpError(428, f"send If-Match: \"{current.version}\" (the ETag you read) to "
                     "change this profile")

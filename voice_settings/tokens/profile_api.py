"""The profile API of `token_tool.py serve`, for operators' admin screens: list, read, create,
replace and delete the profiles in the profiles directory, and the JSON Schema of a profile.

On only when PROFILES_ADMIN_SECRET is set (its routes do not exist otherwise: 404), and every call
needs `Authorization: Bearer <that secret>`. Writes are conditional on the file's version (its
ETag), checked and written under one lock with the file read again, so two editors never
overwrite each other silently; a profile is validated exactly as at worker start.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from ..errors import SettingsError, allowed, shown
from ..json_input import MAX_METADATA_BYTES, JsonInputError, read_json_object
from ..keys import canonical_key
from ..profile_files import (
    ProfileFile,
    ProfileLibrary,
    check_store,
    created_comment,
    delete_profile_file,
    names_on_disk,
    profile_path,
    read_profile_file,
    store_with,
    write_profile,
)
from ..profiles import (
    ProfileError,
    is_profile_name,
    leading_comment,
    profile_toml,
    validate_profile,
)
from ..schema import profile_schema
from ..sources import Source
from .http_errors import HttpError, check_bearer, read_body

logger = logging.getLogger(__name__)

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
    library: ProfileLibrary
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Held from reading a profile's version to writing its file: one writer at a time."""


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
    store = admin.library.current()
    entries = []
    for name in filter(is_profile_name, names_on_disk(store.directory)):
        if (file := read_profile_file(store.directory, name)) is not None:
            description = store.descriptions.get(name, "") if file.problem else file.description
            entry = {"name": name, "description": description, "version": file.version}
            entries.append(with_problem(entry, file, admin.library))
    return web.json_response({"profiles": entries})


def with_problem(entry: dict[str, Any], file: ProfileFile,
                 library: ProfileLibrary) -> dict[str, Any]:
    """A file that is not in use as it is on disk (a bad edit by hand) says why."""
    if problem := file.problem or library.problems.get(file.name):
        entry["problem"] = str(problem.problem if problem.field is None
                               else f"{problem.field}: {problem.problem}")
    return entry


async def handle_get(request: web.Request) -> web.Response:
    admin = authorized(request)
    name = requested_name(request)
    store = admin.library.current()
    file = read_profile_file(store.directory, name)
    if file is None:
        raise HttpError(404, f"no profile {name!r}")
    in_use = file.problem is None and name not in admin.library.problems
    values = file.values if in_use else store.profiles.get(name, {})
    description = file.description if in_use else store.descriptions.get(name, "")
    body = with_problem(profile_body(name, description, values, file.version), file,
                        admin.library)
    return profile_response(body, 200)


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
    async with admin.lock:
        store = admin.library.current()
        if not store.directory.is_dir():  # an unmounted volume: never write beside the workers
            raise HttpError(503, f"the profiles directory {store.directory.name!r} does not "
                            "exist; nothing was written")
        existing = read_profile_file(store.directory, name)
        check_put_conditions(request, existing)
        try:
            check_store(store_with(store, name, values, description))
        except ProfileError as exc:
            raise HttpError(400, "invalid profile", [profile_error(exc, None)]) from None
        comment = leading_comment(existing.data) if existing else created_comment(name)
        text = profile_toml(values, description, comment)
        version = await asyncio.to_thread(write_profile, profile_path(store.directory, name),
                                          text)
        admin.library.current()
    logger.info("profile %s: %s, version %s (from %s)", "replaced" if existing else "created",
                name, version, request.remote)
    response = profile_response(profile_body(name, description, values, version),
                                200 if existing else 201)
    if not existing:
        response.headers["Location"] = PROFILE_PATH.format(name=name)
    return response


async def handle_delete(request: web.Request) -> web.Response:
    admin = authorized(request)
    name = requested_name(request)
    async with admin.lock:
        store = admin.library.current()
        existing = read_profile_file(store.directory, name)
        if existing is None:
            raise HttpError(404, f"no profile {name!r}")
        if name == store.default_name:
            raise HttpError(409, f"{name!r} is the operator's default profile: every call "
                            "starts from it, so it cannot be deleted")
        check_if_match(request, existing)
        await asyncio.to_thread(delete_profile_file, profile_path(store.directory, name))
        admin.library.current()
    logger.info("profile deleted: %s, was version %s (from %s)", name, existing.version,
                request.remote)
    return web.Response(status=204)


def parse_profile_body(name: str, data: bytes) -> tuple[dict[str, Any], str]:
    """(values, description) of a PUT body shaped like a profile file, or a 4xx HttpError."""
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
    tags = {t.strip().strip('"') for t in header.split(",")}
    return tags - {""}


def check_if_match(request: web.Request, existing: ProfileFile) -> None:
    if_match = request.headers.get("If-Match")
    if if_match is None:
        raise HttpError(428, f"send If-Match: \"{existing.version}\" (the ETag you read) to "
                        "change this profile")
    if "*" not in _tags(if_match) and existing.version not in _tags(if_match):
        raise HttpError(412, f"profile changed since you read it: its version is now "
                        f"{existing.version}; read it again and redo your edit")


def check_put_conditions(request: web.Request, existing: ProfileFile | None) -> None:
    """Create only with If-None-Match: * (or tags), replace only with a matching If-Match."""
    if_none_match = request.headers.get("If-None-Match")
    if existing is None:
        if "If-Match" in request.headers:
            raise HttpError(412, "no such profile to replace; create it with If-None-Match: *")
        if if_none_match is None:
            raise HttpError(428, "send If-None-Match: * to create this profile")
        return
    if "If-Match" not in request.headers and if_none_match is not None:
        tags = _tags(if_none_match)
        if "*" in tags or existing.version in tags:
            raise HttpError(412, f"profile {existing.name!r} already exists (version "
                            f"{existing.version}); replace it with If-Match")
    check_if_match(request, existing)

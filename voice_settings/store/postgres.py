"""The PostgreSQL store, for fleets: VOICE_PROFILES_URL=postgresql://user:pass@host/db.

One table, `voice_profiles` (name, "values" as jsonb, description, version, updated_at), created
on first use together with `voice_profiles_schema` (its schema version) under an advisory lock,
so replicas starting together do not race. Every conditional write is one statement
(`UPDATE ... WHERE name = $1 AND version = ANY($2)`, `INSERT ... ON CONFLICT DO NOTHING`,
`DELETE ... WHERE version = ...`): exactly one writer wins a version, whichever replica it
reached. A write gets a new random version, so no two writes share one. A trigger sends
`NOTIFY voice_profiles, '<name>'` for every change (also one made with psql), and every worker's
live calls, LISTENing, follow it at once.

Driver: psycopg 3 (`psycopg[binary]`), not asyncpg, because this store is used from both sides:
synchronously by the CLI, the worker's start-up check and the token server's handlers (in a
thread, like the directory store's file I/O), and asynchronously to LISTEN in a running call.
psycopg has both APIs over one libpq, which also reads what operators already use with psql
(PG* variables, ~/.pgpass, sslmode, service files); asyncpg is async only. The binary wheel bundles
libpq, so the slim Docker image needs no system package.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb

from ..profiles import DESCRIPTION_KEY, ProfileError, validate_profile
from .base import Expect, StoredProfile, StoreUnavailable, VersionMismatch

logger = logging.getLogger(__name__)
T = TypeVar("T")

TABLE = "voice_profiles"
CHANNEL = "voice_profiles"
SCHEMA_VERSION = 1
CONNECT_TIMEOUT_S = 5
KEEPALIVE_S = 5.0
"""A LISTEN connection that heard nothing this long checks that the server still answers."""
BACKOFF_S = (0.25, 0.5, 1.0, 2.0, 5.0)
_LOCK_KEY = 0x766F696365  # pg_advisory_xact_lock key for creating the tables ("voice")

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE}_schema (version integer NOT NULL);
CREATE TABLE IF NOT EXISTS {TABLE} (
    name text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_-]{{0,63}}$'),
    "values" jsonb NOT NULL CHECK (jsonb_typeof("values") = 'object'),
    description text NOT NULL DEFAULT '',
    version text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE OR REPLACE FUNCTION {TABLE}_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', COALESCE(NEW.name, OLD.name));
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS {TABLE}_notify ON {TABLE};
CREATE TRIGGER {TABLE}_notify AFTER INSERT OR UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION {TABLE}_notify();
"""


def public_location(url: str) -> str:
    """The database a URL names, without its password: for log lines and errors."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(unparsable URL)"
    user = f"{info['user']}@" if info.get("user") else ""
    port = f":{info['port']}" if info.get("port") else ""
    return f"postgresql://{user}{info.get('host', '')}{port}/{info.get('dbname', '')}"


class PostgresBackend:
    """Profiles as rows of one PostgreSQL table."""

    directory = None

    def __init__(self, url: str, persistent: bool = True) -> None:
        """`persistent`: keep the connection between statements (a token server); False for
        a worker's calls, which read only at their start and after an edit: each live call
        then holds one connection, the one it LISTENs on."""
        self.url = url
        self.persistent = persistent
        self.location = f"{public_location(url)} table {TABLE}"
        self._connection: psycopg.Connection | None = None
        self._lock = threading.Lock()

    # --- the connection -------------------------------------------------------------------
    def _run(self, work: Callable[[psycopg.Cursor], T]) -> T:
        """`work(cursor)` on the shared connection, one at a time; once more on a new
        connection when the old one was lost (the server restarted); StoreUnavailable when the
        database cannot be reached."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    with self._connect().cursor() as cursor:
                        return work(cursor)
                except psycopg.OperationalError as exc:
                    self._drop()
                    if attempt == 2 or isinstance(exc, psycopg.errors.ConnectionTimeout):
                        raise StoreUnavailable(f"the profile database {self.location} is "
                                               f"unreachable: {_first_line(exc)}") from None
                finally:
                    if not self.persistent:
                        self._drop()
        raise AssertionError("unreachable")

    def _connect(self) -> psycopg.Connection:
        if self._connection is None or self._connection.closed:
            connection = psycopg.connect(self.url, autocommit=True,
                                         connect_timeout=CONNECT_TIMEOUT_S)
            try:
                _ensure_schema(connection)
            except BaseException:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
        self._connection = None

    def close(self) -> None:
        with self._lock:
            self._drop()

    # --- reading --------------------------------------------------------------------------
    def read_all(self) -> list[StoredProfile]:
        query = sql.SQL('SELECT name, "values", description, version FROM {} ORDER BY name')
        rows = self._run(lambda c: c.execute(query.format(sql.Identifier(TABLE))).fetchall())
        return [self._entry(*row) for row in rows]

    def read(self, name: str) -> StoredProfile | None:
        query = sql.SQL('SELECT name, "values", description, version FROM {} WHERE name = %s')
        row = self._run(lambda c: c.execute(query.format(sql.Identifier(TABLE)),
                                            (name,)).fetchone())
        return self._entry(*row) if row else None

    def _entry(self, name: str, values: Any, description: str, version: str) -> StoredProfile:
        """A row, validated as a profile file is (a row written with psql may be wrong)."""
        where = f"{self.location} row {name!r}"
        document = {**values, DESCRIPTION_KEY: description} if isinstance(values, dict) else None
        try:
            if document is None or DESCRIPTION_KEY in values:
                raise ProfileError(where, None, '"values" must be a JSON object of settings '
                                   "(without description)")
            valid, description = validate_profile(where, document)
        except ProfileError as exc:
            return StoredProfile(name, version, where, problem=exc)
        return StoredProfile(name, version, where, valid, description)

    # --- writing: one statement each ------------------------------------------------------
    def write(self, name: str, values: dict[str, Any], description: str, comment: str | None,
              expect: Expect) -> str:
        version = secrets.token_hex(16)
        table = sql.Identifier(TABLE)
        if expect.absent:  # and, for Expect.ANY, replace whatever is there
            on_conflict = ('DO UPDATE SET "values" = EXCLUDED."values", description = '
                           "EXCLUDED.description, version = EXCLUDED.version, updated_at = now()"
                           if expect.versions and "*" in expect.versions else "DO NOTHING")
            query = sql.SQL('INSERT INTO {} (name, "values", description, version) '
                            "VALUES (%s, %s, %s, %s) ON CONFLICT (name) " + on_conflict
                            + " RETURNING version").format(table)
            parameters: tuple = (name, Jsonb(values), description, version)
        else:
            query = sql.SQL('UPDATE {} SET "values" = %s, description = %s, version = %s, '
                            "updated_at = now() WHERE name = %s AND (version = ANY(%s) OR %s) "
                            "RETURNING version").format(table)
            parameters = (Jsonb(values), description, version, name, *_versions(expect))
        if self._run(lambda c: c.execute(query, parameters).fetchone()) is None:
            raise VersionMismatch(self.read(name))
        return version

    def delete(self, name: str, expect: Expect) -> None:
        query = sql.SQL("DELETE FROM {} WHERE name = %s AND (version = ANY(%s) OR %s) "
                        "RETURNING version").format(sql.Identifier(TABLE))
        if self._run(lambda c: c.execute(query, (name, *_versions(expect))).fetchone()) is None:
            raise VersionMismatch(self.read(name))

    # --- following ------------------------------------------------------------------------
    async def changes(self) -> AsyncIterator[None]:
        """Yields on every NOTIFY, and after each reconnection (edits made meanwhile were not
        heard). Unreachable: one log line, retries with backoff, one line when it is back."""
        failures = 0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                        self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                    if failures:
                        logger.info("profile database %s reachable again; following its "
                                    "changes", self.location)
                        failures = 0
                        yield
                    async for _ in _notifications(conn):
                        yield
            except psycopg.Error as exc:
                if failures == 0:
                    logger.error("profile database %s unreachable (%s); the last valid profiles "
                                 "stay in use, reconnecting", self.location, _first_line(exc),
                                 extra={"file": self.location, "source": "operator"})
                await asyncio.sleep(BACKOFF_S[min(failures, len(BACKOFF_S) - 1)])
                failures += 1


async def _notifications(conn: psycopg.AsyncConnection) -> AsyncIterator[None]:
    """One item per batch of notifications; checks the server when it was quiet a while, so a
    lost connection is noticed even when nothing is edited."""
    while True:
        heard = False
        async for _ in conn.notifies(timeout=KEEPALIVE_S, stop_after=1):
            heard = True
        if heard:
            yield
        else:
            await conn.execute("SELECT 1")


def _versions(expect: Expect) -> tuple[list[str], bool]:
    versions = expect.versions or frozenset()
    return sorted(versions - {"*"}), "*" in versions


def _ensure_schema(connection: psycopg.Connection) -> None:
    """The tables, created on first use (under an advisory lock: replicas start together), and
    a schema this code understands."""
    with connection.transaction(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        if cursor.execute("SELECT to_regclass(%s)", (f"{TABLE}_schema",)).fetchone()[0] is None:
            cursor.execute(SCHEMA)
            cursor.execute(sql.SQL("INSERT INTO {} (version) VALUES (%s)").format(
                sql.Identifier(f"{TABLE}_schema")), (SCHEMA_VERSION,))
        found = cursor.execute(sql.SQL("SELECT max(version) FROM {}").format(
            sql.Identifier(f"{TABLE}_schema"))).fetchone()[0]
    if found != SCHEMA_VERSION:
        raise StoreUnavailable(f"table {TABLE} has schema version {found}; this version of the "
                               f"agent reads schema {SCHEMA_VERSION}")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]

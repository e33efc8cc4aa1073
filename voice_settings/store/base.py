"""What every profile store offers, whatever keeps the profiles: the entries as stored (valid or
not, each with its version), writes conditional on a version, and the faults a store can have.

A backend's methods block (file system, database round trips): call them from a thread in
async code (`asyncio.to_thread`). `changes()` is async: it yields whenever the store may have
changed, and after a reconnection, so a follower reads it again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from ..profiles import ProfileError


@dataclass(frozen=True)
class StoredProfile:
    """One profile as the store holds it now, valid or not."""

    name: str
    version: str
    """Its ETag: any write through any replica changes it."""
    where: str
    """The file, or the database row, for log lines and errors."""
    values: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    problem: ProfileError | None = None
    """Why it is not a valid profile on its own; `values` is then empty."""
    comment: str = ""
    """The comment a profile file starts with (kept when it is rewritten)."""


@dataclass(frozen=True)
class Expect:
    """The condition of a write: checked against the stored version in the same step as the
    write (under the directory's file lock, or in the database's one statement)."""

    absent: bool = False
    """Create only: no profile of that name exists."""
    versions: frozenset[str] | None = None
    """Replace only: the stored version is one of these ("*": any existing one)."""

    ANY: ClassVar[Expect]
    """Whatever is stored (an import, an export): create or replace."""

    def holds(self, current: StoredProfile | None) -> bool:
        if current is None:
            return self.absent
        if self.versions is None:
            return False
        return "*" in self.versions or current.version in self.versions


Expect.ANY = Expect(absent=True, versions=frozenset({"*"}))


class StoreError(Exception):
    """A store fault that is not about one profile's content."""

    status = 503

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StoreUnavailable(StoreError):
    """The store cannot be read or written now (directory gone or read-only, disk full, database
    unreachable): nothing was changed; retry later."""


class StoreConflict(StoreError):
    """The store holds something in the way of this write (a directory where a profile file
    should be): an operator has to look."""

    status = 409


class VersionMismatch(Exception):
    """The condition of a write did not hold; `current` is what is stored now (None: nothing)."""

    def __init__(self, current: StoredProfile | None) -> None:
        super().__init__(current.version if current else "absent")
        self.current = current


class ProfileBackend(Protocol):
    """A place that keeps named profiles: a directory of TOML files or a database table."""

    location: str
    """For log lines: the directory, or the database without its password."""
    directory: Any
    """The directory (a Path) of a directory store; None for a database."""

    def read_all(self) -> list[StoredProfile]:
        """Every profile stored now; StoreUnavailable when the store cannot be read."""

    def read(self, name: str) -> StoredProfile | None: ...

    def write(self, name: str, values: dict[str, Any], description: str, comment: str | None,
              expect: Expect) -> str:
        """Store the profile if `expect` holds (VersionMismatch otherwise); its new version.
        `comment` heads a profile file (None: keep the one it has)."""

    def delete(self, name: str, expect: Expect) -> None: ...

    def changes(self) -> AsyncIterator[None]:
        """Yields (forever) each time the store may have changed; never raises for a fault of
        the store, which it logs once per change of state."""

    def close(self) -> None: ...

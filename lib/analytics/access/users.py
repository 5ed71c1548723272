"""The users file: names, groups and salted password hashes (Argon2id, the algorithm Jupyter uses too).

A JSON file readable by its owner only, changed atomically (write beside, then rename), so a crash
never leaves it half written and the app, which rereads it when it changes, never sees a partial one.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import AnalyticsError
from .identity import Person, built_in

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
GROUP = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
MIN_PASSWORD = 8
_HASHER = PasswordHasher()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Verified against when the name is unknown, so a wrong name costs the same time as a wrong password. Made
    at the first sign-in, not at import: every kernel and command imports this module, few sign anyone in."""
    return _HASHER.hash("no such user")


class UserError(AnalyticsError):
    """A name, group or password the users file cannot take."""


class UsersFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._cache: tuple[float, dict[str, dict]] | None = None

    def _entries(self) -> dict[str, dict]:
        try:
            stamp = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return {}
        if self._cache is None or self._cache[0] != stamp:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise UserError(f"The users file {self.path} cannot be read ({error}); fix or recreate it "
                                "with `analytics users add`.") from None
            self._cache = (stamp, data.get("users", {}))
        return self._cache[1]

    def names(self) -> list[str]:
        return sorted(self._entries())

    def __bool__(self) -> bool:
        return bool(self._entries())

    def person(self, name: str) -> Person | None:
        """The person of this name; never for a built-in name, even if the file was edited by hand to hold one."""
        entry = self._entries().get(name)
        return Person(name, frozenset(entry.get("groups", []))) if entry and not built_in(name) else None

    def stamp(self, name: str) -> str:
        """A short fingerprint of the user's password hash: sessions made before a password change stop working."""
        entry = self._entries().get(name) or {}
        return str(entry.get("hash", ""))[-12:]

    def verify(self, name: str, password: str) -> Person | None:
        entry = self._entries().get(name) if not built_in(name) else None
        try:
            _HASHER.verify(entry["hash"] if entry else _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return None
        return self.person(name) if entry else None

    def add(self, name: str, password: str, groups: list[str]) -> Person:
        """Add a person, or replace their password and groups."""
        if not NAME.fullmatch(name):
            raise UserError(f"'{name}' cannot be a user name: use letters, digits, '.', '_', '-' or '@' (up to 64).")
        if built_in(name):
            raise UserError(f"'{name}' is a name the app uses itself (the shared token, the account that runs the app, "
                            "or the scheduler): choose another name for this person.")
        bad = [group for group in groups if not GROUP.fullmatch(group)]
        if bad:
            raise UserError(f"Group names are lower-case letters, digits and '_': {', '.join(bad)} is not one.")
        if len(password) < MIN_PASSWORD:
            raise UserError(f"The password must have at least {MIN_PASSWORD} characters.")
        entries = dict(self._entries())
        entries[name] = {"groups": sorted(set(groups)), "hash": _HASHER.hash(password)}
        self._save(entries)
        return Person(name, frozenset(groups))

    def remove(self, name: str) -> None:
        entries = dict(self._entries())
        if name not in entries:
            raise UserError(f"There is no user '{name}' in {self.path}.")
        del entries[name]
        self._save(entries)

    def _save(self, entries: dict[str, dict]) -> None:
        write_private_json(self.path, {"users": entries})
        self._cache = None


def write_private_json(path: Path, data: dict) -> None:
    """Write ``data`` readable by its owner only, atomically: a crash never leaves it half written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:  # mkstemp makes it 0600
            json.dump(data, out, indent=2, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

"""A person as the product sees them (name and groups), and who a run is for inside any process.

The app passes the signed-in name to a report's kernel in the ``HTTP_X_ANALYTICS_USER`` variable (a
header the app sets itself and never takes from the browser); ``analytics run`` passes ``--as NAME`` or
the operating-system user as ``ANALYTICS_RUN_BY``.

Some names are the app's own, never a person's: ``token`` (the shared token), the operating-system account
(the loopback user of an app open on this machine, and headless runs), and ``scheduler:<job>`` (scheduled
runs). No users-file entry or proxy header can take them, and their files live in folders that start with
``_``, which no person's folder can (a person's name starts with a letter or a digit).
"""

from __future__ import annotations

import getpass
import hashlib
import os
import re
from dataclasses import dataclass

ADMIN_GROUP = "admin"
USER_HEADER = "X-Analytics-User"  # set by the app on each request it lets through, forwarded to kernels
CLIENT_HEADER = "X-Analytics-Client"  # the client address the app saw
USER_ENV = "HTTP_X_ANALYTICS_USER"
CLIENT_ENV = "HTTP_X_ANALYTICS_CLIENT"
RUN_BY_ENV = "ANALYTICS_RUN_BY"
TOKEN_USER = "token"
SCHEDULER_PREFIX = "scheduler:"
BUILT_IN_FOLDER_PREFIX = "_"
_FOLDER_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_DIGEST_FOLDER = re.compile(r"^u-[0-9a-f]{16}$")


@dataclass(frozen=True)
class Person:
    name: str
    groups: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user without a passwd entry
        return f"uid-{os.getuid()}"


def current_user() -> str:
    """Who the running report is for: the app's signed-in user, else ``--as``, else the system user."""
    return os.environ.get(USER_ENV) or os.environ.get(RUN_BY_ENV) or os_user()


def current_client() -> str:
    """The address the person's browser came from (empty for headless runs)."""
    return os.environ.get(CLIENT_ENV, "")


def built_in(name: str) -> bool:
    """True for the app's own names (see the module doc), in any letter case: an admin-looking ``Token`` in
    the audit trail is as misleading as ``token``."""
    lowered = name.strip().lower()
    return lowered in (TOKEN_USER, os_user().lower()) or lowered.startswith(SCHEDULER_PREFIX)


def user_folder(name: str) -> str:
    """The folder under ``reports/exports/`` holding this person's files: the name itself when it is a safe
    file name, else a stable digest of it (an e-mail with odd characters, a proxy's name). A built-in name's
    folder starts with ``_`` and a name shaped like a digest folder is digested too, so no two meet."""
    if built_in(name):
        return BUILT_IN_FOLDER_PREFIX + re.sub(r"[^A-Za-z0-9._@-]", "-", name.strip())[:63]
    if _FOLDER_SAFE.fullmatch(name) and ".." not in name and not _DIGEST_FOLDER.fullmatch(name):
        return name
    return "u-" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]

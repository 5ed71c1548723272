"""Whether the app may serve: beyond loopback only with a way to sign in (no web imports, so the CLI stays quick)."""

from __future__ import annotations

import ipaddress

from ..config import Settings
from .users import UsersFile


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return address == "localhost"


def sign_in_configured(settings: Settings) -> bool:
    """True when at least one way to sign in is set up: users, a token, or a trusted proxy."""
    return bool(UsersFile(settings.users_file)) or bool(settings.serve_token) or bool(settings.trusted_proxies.strip())


def how_to_sign_in(settings: Settings) -> str:
    return ("Serving beyond this machine needs a sign-in. Set one up, then start again:\n"
            "  analytics users add NAME --groups account_managers        (people, with passwords; "
            f"kept in {settings.users_file})\n"
            "  ANALYTICS_SERVE_TOKEN=<long random text>                    (a shared token for scripts)\n"
            "  ANALYTICS_TRUSTED_PROXIES=10.0.0.5                          (a reverse proxy that passes X-Forwarded-User)")

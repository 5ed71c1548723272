"""amoCRM API v4 (``shared/contracts/external-apis.md`` §3): pages of entities, within the account's rules.

amoCRM's rules are harsher than a generic HTTP client assumes, so this client keeps them itself:

* **At most 7 requests a second per integration**, and repeated excess blocks the whole account. The
  :class:`RateLimit` is a log of the requests in flight and just answered, in a file of the home under a
  lock, so every process of one installation (two loaders at once, a notebook beside the scheduler) stays
  under it together.
* **429 and 5xx** are waited out (``Retry-After`` when sent, else a growing backoff) and tried again;
  each attempt passes the rate limit, which urllib3's own retries would not.
* **403, or an HTML body, stops at once** (:class:`AmoCRMBlocked`): after a block every call answers the
  nginx "403 Forbidden" page until a person writes to support, so trying again only makes it worse.
* **401 refreshes the OAuth token once** (refresh tokens are single-use: the new pair is saved before it
  is used); a long-lived token has nothing to refresh, so a 401 is the same plain refusal.

A list ends with 204 (a page past the end) or a page without ``_links.next``; :meth:`AmoCRM.pages`
yields each page's entities with its number, so a loader can commit a checkpoint per page.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from ..config import Settings
from ..errors import ConfigError, ServiceError, ServiceUnavailableError
from ..exports.files import atomic_file, private_folder
from .http import LONGEST_RETRY_AFTER, timeouts

DEMO = "demo"  # ANALYTICS_AMOCRM_URL=demo: the demo app (`make run`) answers with its own account
BLOCKED = "the amoCRM account is blocked or the token is refused: write to amoCRM support"
PAGE_SIZE = 250  # the API's largest page
PER_SECOND = 7
WINDOW = 1.0  # seconds: counted from a request's answer, so however late it reached amoCRM, it is in its second
POLL = 0.02  # seconds between looks at the log while the account's requests are all in flight
STUCK = 60.0  # seconds in flight after which a request's process is taken for dead
RETRIED = (429, 500, 502, 503, 504)
ATTEMPTS = 6


class AmoCRMBlocked(ServiceError):
    """amoCRM answered 403 or an HTML page: the account is blocked, or the token is refused. Never retried."""

    def __init__(self, status: int) -> None:
        super().__init__(f"The load stopped: {BLOCKED} (HTTP {status}).", service="amoCRM", status=status)


@dataclass(frozen=True)
class RateLimit:
    """At most ``per_second`` requests in any ``window`` seconds, for every process sharing ``path``.

    A request is counted from its start until ``window`` after its answer came back: a request stamped when it
    left may reach amoCRM much later on a loaded machine (an earlier log of start times let eight arrive in one
    second), but it never reaches it after its answer. A request still in flight counts as now; one in flight
    longer than :data:`STUCK` seconds is a process that died mid-request and no longer counts.
    """

    path: Path
    per_second: int = PER_SECOND
    window: float = WINDOW

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Wait until one more request fits, hold its place while it runs, and count it until ``window`` after."""
        name = f"{os.getpid()}-{secrets.token_hex(4)}"
        while True:
            with self._log() as entries:
                now = time.time()
                entries[:] = [entry for entry in entries if self._counts(entry, now)]
                if len(entries) < self.per_second:
                    entries.append([name, now, None])
                    break
                free_at = min(end + self.window if end is not None else now + POLL for _, _, end in entries)
            time.sleep(min(max(free_at - now, 0.0), POLL) or POLL)  # outside the lock: the others may finish
        try:
            yield
        finally:
            with self._log() as entries:
                for entry in entries:
                    if entry[0] == name:
                        entry[2] = time.time()

    def _counts(self, entry: list, now: float) -> bool:
        _, start, end = entry
        return now - end < self.window if end is not None else now - start < STUCK

    @contextmanager
    def _log(self) -> Iterator[list[list]]:
        """The log's entries ([name, start, end or None]) under an exclusive lock, written back on leaving."""
        private_folder(self.path.parent)
        with open(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), "r+", encoding="utf-8") as log:
            fcntl.flock(log, fcntl.LOCK_EX)
            entries = json.loads(log.read() or "[]")
            yield entries
            log.seek(0)
            log.truncate()
            log.write(json.dumps(entries))
            log.flush()


@dataclass
class OAuth:
    """An OAuth client's refresh: the latest token pair lives in ``path`` (owner-only), written before use."""

    base_url: str
    client_id: str
    client_secret: str
    redirect_uri: str
    first_refresh_token: str
    path: Path

    def tokens(self) -> dict[str, str]:
        return json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else {}

    def refresh(self, session: requests.Session) -> str:
        """A new access token (and refresh token, saved at once: the old one stops working)."""
        body = {"client_id": self.client_id, "client_secret": self.client_secret, "grant_type": "refresh_token",
                "refresh_token": self.tokens().get("refresh_token") or self.first_refresh_token,
                "redirect_uri": self.redirect_uri}
        response = session.post(f"{self.base_url}/oauth2/access_token", json=body, timeout=timeouts(20))
        if response.status_code != 200:
            raise ServiceError(f"amoCRM refused to renew the token (HTTP {response.status_code}): {BLOCKED}, or "
                               "connect the integration again and set ANALYTICS_AMOCRM_REFRESH_TOKEN.",
                               service="amoCRM", status=response.status_code)
        pair = response.json()
        with atomic_file(self.path) as target:
            target.write(json.dumps({"access_token": pair["access_token"], "refresh_token": pair["refresh_token"],
                                     "saved_at": dt.datetime.now(dt.UTC).isoformat()}).encode("utf-8"))
        return str(pair["access_token"])


class AmoCRM:
    """GET requests to one account, under its rate limit, with the stops and retries its rules call for."""

    def __init__(self, base_url: str, token: str, limit: RateLimit, *, oauth: OAuth | None = None,
                 session: requests.Session | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        self.limit = limit
        self.oauth = oauth
        self.session = session or requests.Session()
        self.sleep = sleep
        self.token = (oauth.tokens().get("access_token") if oauth else "") or token

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """The JSON answer of ``GET path`` (None for 204: nothing there, or past the last page)."""
        refreshed = False
        for attempt in range(ATTEMPTS):
            try:
                with self.limit.slot():
                    response = self.session.get(f"{self.base_url}{path}", params=params, timeout=timeouts(20),
                                                headers={"Authorization": f"Bearer {self.token}"})
            except requests.RequestException as error:
                if attempt == ATTEMPTS - 1:
                    raise ServiceUnavailableError(f"amoCRM could not be reached ({error}).", service="amoCRM") from None
                self.sleep(_backoff(attempt))
                continue
            if response.status_code == 403 or _is_html(response):
                raise AmoCRMBlocked(response.status_code)
            if response.status_code == 401 and self.oauth is not None and not refreshed:
                self.token, refreshed = self.oauth.refresh(self.session), True
                continue
            if response.status_code == 401:
                raise ServiceError(f"amoCRM refused the token (HTTP 401): {BLOCKED}, or set a valid "
                                   "ANALYTICS_AMOCRM_TOKEN.", service="amoCRM", status=401)
            if response.status_code in RETRIED and attempt < ATTEMPTS - 1:
                self.sleep(_retry_after(response) or _backoff(attempt))
                continue
            if response.status_code == 204:
                return None
            if response.status_code == 200:
                return response.json()
            raise ServiceError(f"amoCRM answered HTTP {response.status_code} to {path}: {response.text[:200]}",
                               service="amoCRM", status=response.status_code)
        raise ServiceUnavailableError(f"amoCRM kept answering 'busy' or 'error' to {path}; try again later.",
                                      service="amoCRM")

    def pages(self, path: str, key: str, params: Mapping[str, Any] | None = None, *,
              first_page: int = 1) -> Iterator[tuple[int, list[dict[str, Any]]]]:
        """(page number, entities) of a list, 250 at a time from ``first_page``, until the API says there is no more."""
        page = first_page
        while True:
            answer = self.get(path, {**(params or {}), "page": page, "limit": PAGE_SIZE})
            if answer is None:
                return
            yield page, list(answer.get("_embedded", {}).get(key, []))
            if not answer.get("_links", {}).get("next"):
                return
            page += 1


def _is_html(response: requests.Response) -> bool:
    """The block answers nginx's HTML page, whatever its status: no JSON API answers text/html."""
    return "text/html" in response.headers.get("Content-Type", "") or response.text.lstrip()[:15].lower().startswith(
        ("<!doctype html", "<html"))


def _retry_after(response: requests.Response) -> float:
    try:
        return min(float(response.headers.get("Retry-After", "")), LONGEST_RETRY_AFTER)
    except ValueError:
        return 0.0


def _backoff(attempt: int) -> float:
    return min(0.5 * 2 ** attempt, 30.0)


def amocrm_for(settings: Settings) -> AmoCRM:
    """The configured account's client: its rate limit shared by every process of this home."""
    if settings.amocrm_url == DEMO:
        raise ConfigError("ANALYTICS_AMOCRM_URL=demo is answered by the demo app (`make run`) only: open the loader in "
                          "that app, or set the account's address (https://yourcompany.amocrm.ru) and its token.")
    if not settings.amocrm_url or not (settings.amocrm_token or settings.amocrm_refresh_token):
        raise ConfigError("amoCRM is not configured: set ANALYTICS_AMOCRM_URL and ANALYTICS_AMOCRM_TOKEN (a long-lived "
                          "token), or the OAuth settings ANALYTICS_AMOCRM_CLIENT_ID, _CLIENT_SECRET, _REFRESH_TOKEN and "
                          "_REDIRECT_URI, in the environment or .env.")
    oauth = None
    if settings.amocrm_client_id:
        oauth = OAuth(settings.amocrm_url.rstrip("/"), settings.amocrm_client_id, settings.amocrm_client_secret,
                      settings.amocrm_redirect_uri, settings.amocrm_refresh_token,
                      settings.reports_dir / ".amocrm-token.json")
    limit = RateLimit(settings.reports_dir / ".amocrm-requests")
    return AmoCRM(settings.amocrm_url, settings.amocrm_token, limit, oauth=oauth)

"""One HTTP session for every outside service: timeouts, retries with backoff on 429 and 5xx, ``Retry-After`` honoured.

The retrying is urllib3's :class:`~urllib3.util.retry.Retry` (well tested, used by requests itself),
not a loop of ours; we only choose its numbers and cap a server's ``Retry-After`` so one answer
cannot park a person's run for an hour.
"""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

RETRY_STATUSES = (429, 500, 502, 503, 504)
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 60.0
LONGEST_RETRY_AFTER = 60.0


class CappedRetry(Retry):
    """urllib3's Retry with a ceiling on the server's ``Retry-After``."""

    def get_retry_after(self, response):  # type: ignore[no-untyped-def]
        wait = super().get_retry_after(response)
        return None if wait is None else min(wait, LONGEST_RETRY_AFTER)


def http_session(*, retries: int = 5, backoff: float = 0.5, user_agent: str = "analytics-notebooks") -> requests.Session:
    """A session that retries idempotent requests on connection errors, 429 and 5xx with exponential backoff."""
    retry = CappedRetry(total=retries, connect=retries, read=retries, status=retries, backoff_factor=backoff,
                        backoff_max=30, status_forcelist=RETRY_STATUSES, allowed_methods=frozenset({"GET", "HEAD"}),
                        respect_retry_after_header=True, raise_on_status=False)
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = user_agent
    return session


def timeouts(read: float = READ_TIMEOUT) -> tuple[float, float]:
    """(connect, read) timeouts for one request."""
    return (CONNECT_TIMEOUT, read)

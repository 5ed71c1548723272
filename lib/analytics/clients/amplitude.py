"""Amplitude's Behavioral Cohorts API: request a cohort's export, wait until it is ready, stream the file to disk.

The flow and its answers follow ``shared/contracts/external-apis.md`` §1: ``GET /api/5/cohorts/request/{id}``
answers 202 with a ``request_id``; ``.../request-status/{request_id}`` answers 202 while the export is
prepared and 200 when done; ``.../request/{request_id}/file`` answers the CSV, or a 302 to a pre-signed
S3 link (requests drops our Authorization header on the way, as S3 wants). The file goes to disk in
blocks and is read back as Arrow columns (:meth:`CohortFile.read`), so two million members never sit in
memory as Python objects. Every refusal becomes a message a marketer can act on.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
import requests

from ..config import Settings
from ..context import raise_if_cancelled
from ..errors import CohortError, ConfigError, ParameterError, ServiceError, ServiceUnavailableError
from .http import http_session, timeouts

REGIONS = {"us": "https://amplitude.com", "eu": "https://analytics.eu.amplitude.com"}
COHORT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
BLOCK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"

Status = Callable[[str], None]


def check_cohort_id(cohort_id: object) -> str:
    """The cohort ID as Amplitude writes them (letters, digits, '_' and '-'), else a plain refusal."""
    text = cohort_id.strip() if isinstance(cohort_id, str) else ""
    if not COHORT_ID.fullmatch(text):
        raise ParameterError("cohort_id", cohort_id, "an Amplitude cohort ID is Latin letters, digits, '_' and '-' "
                             "(up to 64), like 'abc1def' — copy it from the cohort's page in Amplitude")
    return text


@dataclass(frozen=True)
class CohortFile:
    """A downloaded cohort export on disk (plain or gzip CSV, as Amplitude serves it)."""

    path: Path
    cohort_id: str
    request_id: str

    def read(self) -> pa.Table:
        """Members as columns ``amplitude_id`` (uint64, 0 where missing or malformed) and ``user_id`` (text, may be empty).

        Header names and values may carry a leading TAB (group cohorts do); both are stripped.
        """
        with self.path.open("rb") as head:
            compression = "gzip" if head.read(2) == GZIP_MAGIC else None
        with pa.input_stream(str(self.path), compression=compression) as stream:
            header = stream.read(64 * 1024).split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").strip()
        if not header:
            raise CohortError(f"Amplitude sent an empty file for cohort {self.cohort_id}.", service="Amplitude")
        names = _header_names(header)
        wanted = [name for name in ("amplitude_id", "user_id") if name in names]
        if "amplitude_id" not in wanted:
            raise CohortError(f"The file Amplitude sent for cohort {self.cohort_id} has no amplitude_id column "
                              f"(columns: {', '.join(names)}).", service="Amplitude")
        table = pv.read_csv(
            pa.input_stream(str(self.path), compression=compression),
            read_options=pv.ReadOptions(column_names=names, skip_rows=1, block_size=BLOCK * 8),
            convert_options=pv.ConvertOptions(column_types={name: pa.string() for name in names},
                                              include_columns=wanted, strings_can_be_null=False))
        amplitude_id = numeric_ids(table.column("amplitude_id"))
        user_id = (pc.utf8_trim(table.column("user_id"), " \t") if "user_id" in wanted
                   else pa.chunked_array([pa.array([""] * table.num_rows, pa.string())]))
        return pa.table({"amplitude_id": amplitude_id, "user_id": user_id})


def numeric_ids(texts: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    """Text IDs as uint64: surrounding spaces and TABs dropped, 0 where empty or not a number."""
    trimmed = pc.utf8_trim(texts, " \t")
    return pa.chunked_array([pc.if_else(pc.match_substring_regex(trimmed, r"^\d{1,19}$"), trimmed, "0")]).cast(pa.uint64())


def _header_names(header: str) -> list[str]:
    return [name.strip().strip('"').lstrip("\t").strip() for name in header.split(",")]


class AmplitudeClient:
    """Downloads cohorts; ``sleep`` and ``clock`` are injectable so waits can be tested without waiting."""

    def __init__(self, base_url: str, api_key: str, secret_key: str, *, wait_seconds: float = 300.0,
                 poll_seconds: float = 2.0, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        if not api_key or not secret_key:
            raise ConfigError("Amplitude's keys are not set: put the project's API key and secret key in "
                              "ANALYTICS_AMPLITUDE_API_KEY and ANALYTICS_AMPLITUDE_SECRET_KEY (environment or .env).")
        self.base_url = base_url.rstrip("/")
        self.session = session or http_session()
        self.session.auth = (api_key, secret_key)
        self.wait_seconds, self.poll_seconds = wait_seconds, poll_seconds
        self.sleep, self.clock = sleep, clock

    @classmethod
    def from_settings(cls, settings: Settings, **options: object) -> AmplitudeClient:
        if settings.amplitude_url == "demo":
            raise ConfigError("ANALYTICS_AMPLITUDE_URL=demo is answered by the demo app (`make run`) only; set "
                              "Amplitude's real keys, or open the report in that app.")
        region = settings.amplitude_region.strip().lower()
        if not settings.amplitude_url and region not in REGIONS:
            raise ConfigError(f"ANALYTICS_AMPLITUDE_REGION must be 'us' or 'eu', not {region!r}.")
        return cls(settings.amplitude_url or REGIONS[region], settings.amplitude_api_key, settings.amplitude_secret_key,
                   wait_seconds=settings.amplitude_wait_seconds, poll_seconds=settings.amplitude_poll_seconds,
                   **options)  # type: ignore[arg-type]

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> AmplitudeClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- the three steps ------------------------------------------------------------------------------------
    def download_cohort(self, cohort_id: str, folder: Path, status: Status | None = None,
                        cancelled: threading.Event | None = None) -> CohortFile:
        """Request the export of ``cohort_id``, wait until it is ready, and stream it into ``folder``.

        ``cancelled`` (the run's Cancel) ends the wait at once with :class:`RunCancelled`, not at the next poll.
        """
        cohort_id = check_cohort_id(cohort_id)
        say = status or (lambda _text: None)
        say(f"Asking Amplitude for cohort {cohort_id}…")
        request_id = self.request_export(cohort_id)
        self.wait_until_ready(cohort_id, request_id, say, cancelled)
        raise_if_cancelled(cancelled)
        say("Downloading the cohort file…")
        return self.download_file(cohort_id, request_id, folder)

    def request_export(self, cohort_id: str) -> str:
        response = self._get(f"/api/5/cohorts/request/{quote(cohort_id, safe='')}", cohort_id)
        request_id = str(_json(response).get("request_id") or "")
        if not request_id:
            raise ServiceError("Amplitude accepted the request but gave no request ID; try again.", service="Amplitude")
        return request_id

    def wait_until_ready(self, cohort_id: str, request_id: str, say: Status,
                         cancelled: threading.Event | None = None) -> None:
        started = self.clock()
        while True:
            raise_if_cancelled(cancelled)
            response = self._get(f"/api/5/cohorts/request-status/{quote(request_id, safe='')}", cohort_id)
            if response.status_code == 200:
                return
            waited = self.clock() - started
            if waited + self.poll_seconds > self.wait_seconds:
                raise CohortError(
                    f"Amplitude has not finished preparing cohort {cohort_id} after {waited:.0f} seconds. "
                    "Large cohorts can take minutes: try again shortly.", service="Amplitude")
            say(f"Amplitude is preparing cohort {cohort_id} ({waited:.0f} s so far)…")
            if cancelled is not None and self.sleep is time.sleep:
                cancelled.wait(self.poll_seconds)  # wakes the moment Cancel is pressed
            else:
                self.sleep(self.poll_seconds)

    def download_file(self, cohort_id: str, request_id: str, folder: Path) -> CohortFile:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"cohort-{request_id}.csv"
        partial = path.with_suffix(".part")
        url = f"/api/5/cohorts/request/{quote(request_id, safe='')}/file"
        with self._get(url, cohort_id, stream=True) as response, partial.open("wb") as target:
            for block in response.raw.stream(BLOCK, decode_content=True):
                target.write(block)
        partial.replace(path)
        if path.stat().st_size == 0:
            raise CohortError(f"Amplitude sent an empty file for cohort {cohort_id}.", service="Amplitude")
        return CohortFile(path, cohort_id, request_id)

    # --- one request and its refusals -----------------------------------------------------------------------
    def _get(self, path: str, cohort_id: str, *, stream: bool = False) -> requests.Response:
        try:
            response = self.session.get(self.base_url + path, timeout=timeouts(), stream=stream)
        except requests.RequestException as error:
            raise ServiceUnavailableError(f"Cannot reach Amplitude at {self.base_url} ({type(error).__name__}); "
                                          "check the network or try again later.", service="Amplitude") from None
        if response.status_code in (200, 202):
            return response
        response.close()
        raise _refusal(response.status_code, cohort_id)


def _refusal(status: int, cohort_id: str) -> ServiceError:
    if status in (401, 403):
        return ServiceError(f"Amplitude did not accept the API key and secret key (HTTP {status}). Check "
                            "ANALYTICS_AMPLITUDE_API_KEY and ANALYTICS_AMPLITUDE_SECRET_KEY, and the region: a project "
                            "in the EU needs ANALYTICS_AMPLITUDE_REGION=eu.", service="Amplitude", status=status)
    if status in (400, 404):
        return CohortError(f"Amplitude has no cohort {cohort_id} in this project (HTTP {status}). Copy the ID from "
                           "the cohort's page in Amplitude.", service="Amplitude", status=status)
    if status == 429 or status >= 500:
        return ServiceUnavailableError(f"Amplitude is busy or failing (HTTP {status}) after several tries; "
                                       "try again in a few minutes.", service="Amplitude", status=status)
    return ServiceError(f"Amplitude answered HTTP {status}; try again, and tell an analyst if it persists.",
                        service="Amplitude", status=status)


def _json(response: requests.Response) -> dict:
    try:
        data = response.json()
    except ValueError:
        raise ServiceError("Amplitude answered with something that is not JSON; try again.", service="Amplitude") from None
    return data if isinstance(data, dict) else {}

"""The Amplitude cohorts client against a local fake that follows the documented flow and its refusals."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from analytics.clients import AmplitudeClient, CohortFile, http_session
from analytics.errors import CohortError, ConfigError, ParameterError, ServiceError, ServiceUnavailableError
from analytics.testing.fakes import FakeAmplitude, cohort_csv
from analytics.testing.fakes.amplitude import API_KEY, SECRET_KEY


@contextmanager
def client(fake: FakeAmplitude, **options: object) -> Iterator[AmplitudeClient]:
    options = {"poll_seconds": 0.02, "wait_seconds": 5.0, "session": http_session(backoff=0.01), **options}
    with AmplitudeClient(fake.url, API_KEY, str(options.pop("secret", SECRET_KEY)), **options) as opened:  # type: ignore[arg-type]
        yield opened


def download(fake: FakeAmplitude, cohort_id: str, folder: Path, **options: object):  # type: ignore[no-untyped-def]
    with client(fake, **options) as opened:
        return opened.download_cohort(cohort_id, folder)


def test_the_documented_flow_gives_every_member(amplitude: FakeAmplitude, tmp_path: Path) -> None:
    amplitude.cohorts["abc1"] = cohort_csv(np.arange(1, 50_001), [str(i) if i % 3 else "" for i in range(1, 50_001)])
    amplitude.polls_before_ready = 3
    said: list[str] = []
    with client(amplitude) as opened:
        members = opened.download_cohort("abc1", tmp_path, said.append).read()
    assert members.num_rows == 50_000
    assert members.column("amplitude_id").to_pylist()[:3] == [1, 2, 3]
    assert members.column("user_id").to_pylist()[:3] == ["1", "2", ""]
    paths = [request.path for request in amplitude.requests]
    assert paths[0] == "/api/5/cohorts/request/abc1" and paths[-1].endswith("/file")
    assert sum("request-status" in path for path in paths) == 4  # three "not ready" answers, then "done"
    assert any("preparing" in text for text in said)


def test_two_429s_are_retried_honouring_retry_after(amplitude: FakeAmplitude, tmp_path: Path) -> None:
    amplitude.cohorts["abc1"] = cohort_csv(np.arange(1, 11))
    amplitude.throttle, amplitude.retry_after = 2, "1"
    assert download(amplitude, "abc1", tmp_path).read().num_rows == 10
    first, second, third = amplitude.requests[:3]
    assert [first.status, second.status, third.status] == [429, 429, 202]
    assert second.at - first.at >= 0.9 and third.at - second.at >= 0.9  # the server's Retry-After was waited


def test_a_gzip_file_behind_a_presigned_redirect_is_read_without_sending_our_keys(amplitude: FakeAmplitude,
                                                                                 tmp_path: Path) -> None:
    amplitude.cohorts["abc1"] = cohort_csv(np.arange(1, 1001))
    amplitude.gzip = amplitude.redirect = True
    assert download(amplitude, "abc1", tmp_path).read().num_rows == 1000
    storage = [request for request in amplitude.requests if request.path.startswith("/s3/")]
    assert len(storage) == 1 and not storage[0].authorized and storage[0].status == 200


def test_a_file_saved_gzipped_and_tab_prefixed_headers_are_read(tmp_path: Path) -> None:
    path = tmp_path / "cohort-x.csv"
    path.write_bytes(gzip.compress(b'"\tamplitude_id","\tuser_id"\n"\t7","\t70"\n"8",""\n"oops",""\n'))
    members = CohortFile(path, "x", "r").read()
    assert members.column("amplitude_id").to_pylist() == [7, 8, 0]
    assert members.column("user_id").to_pylist() == ["70", "", ""]


@pytest.mark.parametrize(("setup", "error", "words"), [
    ({"fail_status": 401}, ServiceError, "did not accept the API key"),
    ({"secret": "wrong"}, ServiceError, "did not accept the API key"),
    ({"cohort": "nope"}, CohortError, "has no cohort nope"),
    ({"never_ready": True}, CohortError, "has not finished preparing"),
    ({"fail_status": 503}, ServiceUnavailableError, "busy or failing"),
])
def test_refusals_become_plain_messages(amplitude: FakeAmplitude, tmp_path: Path, setup: dict, error: type,
                                        words: str) -> None:
    amplitude.cohorts["abc1"] = cohort_csv(np.arange(1, 11))
    setup = dict(setup)
    cohort = setup.pop("cohort", "abc1")
    secret = setup.pop("secret", SECRET_KEY)
    for name, value in setup.items():
        setattr(amplitude, name, value)
    with pytest.raises(error, match=words) as raised:
        download(amplitude, cohort, tmp_path / "files", secret=secret, wait_seconds=0.3)
    assert "Traceback" not in str(raised.value) and SECRET_KEY not in str(raised.value)
    if error is ServiceUnavailableError:
        assert len(amplitude.requests) == 6  # the first try and five retries with backoff
    assert not list((tmp_path / "files").glob("*.csv"))


def test_an_unreachable_amplitude_is_a_plain_message(tmp_path: Path) -> None:
    with FakeAmplitude() as gone:
        url = gone.url
    with pytest.raises(ServiceUnavailableError, match="Cannot reach Amplitude"):
        with AmplitudeClient(url, API_KEY, SECRET_KEY, session=http_session(backoff=0.01)) as opened:
            opened.download_cohort("abc1", tmp_path)


def test_missing_keys_say_where_to_put_them() -> None:
    with pytest.raises(ConfigError, match="ANALYTICS_AMPLITUDE_API_KEY"):
        AmplitudeClient("https://amplitude.com", "", "")


@pytest.mark.parametrize("cohort_id", ["1; DROP TABLE users", "../../etc/passwd", "..", "a" * 10_000, "когорта",
                                       "abc\x00def", "abc\ndef", "%2e%2e", "", " "])
def test_hostile_cohort_ids_never_reach_amplitude(amplitude: FakeAmplitude, tmp_path: Path, cohort_id: str) -> None:
    with pytest.raises(ParameterError, match="Amplitude cohort ID"):
        download(amplitude, cohort_id, tmp_path)
    assert amplitude.requests == []

"""The amoCRM client against the fake account (contracts §3): pages to the end, the rate limit shared by
processes, waits on 429 and 5xx, one refresh on 401, and a block (403, an HTML page) that stops at once."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from analytics import load_settings
from analytics.clients.amocrm import BLOCKED, AmoCRM, AmoCRMBlocked, amocrm_for
from analytics.errors import ConfigError, ServiceError
from analytics.testing.fakes import FakeAmoCRM


def client(fake: FakeAmoCRM, home: Path, **environment: str) -> AmoCRM:
    settings = load_settings({"ANALYTICS_HOME": str(home), **(environment or fake.settings())})
    return amocrm_for(settings)


def test_leads_come_in_pages_of_250_until_the_account_says_there_are_no_more(amocrm: FakeAmoCRM, tmp_path: Path) -> None:
    amocrm.add_leads(600)
    pages = list(client(amocrm, tmp_path).pages("/api/v4/leads", "leads"))
    assert [(page, len(leads)) for page, leads in pages] == [(1, 250), (2, 250), (3, 100)]
    assert [lead["id"] for _, leads in pages for lead in leads] == list(range(1, 601))
    assert list(client(amocrm, tmp_path).pages("/api/v4/contacts", "contacts")) == []  # 204 at once: nothing
    assert list(client(amocrm, tmp_path).pages("/api/v4/leads", "leads", first_page=3))[0][0] == 3  # a resumed load


def test_a_429_and_a_500_in_the_middle_are_waited_out(amocrm: FakeAmoCRM, tmp_path: Path) -> None:
    amocrm.add_leads(300)
    crm = client(amocrm, tmp_path)
    waits: list[float] = []
    crm.sleep = waits.append
    pages = crm.pages("/api/v4/leads", "leads")
    next(pages)
    amocrm.fail("429", "500")
    assert [len(leads) for _, leads in pages] == [50]
    assert waits[0] == 1.0  # the 429's Retry-After, then a backoff for the 500
    assert [status for _, _, status in amocrm.requests] == [200, 429, 500, 200]


def test_a_401_renews_the_oauth_token_once_and_saves_the_new_pair_first(amocrm: FakeAmoCRM, tmp_path: Path) -> None:
    amocrm.add_leads(10)
    crm = client(amocrm, tmp_path, **amocrm.oauth_settings())  # its access token has expired
    [(_, leads)] = list(crm.pages("/api/v4/leads", "leads"))
    assert len(leads) == 10 and [status for _, _, status in amocrm.requests] == [401, 200, 200]
    saved = (tmp_path / "reports" / ".amocrm-token.json")
    assert saved.stat().st_mode & 0o077 == 0 and "refresh-1" in saved.read_text()  # single-use: kept at once
    amocrm.fail("401")
    assert client(amocrm, tmp_path, **amocrm.oauth_settings()).get("/api/v4/leads") is not None  # the saved pair
    amocrm.fail("401")
    with pytest.raises(ServiceError, match="refused the token"):
        client(amocrm, tmp_path).get("/api/v4/leads")  # a long-lived token has nothing to renew


def test_a_block_stops_the_load_within_one_request_and_is_never_retried(amocrm: FakeAmoCRM, tmp_path: Path) -> None:
    amocrm.add_leads(800)
    pages = client(amocrm, tmp_path).pages("/api/v4/leads", "leads")
    next(pages)
    amocrm.fail("403")
    with pytest.raises(AmoCRMBlocked) as stopped:
        next(pages)
    assert BLOCKED in str(stopped.value) and "HTTP 403" in str(stopped.value)
    assert amocrm.after(403) == []  # not one request after the block


def test_an_html_page_with_200_is_a_block_too(amocrm: FakeAmoCRM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import analytics.clients.local_amocrm as fake_module

    monkeypatch.setattr(fake_module, "_HAL", {"Content-Type": "text/html"})  # a proxy's login page, say
    amocrm.add_leads(5)
    with pytest.raises(AmoCRMBlocked):
        client(amocrm, tmp_path).get("/api/v4/leads")
    assert len(amocrm.requests) == 1


def _pull(url: str, token: str, home: str, pages: int) -> None:
    crm = amocrm_for(load_settings({"ANALYTICS_HOME": home, "ANALYTICS_AMOCRM_URL": url, "ANALYTICS_AMOCRM_TOKEN": token}))
    for _ in range(pages):
        crm.get("/api/v4/leads", {"page": 1, "limit": 10})


def test_two_loaders_at_once_never_send_more_than_seven_requests_in_a_second(amocrm: FakeAmoCRM, tmp_path: Path) -> None:
    amocrm.add_leads(10)
    spawn = multiprocessing.get_context("spawn")
    loaders = [spawn.Process(target=_pull, args=(amocrm.url, amocrm.access_token, str(tmp_path), 20)) for _ in range(2)]
    for loader in loaders:
        loader.start()
    for loader in loaders:
        loader.join(60)
    assert [loader.exitcode for loader in loaders] == [0, 0] and len(amocrm.requests) == 40
    assert amocrm.most_in_one_second() <= 7


def test_without_settings_the_client_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ANALYTICS_AMOCRM_URL and ANALYTICS_AMOCRM_TOKEN"):
        amocrm_for(load_settings({"ANALYTICS_HOME": str(tmp_path)}))

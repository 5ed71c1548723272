"""Real HTTP requests to a real `analytics serve` bound beyond loopback (0.0.0.0): sign-in, groups, host names,
token, trusted proxy, rate limit, cookies, and no traceback reaching a person."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from analytics.access.users import UsersFile
from analytics.testing.clickhouse_server import free_port
from analytics.testing.http import Client, Reply

from .conftest import REPO, Served, report_folders, serving

TOKEN = "token-for-scripts-" + "x" * 24
PASSWORDS = {"anna": "anna-password-1", "ivan": "ivan-password-1", "boss": "boss-password-1", "victim": "victim-pass-1"}
GROUPS = {"anna": ["account_managers"], "ivan": ["analysts"], "boss": ["admin"], "victim": ["account_managers"]}
PLASTIC = "/voila/render/account_managers/plastic_cards.ipynb"
BUILDER = "/voila/render/analysts/export_builder.ipynb"
SERVED_NAME = "reports.example.test"
JOB = "weekly_builder"  # a scheduled job on the analysts' export builder


def add_people(home: Path) -> None:
    users = UsersFile(home / "users.json")
    for name, password in PASSWORDS.items():
        users.add(name, password, GROUPS[name])


@pytest.fixture(scope="module")
def shared(embedded_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Path]]:
    home = tmp_path_factory.mktemp("shared-home")
    add_people(home)
    notebooks = report_folders(home, "account_managers", "analysts/export_builder.ipynb")  # two groups to share between
    schedules = home / "schedules"
    schedules.mkdir()
    (schedules / "builder.yaml").write_text(f"job: {JOB}\nnotebook: analysts/export_builder.ipynb\n"
                                            "cron: '0 6 * * 1'\ntimezone: Europe/Moscow\n", encoding="utf-8")
    with serving(embedded_url, home, ip="0.0.0.0", ANALYTICS_SERVE_TOKEN=TOKEN, ANALYTICS_TRUSTED_PROXIES="127.0.0.2",
                 ANALYTICS_NOTEBOOKS=str(notebooks), ANALYTICS_SCHEDULES=str(schedules),
                 ANALYTICS_SERVE_HOSTS=SERVED_NAME, ANALYTICS_WARM_KERNELS="8") as served:  # every report warm
        yield served, home


def person(shared: tuple[Served, Path], name: str, source: str = "127.0.0.1") -> Client:
    client = Client(shared[0].port, source=source)
    reply = client.sign_in(name, PASSWORDS[name])
    assert reply.status == 302, reply.text
    return client


def kernel_of(page: Reply) -> str:
    found = re.search(r'"kernelId": *"([0-9a-f-]{36})"', page.text)
    assert found, "the report page names no kernel"
    return found.group(1)


def refused(reply: Reply) -> bool:
    """401/403, or a redirect to the sign-in page."""
    return reply.status in (401, 403) or (reply.status == 302 and "/login" in reply.headers.get("Location", ""))


def test_serving_beyond_loopback_without_sign_in_refuses_to_start(tmp_path: Path) -> None:
    env = {**os.environ, "ANALYTICS_HOME": str(tmp_path), "ANALYTICS_NOTEBOOKS": str(REPO / "notebooks")}
    env.pop("ANALYTICS_SERVE_TOKEN", None)
    done = subprocess.run([sys.executable, "-m", "analytics.cli", "serve", "--ip", "0.0.0.0", "--port", str(free_port())],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "needs a sign-in" in done.stderr and "analytics users add" in done.stderr and "Traceback" not in done.stderr
    # the app itself refuses too, however it is started
    app = subprocess.run([sys.executable, "-m", "analytics.web.app", str(REPO / "notebooks"), "--Voila.ip=0.0.0.0",
                          f"--port={free_port()}", "--no-browser"], env=env, capture_output=True, text=True, timeout=60)
    assert app.returncode == 1 and "needs a sign-in" in app.stderr


def test_without_credentials_every_page_kernel_websocket_and_download_is_refused(shared) -> None:  # type: ignore[no-untyped-def]
    boss = person(shared, "boss")
    kernel = kernel_of(boss.get(PLASTIC))
    stranger = Client(shared[0].port)
    for path in ("/", PLASTIC, BUILDER, "/voila/static/voila.js", "/exports/anna/plastic_cards_x.xlsx",
                 f"/api/kernels/{kernel}", "/voila/api/themes/x", "/voila/labextensions/x",
                 "/voila/templates/lab/static/x.css"):
        assert refused(stranger.get(path)), path
    assert refused(stranger.request("POST", f"/voila/api/shutdown/{kernel}", body=b""))
    assert refused(stranger.request("DELETE", f"/api/kernels/{kernel}"))
    assert stranger.websocket(f"/api/kernels/{kernel}/channels?session_id=x") in (401, 403)
    assert stranger.get("/api/kernels").status == 404  # no listing of kernels exists at all
    assert boss.get(f"/api/kernels/{kernel}").status == 200  # the kernel is still there


def test_signed_in_people_see_their_own_reports_only(shared) -> None:  # type: ignore[no-untyped-def]
    anna, ivan = person(shared, "anna"), person(shared, "ivan")
    start = anna.get("/")
    assert start.status == 200 and "Plastic cards issued" in start.text and "Export builder" not in start.text
    assert "Signed in as <b>anna</b>" in start.text
    theirs = ivan.get("/")
    assert "Export builder" in theirs.text and "Plastic cards issued" not in theirs.text
    assert anna.get(PLASTIC).status == 200


def test_outside_the_group_gets_403_on_the_page_its_kernel_websocket_and_files(shared) -> None:  # type: ignore[no-untyped-def]
    served, home = shared
    anna, ivan, boss = person(shared, "anna"), person(shared, "ivan"), person(shared, "boss")
    kernels = {kernel_of(anna.get(PLASTIC)) for _ in range(3)}  # warm kernels and kernels started on demand
    for kernel in kernels:
        assert anna.websocket(f"/api/kernels/{kernel}/channels?session_id=a") == 101
        assert ivan.websocket(f"/api/kernels/{kernel}/channels?session_id=i") == 403
        assert ivan.get(f"/api/kernels/{kernel}").status == 403
        assert ivan.request("POST", f"/voila/api/shutdown/{kernel}", body=b"").status == 403
    assert ivan.get(PLASTIC).status == 403 and "not shared with you" in ivan.get(PLASTIC).text
    folder = home / "reports" / "exports" / "anna"
    folder.mkdir(parents=True, exist_ok=True)
    name = "plastic_cards_Лента_2026-10-01_20261122-101010_0123456789abcdef.csv"
    (folder / name).write_text("a,b\n1,2\n")
    path = "/exports/anna/" + quote(name)
    assert anna.get(path).status == 200 and anna.get(path).body == b"a,b\n1,2\n"
    assert boss.get(path).status == 200  # admins may
    mine = ivan.get(path)
    assert mine.status == 403 and b"a,b" not in mine.body
    assert person(shared, "victim").get(path).status == 403  # same group, someone else's run


def test_only_the_configured_host_names_are_answered(shared) -> None:  # type: ignore[no-untyped-def]
    anna = person(shared, "anna")
    for path in ("/", "/login", PLASTIC, "/voila/static/voila.js"):
        reply = anna.get(path, Host="attacker.example")
        assert reply.status == 403 and b"Plastic" not in reply.body, path
    assert anna.get("/", Host=f"attacker.example:{shared[0].port}").status == 403
    assert anna.get("/", Host=f"{SERVED_NAME}:{shared[0].port}").status == 200
    assert anna.get("/", Host=f"localhost:{shared[0].port}").status == 200


def test_the_shared_token_works_as_a_header_and_in_a_link(shared) -> None:  # type: ignore[no-untyped-def]
    port = shared[0].port
    assert Client(port).get("/", Authorization=f"token {TOKEN}").status == 200
    assert refused(Client(port).get("/", Authorization="token wrong-token"))
    browser = Client(port)
    assert browser.get(f"/?token={TOKEN}").status == 200
    assert browser.get(PLASTIC).status == 200  # the link signed the browser in
    assert refused(Client(port).get("/?token=wrong"))


def test_a_proxy_user_header_is_trusted_only_from_the_proxy_addresses(shared) -> None:  # type: ignore[no-untyped-def]
    port = shared[0].port
    forged = Client(port, source="127.0.0.1").get("/", **{"X-Forwarded-User": "boss"})
    assert refused(forged)
    proxied = Client(port, source="127.0.0.2")
    page = proxied.get("/", **{"X-Forwarded-User": "anna"})
    assert page.status == 200 and "Plastic cards issued" in page.text and "Export builder" not in page.text
    grouped = proxied.get("/", **{"X-Forwarded-User": "someone@corp", "X-Forwarded-Groups": "analysts"})
    assert "Export builder" in grouped.text and "Plastic cards issued" not in grouped.text
    assert refused(proxied.get("/"))  # the proxy sent no name: nobody is signed in


def test_failed_sign_ins_are_rate_limited(shared) -> None:  # type: ignore[no-untyped-def]
    client = Client(shared[0].port, source="127.0.0.3")
    for _ in range(5):
        reply = client.sign_in("victim", "wrong password")
        assert reply.status == 401 and "do not match" in reply.text
    blocked = client.sign_in("victim", PASSWORDS["victim"])
    assert blocked.status == 429 and "Too many failed sign-ins" in blocked.text
    assert "analytics_session" not in client.cookies
    # never per name alone: failures elsewhere cannot lock the person out (issue 17); another name from the same
    # address has a looser limit of its own (MAX_ADDRESS_FAILURES)
    assert Client(shared[0].port, source="127.0.0.4").sign_in("victim", PASSWORDS["victim"]).status == 302
    assert Client(shared[0].port, source="127.0.0.3").sign_in("anna", PASSWORDS["anna"]).status == 302


def test_session_cookie_is_http_only_and_same_site_and_sign_out_ends_it(shared) -> None:  # type: ignore[no-untyped-def]
    client = Client(shared[0].port)
    xsrf = [line for line in client.get("/login").set_cookies() if line.startswith("_xsrf=")]
    assert xsrf and "SameSite=Lax" in xsrf[0]
    reply = client.sign_in("anna", PASSWORDS["anna"])
    session = [line for line in reply.set_cookies() if line.startswith("analytics_session=")]
    assert session and "HttpOnly" in session[0] and "SameSite=Lax" in session[0]
    start = client.get("/")
    assert start.status == 200
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', start.text)
    assert xsrf, "the start page has no sign-out form"
    assert client.request("POST", "/logout", body=f"_xsrf={xsrf.group(1)}".encode(),
                          headers={"Content-Type": "application/x-www-form-urlencoded"}).status == 302
    assert refused(client.get("/"))


def test_a_password_change_ends_older_sessions(shared) -> None:  # type: ignore[no-untyped-def]
    served, home = shared
    users = UsersFile(home / "users.json")
    users.add("temp", "first-password", ["account_managers"])
    client = Client(served.port)
    assert client.sign_in("temp", "first-password").status == 302 and client.get("/").status == 200
    users.add("temp", "second-password", ["account_managers"])
    assert refused(client.get("/"))
    users.remove("temp")


def test_no_traceback_or_server_path_reaches_the_browser_over_the_websocket(shared) -> None:  # type: ignore[no-untyped-def]
    anna = person(shared, "anna")
    kernel = kernel_of(anna.get(PLASTIC))
    session = uuid.uuid4().hex

    def message(msg_type: str, content: dict, protocol: str = "2.1.0") -> dict:
        return {"header": {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "session": session, "username": "anna",
                           "version": "5.3", "date": "2026-12-01T00:00:00Z"}, "parent_header": {},
                "metadata": {"version": protocol},
                "content": content, "channel": "shell", "buffers": []}

    control = uuid.uuid4().hex
    replies = anna.kernel_messages(kernel, [
        message("comm_open", {"comm_id": control, "target_name": "jupyter.widget.control", "data": {}}, "1.0.0"),
        message("comm_msg", {"comm_id": control, "data": {"method": "request_states"}})], listen_seconds=60,
        until=has_states)
    states = next(reply["content"]["data"]["states"] for reply in replies if has_states(reply))
    dropdowns = [model for model, state in states.items() if state["model_name"] == "DropdownModel"]
    pickers = [model for model, state in states.items()
               if state["model_name"] == "TextModel" and state["state"].get("placeholder") == "dd.mm.yyyy"]  # days
    assert dropdowns and pickers
    hostile = [message("comm_msg", {"comm_id": dropdowns[0], "data": {"method": "update", "state": {"index": 99999},
                                                                       "buffer_paths": []}}),
               message("comm_msg", {"comm_id": pickers[0], "data": {"method": "update",
                                                                     "state": {"value": {"year": "x'; DROP"}},
                                                                     "buffer_paths": []}}),
               message("comm_msg", {"comm_id": "no-such-comm", "data": {"method": "update", "state": {}}})]
    answers = anna.kernel_messages(kernel, hostile, listen_seconds=4)
    text = repr(answers)
    for leak in ("Traceback", "TraitError", "site-packages", "/lib/python", str(REPO)):
        assert leak not in text, leak


def has_states(reply: dict) -> bool:
    return reply.get("msg_type") == "comm_msg" and "states" in reply["content"].get("data", {})


def test_error_pages_show_no_traceback_or_path(shared) -> None:  # type: ignore[no-untyped-def]
    boss = person(shared, "boss")
    for path in ("/voila/render/account_managers/missing.ipynb", "/voila/render/..%2F..%2Fetc%2Fpasswd",
                 "/api/kernels/00000000-0000-0000-0000-000000000000", "/voila/render/account_managers/access.json"):
        reply = boss.get(path)
        assert reply.status >= 400, path
        for leak in ("Traceback", "site-packages", str(REPO), "/etc/passwd"):
            assert leak not in reply.text, (path, leak)


def test_a_scheduled_runs_page_opens_for_those_who_may_open_its_notebook(shared) -> None:  # type: ignore[no-untyped-def]
    served, home = shared
    page = home / "reports" / "runs" / JOB / "0123abcd.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text("<html><body>the executed export builder</body></html>", encoding="utf-8")
    (page.parent / "secret.txt").write_text("not a page")
    address = f"/runs/{JOB}/0123abcd.html"
    reply = person(shared, "ivan").get(address)  # an analyst: the job's notebook is theirs
    assert reply.status == 200 and reply.text == page.read_text(encoding="utf-8")
    assert refused(person(shared, "anna").get(address))  # an account manager
    assert refused(Client(served.port).get(address))
    ivan = person(shared, "ivan")
    for probe in (f"/runs/{JOB}/secret.txt", f"/runs/{JOB}/..%2F..%2Fusers.json", "/runs/no_such_job/0123abcd.html",
                  f"/runs/{JOB}/fffffff0.html"):
        assert ivan.get(probe).status in (403, 404), probe

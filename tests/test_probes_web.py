"""The web findings of the security probe (issue 17), each against a real `analytics serve` with a users file,
spoken to over real HTTP and websockets: path spellings of owner-only files, kernels that belong to the person
who opened them, the warm kernel's proof, redirects after sign-in, built-in names, sessions and sign-in limits,
audited range downloads, kernels without the token, and probing query arguments."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import psutil
import pytest

from analytics import connect
from analytics.access.identity import os_user, user_folder
from analytics.access.users import NAME, UserError, UsersFile
from analytics.testing.clickhouse_server import free_port
from analytics.testing.http import Client, Reply
from analytics.web.gate import safe_next
from analytics.web.kernel_link import KERNEL_SECRET_ENV, PROOF_HEADER, VisitorUnknown, kernel_proof, wait_for_visitor

from .conftest import Served, wait_until
from .test_sharing import JOB, PASSWORDS, PLASTIC, TOKEN, add_people, kernel_of, person, refused, shared

NEW_KERNEL = "?theme=dark"  # a page in another theme than the warm kernel's is rendered in a kernel started for it
__all__ = ["shared"]  # the module's app: the sharing tests' people, groups, token, proxy and scheduled job


def spellings(path: str) -> list[str]:
    """Other spellings of ``/exports/<folder>/<file>`` or ``/runs/<job>/<file>`` that name the same file on disk."""
    _, top, folder, name = path.split("/")
    return [path + "/", path + "//", path + "/.", f"/{top}//{folder}/{name}", f"/{top}/{folder}//{name}",
            f"/{top}/./{folder}/{name}", f"/{top}/{folder}/./{name}", f"/{top}/x/../{folder}/{name}",
            f"/{top}/x/..%2f{folder}/{name}", f"/{top}/x%2f..%2f{folder}/{name}", f"/{top}/{folder}%2f{name}/",
            f"/{top}/%2e/{folder}/{name}", f"/{top}/{folder}/{name}%00", f"//{top}/{folder}/{name}/"]


def test_every_other_spelling_of_an_owner_only_file_or_run_page_answers_404(shared) -> None:  # type: ignore[no-untyped-def]
    served, home = shared
    folder = home / "reports" / "exports" / "anna"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plastic_cards_probe_1.xlsx").write_bytes(b"anna's cards")
    run = home / "reports" / "runs" / JOB / "0badc0de.html"
    run.parent.mkdir(parents=True, exist_ok=True)
    run.write_text("<html><body>an analysts' run</body></html>", encoding="utf-8")
    download, page = "/exports/anna/plastic_cards_probe_1.xlsx", f"/runs/{JOB}/0badc0de.html"
    anna, victim, ivan = person(shared, "anna"), person(shared, "victim"), person(shared, "ivan")
    assert anna.get(download).status == 200 and anna.get(download).body == b"anna's cards"  # the owner's plain link
    assert victim.get(download).status == 403
    assert ivan.get(page).status == 200 and anna.get(page).status == 403
    for spelling in spellings(download):
        reply = victim.get(spelling)
        assert reply.status == 404 and b"anna's cards" not in reply.body, spelling
        assert Client(served.port).get(spelling).status == 404, spelling
    for spelling in spellings(page):
        reply = anna.get(spelling)
        assert reply.status == 404 and b"analysts' run" not in reply.body, spelling
    assert victim.get("/exports/anna").status == 404 and victim.get("/exports/anna/").status == 404
    assert victim.get("/runs/").status == 404


def app_kernels(served: Served) -> dict[str, int]:
    """The app's kernels as any local account sees them: ``ps`` shows each kernel's id in its command line."""
    found = {}
    for child in psutil.Process(served.process.pid).children(recursive=True):
        try:
            named = re.search(r"kernel-([0-9a-f-]{36})\.json", " ".join(child.cmdline()))
        except psutil.Error:
            continue
        if named:
            found[named.group(1)] = child.pid
    return found


def environment_of(pid: int) -> dict[str, str]:
    """A process's environment as it started, read the way only the same account can."""
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode("utf-8", "replace").split("\0") if "=" in item)


def test_a_warm_kernels_request_opens_only_for_the_apps_proof(shared) -> None:  # type: ignore[no-untyped-def]
    served, _ = shared
    anna = person(shared, "anna")
    warm = wait_until(lambda: app_kernels(served), 90, "the app started no kernel")
    secret = environment_of(next(iter(warm.values())))[KERNEL_SECRET_ENV]  # the app gave its kernels the secret
    for kernel in warm:  # a kernel id from `ps`, with nothing else, a wrong proof, or a session: refused
        assert Client(served.port).websocket(f"/voila/query/{kernel}") == 403
        assert anna.websocket(f"/voila/query/{kernel}") == 403
        assert Client(served.port).websocket(f"/voila/query/{kernel}", **{PROOF_HEADER: "0" * 64}) == 403
    unused = "00000000-0000-4000-8000-00000000abcd"  # not a real kernel: the test must not take a visitor's request
    other = "00000000-0000-4000-8000-00000000abce"
    assert Client(served.port).websocket(f"/voila/query/{unused}", **{PROOF_HEADER: kernel_proof(secret, other)}) == 403
    assert Client(served.port).websocket(f"/voila/query/{unused}", **{PROOF_HEADER: kernel_proof(secret, unused)}) == 101


def test_a_kernel_is_its_openers_alone(shared) -> None:  # type: ignore[no-untyped-def]
    served, _ = shared
    anna, victim, boss = person(shared, "anna"), person(shared, "victim"), person(shared, "boss")
    waiting = set(app_kernels(served))
    for kernel in waiting:  # a warm kernel nobody has been given yet is nobody's to use
        assert anna.get(f"/api/kernels/{kernel}").status == 403
        assert boss.get(f"/api/kernels/{kernel}").status == 403
    opened = {kernel_of(anna.get(PLASTIC)), kernel_of(anna.get(PLASTIC + NEW_KERNEL))}  # a warm one, a new one
    assert opened & waiting and opened - waiting
    for kernel in opened:
        assert anna.get(f"/api/kernels/{kernel}").status == 200
        assert anna.websocket(f"/api/kernels/{kernel}/channels?session_id=a") == 101
        for other in (victim, boss, Client(served.port)):  # same group, an admin, nobody signed in
            assert refused(other.get(f"/api/kernels/{kernel}"))
            assert other.websocket(f"/api/kernels/{kernel}/channels?session_id=x") in (401, 403)
            assert other.websocket(f"/voila/execution/{kernel}") in (401, 403, 404)  # 404: no progressive rendering
            assert other.websocket(f"/voila/query/{kernel}") in (401, 403)
            assert refused(other.request("POST", f"/voila/api/shutdown/{kernel}", body=b""))
            assert refused(other.request("DELETE", f"/api/kernels/{kernel}"))
        assert anna.get(f"/api/kernels/{kernel}").status == 200  # still running: nobody else could stop it


def test_a_warm_kernel_without_the_apps_secret_or_proof_stops_instead_of_running_for_nobody(
        shared, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    served, _ = shared
    for name, value in {"VOILA_PREHEAT": "True", "VOILA_KERNEL_ID": "00000000-0000-4000-8000-00000000abcf",
                        "VOILA_APP_PORT": str(served.port), "VOILA_SERVER_URL": "/"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(KERNEL_SECRET_ENV, raising=False)
    with pytest.raises(VisitorUnknown, match="could not be prepared"):
        wait_for_visitor()
    monkeypatch.setenv(KERNEL_SECRET_ENV, "not the app's secret")
    with pytest.raises(VisitorUnknown, match="could not learn who opened it"):
        wait_for_visitor()  # the app refuses the proof: the kernel stops, no one's report runs as the app's account
    assert KERNEL_SECRET_ENV not in os.environ  # used once, then gone from the kernel's environment


HOSTILE_NEXT = ["/\\evil.example/", "/\\/evil.example/path", "\\\\evil.example", "//evil.example/x", "/%2F%2Fevil.example",
                "%2F%2Fevil.example", "/%2f/evil.example", "/%5Cevil.example", "/%255C%255Cevil.example", "/\t/evil.example",
                "/%09/evil.example", "/\r\n//evil.example", "/%0d%0a//evil.example", "javascript:alert(1)",
                "JavaScript:alert(1)", "https://evil.example/", "http:/evil.example", "evil.example", "/\x00//evil.example"]


@pytest.mark.parametrize("hostile", HOSTILE_NEXT)
def test_after_sign_in_never_another_site(hostile: str) -> None:
    assert safe_next(hostile, "/") == "/"
    assert safe_next(hostile, "/reports/") == "/reports/"


def test_after_sign_in_the_apps_own_paths_are_kept() -> None:
    for own in ("/", "/voila/render/account_managers/plastic_cards.ipynb?partner_id=3&start=2026-10-01",
                "/voila/render/a%20b.ipynb"):
        assert safe_next(own, "/") == own
    assert safe_next("/reports/voila/render/x.ipynb", "/reports/") == "/reports/voila/render/x.ipynb"
    assert safe_next("/voila/render/x.ipynb", "/reports/") == "/reports/"


def test_the_sign_in_form_sends_a_hostile_next_to_the_start_page(shared) -> None:  # type: ignore[no-untyped-def]
    for hostile in HOSTILE_NEXT:
        client = Client(shared[0].port, source="127.0.0.21")
        form = client.get("/login?next=" + quote(hostile, safe=""))
        assert "evil.example" not in form.text, hostile
        reply = client.sign_in("anna", PASSWORDS["anna"], next_path=hostile)
        assert reply.status == 302 and reply.headers["Location"] == "/", hostile
    client = Client(shared[0].port, source="127.0.0.21")
    assert client.sign_in("anna", PASSWORDS["anna"], next_path=PLASTIC + "?partner_id=3").headers["Location"] == \
        PLASTIC + "?partner_id=3"


def built_in_names() -> list[str]:
    return ["token", "Token", os_user(), os_user().upper(), "scheduler:weekly_builder"]


def test_no_person_can_take_a_built_in_name(tmp_path: Path) -> None:
    users = UsersFile(tmp_path / "users.json")
    for name in built_in_names():
        with pytest.raises(UserError):
            users.add(name, "a-long-password", ["marketing"])
    assert not users  # nothing was written
    env = {**os.environ, "ANALYTICS_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "analytics.cli", "users", "add", "token", "--groups", "marketing",
                           "--password-stdin"], input="a-long-password\n", env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0 and "a name the app uses itself" in done.stderr and "Traceback" not in done.stderr
    folders = {name: user_folder(name) for name in [*built_in_names(), "anna", "_token", "u-0123456789abcdef"]}
    for name in built_in_names():
        assert folders[name].startswith("_") and folders[name] not in (folders["anna"], folders["_token"])
    assert not folders["_token"].startswith("_")  # a proxy's odd name gets a digest folder, never a built-in one
    assert folders["u-0123456789abcdef"] != "u-0123456789abcdef"  # nor a name shaped like someone's digest folder
    assert NAME.fullmatch("_token") is None  # a users-file name cannot start with the built-in folders' "_"


def test_a_hand_edited_users_file_or_a_proxy_cannot_sign_in_as_a_built_in_name(shared) -> None:  # type: ignore[no-untyped-def]
    served, home = shared
    users_file = home / "users.json"
    original = users_file.read_text(encoding="utf-8")
    data = json.loads(original)
    entry = data["users"]["anna"]  # anna's password hash, under the built-in names
    data["users"].update({name: {**entry, "groups": ["marketing"]} for name in built_in_names()})
    users_file.write_text(json.dumps(data), encoding="utf-8")
    try:
        for name in built_in_names():
            client = Client(served.port, source="127.0.0.31")
            assert client.sign_in(name, PASSWORDS["anna"]).status == 401, name
            client.cookies.clear()
            assert refused(client.get("/")), name
            proxied = Client(served.port, source="127.0.0.2").get("/", **{"X-Forwarded-User": name,
                                                                            "X-Forwarded-Groups": "admin"})
            assert refused(proxied), name
    finally:
        users_file.write_text(original, encoding="utf-8")
    assert person(shared, "anna").get("/").status == 200


def sign_out(client: Client, with_xsrf: bool = True) -> Reply:
    """What the start page's sign-out form sends."""
    start = client.get("/")
    found = re.search(r'<form class="sign-out" method="post" action="([^"]+)"[^>]*>.*?name="_xsrf" value="([^"]+)"', start.text)
    assert found, "the start page has no sign-out form"
    body = f"_xsrf={found.group(2)}".encode() if with_xsrf else b""
    return client.request("POST", found.group(1), body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})


def test_sign_out_is_a_form_post_and_ends_the_session_on_the_server(shared) -> None:  # type: ignore[no-untyped-def]
    served, home = shared
    anna = person(shared, "anna")
    copied = Client(served.port, cookies=dict(anna.cookies))  # the cookie, copied before sign-out
    assert anna.get("/logout").status == 200 and anna.get("/").status == 200  # a link or an image signs nobody out
    assert sign_out(anna, with_xsrf=False).status == 403 and anna.get("/").status == 200
    reply = sign_out(anna)
    assert reply.status == 302 and reply.headers["Location"] == "/login?signed_out=1"
    assert refused(anna.get("/"))
    assert refused(copied.get("/")) and refused(copied.get(PLASTIC))  # the copy ends with the session
    ended = home / "reports" / ".ended_sessions.json"
    assert stat.S_IMODE(ended.stat().st_mode) == 0o600  # kept across restarts, for the app's account only
    assert person(shared, "anna").get("/").status == 200  # signing in again makes a new session


def test_failed_sign_ins_elsewhere_never_lock_a_person_out(shared) -> None:  # type: ignore[no-untyped-def]
    port = shared[0].port
    attacker = Client(port, source="127.0.0.41")
    for _ in range(8):
        assert attacker.sign_in("victim", "guess-" + "x" * 8).status in (401, 429)
    assert attacker.sign_in("victim", PASSWORDS["victim"]).status == 429  # this address, this name: paused
    assert Client(port, source="127.0.0.42").sign_in("victim", PASSWORDS["victim"]).status == 302  # the person is not


def test_wrong_tokens_are_limited_per_address_like_wrong_passwords(shared) -> None:  # type: ignore[no-untyped-def]
    port = shared[0].port
    prober = Client(port, source="127.0.0.43")
    answers = [prober.get("/", Authorization=f"token wrong-{attempt}").status for attempt in range(12)]
    assert all(status in (302, 401) for status in answers[:5]) and set(answers[5:]) == {429}
    assert prober.get("/?token=another-wrong-one").status == 429
    paused = prober.get("/", Authorization=f"token {TOKEN}")
    assert paused.status == 429 and "Too many wrong tokens" in paused.text and int(paused.headers["Retry-After"]) > 0
    assert Client(port, source="127.0.0.44").get("/", Authorization=f"token {TOKEN}").status == 200  # another address


@pytest.fixture(scope="module")
def logged_app(embedded_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Path]]:
    """An app with people and no reports (no kernels to start), whose log the test reads."""
    home = tmp_path_factory.mktemp("logged-home")
    add_people(home)
    (home / "notebooks").mkdir()
    log = home / "app.log"
    port = free_port()
    env = {**os.environ, "ANALYTICS_DB_URL": embedded_url, "ANALYTICS_HOME": str(home),
           "ANALYTICS_NOTEBOOKS": str(home / "notebooks")}
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "analytics.cli", "serve", "--port", str(port), "--ip", "0.0.0.0"],
                                   env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: Client(port).get("/login").status == 200 if _listening(port) else False, 90,
                   "the app never answered")
        yield Served(f"http://127.0.0.1:{port}/", process, port), log
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_passwords_are_checked_off_the_servers_thread_while_pages_are_answered(logged_app) -> None:  # type: ignore[no-untyped-def]
    served, log = logged_app
    with ThreadPoolExecutor(9) as pool:
        sign_ins = [pool.submit(Client(served.port, source=f"127.0.0.{50 + n}").sign_in, "anna", f"wrong-{n}-password")
                    for n in range(8)]
        form = pool.submit(Client(served.port, source="127.0.0.60").get, "/login")
        assert form.result().status == 200
        assert [future.result().status for future in sign_ins] == [401] * 8
    written = log.read_text(encoding="utf-8", errors="replace")
    lines = [line for line in written.splitlines() if "sign-in of 'anna' checked" in line]
    assert len(lines) == 8, written[-3000:]
    assert all("on analytics-password_" in line and "MainThread" not in line for line in lines)


def test_a_download_in_ranges_is_audited_once_and_a_full_one_always(shared, embedded_url: str) -> None:  # type: ignore[no-untyped-def]
    served, home = shared
    folder = home / "reports" / "exports" / "anna"
    folder.mkdir(parents=True, exist_ok=True)
    parts, marker = "plastic_cards_in_parts_2.csv", "plastic_cards_marker_2.csv"
    (folder / parts).write_text("a,b\n" + "1,2\n" * 1000, encoding="utf-8")
    (folder / marker).write_text("a,b\n", encoding="utf-8")
    anna = person(shared, "anna")
    first = anna.get(f"/exports/anna/{parts}", Range="bytes=0-99")
    rest = anna.get(f"/exports/anna/{parts}", Range="bytes=100-")
    assert (first.status, rest.status) == (206, 206) and first.body + rest.body == (folder / parts).read_bytes()
    assert anna.get(f"/exports/anna/{parts}").status == 200  # a full download after it: a download of its own
    assert anna.get(f"/exports/anna/{marker}").status == 200

    def downloads() -> dict[str, int] | None:
        with connect(embedded_url) as db:
            rows = db.query("SELECT file, count() AS n FROM audit_log WHERE action = 'download' AND user = 'anna' "
                            "AND file IN (%(parts)s, %(marker)s) GROUP BY file", {"parts": parts, "marker": marker})
        found = dict(zip(rows["file"], rows["n"], strict=True))
        return found if found.get(marker) and found.get(parts, 0) >= 2 else None

    found = wait_until(downloads, 60, "the downloads never reached the audit trail")
    assert found == {parts: 2, marker: 1}


def test_no_kernel_inherits_the_token(shared) -> None:  # type: ignore[no-untyped-def]
    served, _ = shared
    anna = person(shared, "anna")
    opened = {kernel_of(anna.get(PLASTIC)), kernel_of(anna.get(PLASTIC + NEW_KERNEL))}  # a warm one, a new one
    kernels = wait_until(lambda: (found := app_kernels(served)) and opened <= set(found) and len(found) > len(opened)
                         and found, 90, "the app's kernels were not all found")  # plus the warm ones refilled
    assert TOKEN in environment_of(served.process.pid).values()  # the app was started with it
    warm = 0
    for kernel, pid in kernels.items():
        environment = environment_of(pid)
        assert "ANALYTICS_SERVE_TOKEN" not in environment and TOKEN not in "".join(environment.values()), kernel
        if environment.get("VOILA_PREHEAT") == "True":
            warm += 1
            assert environment.get(KERNEL_SECRET_ENV)
        else:
            assert KERNEL_SECRET_ENV not in environment  # a visitor kernel never waits for a request
    assert warm and warm < len(kernels)


def test_probing_paths_and_query_arguments_get_a_plain_page_and_start_no_kernel(shared) -> None:  # type: ignore[no-untyped-def]
    served, _ = shared
    boss = person(shared, "boss")
    before = set(app_kernels(served))
    probes = {"/voila/templates/lab/static/../..": 404, "/voila/templates/lab/static/..%2f..%2fstatic/x.css": 404,
              "/voila/render/x%00.ipynb": 404, f"{PLASTIC}%00": 404, "/voila/render/account_managers/%2e%2e/x.ipynb": 404,
              f"{PLASTIC}?template=..%2f..%2f": 400, f"{PLASTIC}?theme=..%2f": 400, f"{PLASTIC}?theme=x%00": 400,
              f"{PLASTIC}?template=lab&template=..": 400, "/?theme=..%2f..%2f": 400}
    for probe, status in probes.items():
        reply = boss.get(probe)
        assert reply.status == status, probe
        assert reply.headers["Content-Type"].startswith("text/html") and "Traceback" not in reply.text, probe
        assert "kernelId" not in reply.text, probe
    started = {kernel: pid for kernel, pid in app_kernels(served).items() if kernel not in before}
    visitors = [kernel for kernel, pid in started.items() if environment_of(pid).get("VOILA_PREHEAT") != "True"]
    assert visitors == []  # no probe started a kernel (a warm kernel refilling a pool may have started)

"""The web findings of the security probe (issue 17), each against a real `analytics serve` with a users file,
spoken to over real HTTP and websockets: path spellings of owner-only files, kernels that belong to the person
who opened them, the warm kernel's proof, redirects after sign-in, built-in names, sessions and sign-in limits,
audited range downloads, kernels without the token, and probing query arguments."""

from __future__ import annotations

from analytics.testing.http import Client

from .test_sharing import JOB, person, shared

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

"""Alerts: formats within Slack's limits, the durable outbox, and delivery to a local Slack through outages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from analytics import load_settings
from analytics.alerts import Alert, FileTransport, Outbox, SlackBot, SlackWebhook, alert_id, deliver
from analytics.alerts.formats import blocks, text
from analytics.testing.fakes import FakeSlack
from analytics.testing.fakes.slack import BOT_TOKEN

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def an_alert(name: str, **changes: object) -> Alert:
    values = {"id": alert_id("test", name), "kind": "anomaly", "title": f"events: {name} fell 60%",
              "lines": ("*Observed:* 210 (expected 420 … 610)", "*Since:* 15.11.2026 07:00 UTC"), "job": "events"}
    return Alert(**{**values, **changes})  # type: ignore[arg-type]


def test_block_kit_stays_within_slacks_limits() -> None:
    huge = an_alert("huge", title="x" * 400, lines=tuple("é" * 900 for _ in range(300)), link="/runs/" + "a" * 3000)
    rendered = blocks(huge)
    assert len(rendered) <= 50
    assert len(rendered[0]["text"]["text"]) <= 150
    sections = [block["text"]["text"] for block in rendered if block["type"] == "section"]
    assert all(len(section) <= 3000 for section in sections) and sum(map(len, sections)) <= 12_000
    assert rendered[-2]["elements"][0]["text"].startswith("…and ")  # what did not fit is counted, not dropped silently
    assert text(an_alert("small")).splitlines()[0] == "[ALERT] events: small fell 60%"


def test_the_outbox_queues_an_alert_once_and_the_file_transport_writes_it(tmp_path: Path) -> None:
    box, transport = Outbox(tmp_path / "alerts"), FileTransport(tmp_path / "messages")
    assert box.put(an_alert("a")) and not box.put(an_alert("a"))
    assert box.flush(transport).sent == 1
    assert not box.put(an_alert("a"))  # already sent: a rerun of the job sends no duplicate
    assert box.flush(transport).sent == 0
    [written] = sorted((tmp_path / "messages").glob("*.txt"))
    assert "events: a fell 60%" in written.read_text(encoding="utf-8")
    assert [entry["status"] for entry in box.history()] == ["sent"]


def _flush_in_a_new_process(home: Path, webhook: str) -> dict:
    """A restarted scheduler: a fresh process that only flushes the outbox."""
    code = ("import json; from analytics import load_settings; from analytics.alerts import deliver\n"
            "report = deliver(load_settings(), [])\nprint(json.dumps(report.__dict__))")
    env = {**os.environ, "ANALYTICS_HOME": str(home), "ANALYTICS_SLACK_WEBHOOK_URL": webhook}
    for proxy in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        env.pop(proxy, None)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_slack_down_then_erroring_then_rate_limiting_every_alert_arrives_once_across_a_restart(
        tmp_path: Path, slack: FakeSlack) -> None:
    settings = load_settings(home=tmp_path, slack_webhook_url=slack.webhook_url)
    alerts = [an_alert(name) for name in ("card_show", "errors", "offer_view")]
    slack.down()  # connection refused
    report = deliver(settings, alerts)
    assert report is not None and (report.sent, report.waiting) == (0, 3) and "could not be reached" in report.error
    slack.up()
    slack.fail(*["500"] * 4)  # every try of this flush answers 500 rollup_error
    report = deliver(settings, [an_alert("card_show")])  # the same alert raised again while Slack was down
    assert (report.sent, report.waiting) == (0, 3) and "500" in report.error
    slack.fail("429")  # then a rate limit, honoured, and service is back
    answer = _flush_in_a_new_process(tmp_path, slack.webhook_url)
    assert (answer["sent"], answer["waiting"]) == (3, 0)
    assert [m["text"].splitlines()[0] for m in slack.messages] == [f"[ALERT] {a.title}" for a in alerts]
    assert _flush_in_a_new_process(tmp_path, slack.webhook_url)["sent"] == 0
    assert len(slack.messages) == 3
    statuses = [entry["status"] for entry in Outbox(tmp_path / "reports" / "alerts").history()]
    assert statuses.count("sent") == 3 and statuses.count("failed") == 2  # every delivery attempt is recorded


def test_retries_honour_retry_after_and_retry_server_errors(tmp_path: Path, slack: FakeSlack) -> None:
    slack.fail("503", "429")
    box = Outbox(tmp_path)
    box.put(an_alert("one"))
    assert box.flush(SlackWebhook(slack.webhook_url)).sent == 1
    times = [at for at, _, _ in slack.requests]
    assert [status for _, _, status in slack.requests] == [503, 429, 200]
    assert times[2] - times[1] >= 1.0  # Retry-After: 1


def test_a_bot_attaches_the_chart_and_edits_the_message_when_the_episode_resolves(tmp_path: Path, slack: FakeSlack) -> None:
    chart = tmp_path / "chart.png"
    chart.write_bytes(PNG)
    box, bot = Outbox(tmp_path / "alerts"), SlackBot(BOT_TOKEN, "C0ALERTS", base_url=slack.api_url)
    opening = an_alert("offer_view", chart=str(chart))
    box.put(opening)
    box.put(an_alert("offer_view-resolved", kind="resolved", title="Back to normal: offer_view", replaces=opening.id))
    assert box.flush(bot).sent == 2
    post, edit, follow_up = slack.messages
    assert post["method"] == "chat.postMessage" and post["channel"] == "C0ALERTS"
    assert (edit["method"], edit["ts"]) == ("chat.update", post["ts"])
    assert follow_up["thread_ts"] == post["ts"]
    assert slack.uploads == [{"file_id": "F00000001", "bytes": len(PNG)}]


def test_a_refusal_that_needs_a_person_keeps_the_alert_waiting(tmp_path: Path, slack: FakeSlack) -> None:
    box = Outbox(tmp_path)
    box.put(an_alert("one"))
    report = box.flush(SlackBot("xoxb-revoked", "C0ALERTS", base_url=slack.api_url))
    assert (report.sent, report.failed, report.waiting) == (0, 1, 1) and "invalid_auth" in report.error
    assert box.flush(SlackBot(BOT_TOKEN, "C0ALERTS", base_url=slack.api_url)).sent == 1


@pytest.mark.parametrize("target", ["file", "slack"])
def test_without_slack_settings_alerts_go_to_files(tmp_path: Path, target: str) -> None:
    report = deliver(load_settings(home=tmp_path), [an_alert("x")], target)
    assert report is not None and report.sent == 1
    assert list((tmp_path / "reports" / "alerts" / "messages").glob("*.txt"))
    assert deliver(load_settings(home=tmp_path), [an_alert("y")], "none") is None


def test_the_fake_refuses_a_webhook_body_without_text(slack: FakeSlack) -> None:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(slack.webhook_url, data=b"{}", headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)  # noqa: S310 - a local fake
    assert refused.value.code == 400 and refused.value.read() == b"no_text"


KILLED_WHILE_QUEUEING = """
import os, signal, sys
from analytics import load_settings
from analytics.alerts import Alert, Outbox, deliver

queued = []
original = Outbox.put
def put_then_die(self, alert):
    if len(queued) == 2:
        os.kill(os.getpid(), signal.SIGKILL)  # killed between two alerts of one scan
    queued.append(alert.id)
    return original(self, alert)
Outbox.put = put_then_die
deliver(load_settings(), [Alert(id=f"a{n}", kind="anomaly", title=f"alert {n}") for n in range(3)])
"""


def test_a_run_killed_while_queueing_leaves_whole_alerts_and_the_rerun_sends_each_once(tmp_path: Path,
                                                                                      slack: FakeSlack) -> None:
    env = {**os.environ, "ANALYTICS_HOME": str(tmp_path), **slack.webhook_settings()}
    killed = subprocess.run([sys.executable, "-c", KILLED_WHILE_QUEUEING], env=env, capture_output=True, timeout=120)
    assert killed.returncode == -9
    waiting = sorted(path.name for path in (tmp_path / "reports" / "alerts" / "outbox").iterdir())
    assert waiting == ["a0.json", "a1.json"]  # whole files only, nothing half-written
    settings = load_settings(home=tmp_path, slack_webhook_url=slack.webhook_url)
    for _ in range(2):  # the job runs again, twice
        deliver(settings, [Alert(id=f"a{n}", kind="anomaly", title=f"alert {n}") for n in range(3)])
    assert sorted(message["text"] for message in slack.messages) == [f"[ALERT] alert {n}" for n in range(3)]

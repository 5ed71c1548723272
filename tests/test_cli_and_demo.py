"""The CLI interface other tools use, and the demo warehouse on both backends."""

from __future__ import annotations

import csv
import io
import subprocess
import sys

import pytest

from analytics import Database
from analytics.cli import main
from analytics.warehouse import DEMO_TRUTH, WAREHOUSE, demo


def run_cli(*args: str) -> str:
    completed = subprocess.run([sys.executable, "-m", "analytics.cli", *args], capture_output=True, text=True,
                               check=False, timeout=300)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_demo_data_then_sql_gives_the_same_count_on_both_backends(tmp_path, server_url) -> None:  # type: ignore[no-untyped-def]
    embedded = f"chdb://{tmp_path / 'fresh'}"
    run_cli("demo-data", "--scale", "small", "--seed", "42", "--url", embedded)
    counts = [run_cli("sql", "--url", url, "select count() from events") for url in (embedded, server_url)]
    assert counts[0] == counts[1]
    header, value = counts[0].splitlines()
    assert header == "count()" and int(value) > 100_000


def test_every_table_has_the_same_checksum_on_both_backends(embedded: Database, server: Database) -> None:
    for table in {**WAREHOUSE, **DEMO_TRUTH}:
        assert embedded.checksum(table) == server.checksum(table), table


def test_sql_prints_csv_with_header(embedded_url: str) -> None:
    output = run_cli("sql", "--url", embedded_url,
                     "SELECT partner_id, name, created_at FROM partners WHERE name LIKE '%ё%' ORDER BY partner_id")
    rows = list(csv.reader(io.StringIO(output)))
    assert rows[0] == ["partner_id", "name", "created_at"]
    assert any("ё" in row[1] for row in rows[1:])


def test_sql_error_is_a_plain_message(embedded_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sql", "--url", embedded_url, "SELECT nope FROM events"]) == 1
    assert capsys.readouterr().err.strip() == "Error: There is no column named 'nope'."


def test_same_seed_same_data_other_seed_other_data() -> None:
    first, again, other = demo.generate("small", 7), demo.generate("small", 7), demo.generate("small", 8)
    assert first["events"].equals(again["events"]) and first["cards"].equals(again["cards"])
    assert not first["events"].equals(other["events"])


def test_demo_shapes(embedded: Database) -> None:
    weekly = embedded.query("SELECT toDayOfWeek(event_date) AS weekday, count() AS n FROM events GROUP BY weekday")
    by_day = dict(zip(weekly.weekday, weekly.n, strict=True))
    assert by_day[6] > by_day[3] * 1.1  # Saturdays are busier than Wednesdays
    partners = embedded.query("SELECT partner_id, count() AS n FROM cards GROUP BY partner_id ORDER BY n DESC")
    assert partners.n.iloc[0] > 5 * partners.n.iloc[-1]  # a long tail of partner sizes
    numbers = embedded.query("SELECT card_number FROM cards").card_number
    assert numbers.str.len().between(16, 19).all() and numbers.str.startswith("0").any()
    assert embedded.scalar("SELECT count() FROM users WHERE region = 'Москва'") > 0


def test_injected_anomalies_are_visible_and_labeled(embedded: Database) -> None:
    truth = embedded.query("SELECT * FROM demo_anomalies WHERE kind = 'drop'").iloc[0]
    daily = embedded.query("SELECT event_date, count() AS n FROM events WHERE event = %(e)s GROUP BY event_date",
                           {"e": truth.event}).set_index("event_date").n
    inside = daily[(daily.index >= truth.start_date) & (daily.index <= truth.end_date)].mean()
    before = daily[daily.index < truth.start_date].tail(14).mean()
    assert inside < before * 0.6


def test_experiment_effect_matches_the_truth(embedded: Database) -> None:
    effects = embedded.query("SELECT event, relative_effect FROM demo_experiment_effects "
                             "WHERE experiment = 'new_onboarding'").set_index("event").relative_effect
    groups = embedded.query(
        "SELECT variant, sumIf(n, after) / sumIf(n, NOT after) AS growth FROM ("
        " SELECT a.variant AS variant, e.event_time >= a.assigned_at AS after, count() AS n"
        " FROM (SELECT user_id, event_time FROM events WHERE event = 'app_open') AS e"
        " ALL INNER JOIN (SELECT user_id, variant, assigned_at FROM experiment_assignments"
        "                 WHERE experiment = 'new_onboarding') AS a USING user_id"
        " GROUP BY variant, after) GROUP BY variant").set_index("variant").growth
    measured = groups["test"] / groups["control"] - 1
    assert effects["app_open"] > 0 and effects["unsubscribe"] == 0
    assert measured == pytest.approx(effects["app_open"], abs=0.05)

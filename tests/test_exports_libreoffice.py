"""LibreOffice (Debian's, headless) opens our XLSX and sees the database values."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import pytest

from analytics import Database
from analytics.exports import export
from analytics.testing import ensure_debian_package


@pytest.fixture(scope="session")
def soffice() -> str:
    return ensure_debian_package("libreoffice-calc-nogui", ("/usr/bin/soffice", "/usr/bin/libreoffice"))


def convert_to_csv(soffice: str, xlsx: Path, folder: Path) -> list[list[str]]:
    profile = (folder / "profile").as_uri()
    subprocess.run([soffice, f"-env:UserInstallation={profile}", "--headless", "--convert-to",
                    "csv:Text - txt - csv (StarCalc):44,34,76,1", "--outdir", str(folder), str(xlsx)],
                   check=True, capture_output=True, timeout=180)
    with open(folder / (xlsx.stem + ".csv"), encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def test_libreoffice_reads_the_database_values(db: Database, soffice: str, tmp_path: Path) -> None:
    sql = ("SELECT c.card_number AS card_number, c.barcode AS barcode, c.added_at AS added_at, p.name AS partner "
           "FROM cards AS c ALL INNER JOIN partners AS p USING partner_id ORDER BY c.card_id LIMIT 3000")
    result = export(db.iter_chunks(sql), tmp_path, "cards", {})
    rows = convert_to_csv(soffice, result.path, tmp_path)
    expected = db.query(sql)
    assert rows[0] == ["card_number", "barcode", "added_at", "partner"]
    assert [row[0] for row in rows[1:]] == expected.card_number.tolist()
    assert [row[1] for row in rows[1:]] == expected.barcode.tolist()
    assert [row[2] for row in rows[1:]] == [t.strftime("%d.%m.%Y %H:%M:%S") for t in expected.added_at]
    assert [row[3] for row in rows[1:]] == expected.partner.tolist()


def test_libreoffice_runs_no_formula(soffice: str, tmp_path: Path) -> None:
    import pyarrow as pa

    result = export([pa.table({"text": ["=1+2", "=HYPERLINK(\"http://example.com\")", "@A1", "-5"]})], tmp_path, "x", {})
    rows = convert_to_csv(soffice, result.path, tmp_path)
    assert [row[0] for row in rows[1:]] == ["=1+2", "=HYPERLINK(\"http://example.com\")", "@A1", "-5"]

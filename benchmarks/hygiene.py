"""Contact-list hygiene, measured: rows/s end to end (read + clean) for 100,000 and 1,000,000 rows, against an empty
store and against 100,000 stored CRM contacts, beside the per-row Python a spreadsheet script would be.

1. ``analytics.hygiene``: ``read_source`` on the generated Windows-1251 file (:mod:`analytics.hygiene.sample`,
   10% planted duplicates, 3% garbage), ``stored_keys`` (every phone and e-mail of the stored contacts and
   lists), ``clean_rows`` with the mobiles/landlines split. Each run in a fresh process, whose peak memory (its
   VmHWM, imports included) is reported.
2. The baseline, in the same run: ``csv.reader`` over the decoded file, ``phonenumbers.parse``/``format_number``
   and ``stdnum`` called row by row in a plain loop, an e-mail regex, a dict for duplicates (empty store).

Run: ``.venv/bin/python benchmarks/hygiene.py [--rows 100000 1000000] [--server]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from analytics import connect
from analytics.hygiene import sample
from analytics.testing import ClickHouseServer
from analytics.testing.figures import print_table

REPO = Path(__file__).resolve().parents[1]
STORED = 100_000
# Peak memory of the measured process: VmHWM, not ru_maxrss, which Linux carries over from the parent through
# fork/vfork + exec (the parent holds the generated rows, so ru_maxrss would report the parent's peak).
PEAK = """
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""
CHILD = PEAK + """
import json, sys, time
from pathlib import Path
from analytics import connect
from analytics.hygiene import clean, dedup
from analytics.hygiene.read import read_source

path, url = Path(sys.argv[1]), sys.argv[2]
started = time.perf_counter()
with connect(url) as db:
    stored = dedup.stored_keys(db)
keys = time.perf_counter() - started
source = read_source(path)
mapping = clean.Mapping(phone="Телефон", email="Эл. почта", inn="ИНН", name="ФИО")
outcome = clean.clean_rows(source, mapping, clean.Options(split_by_kind=True), stored)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "keys_seconds": keys, "stored_keys": len(stored),
                  "peak_mb": peak_mb(),
                  "clean": outcome.clean.num_rows, "duplicates": outcome.duplicates.num_rows,
                  "rejected": outcome.rejected.num_rows}))
"""
BASELINE = PEAK + """
import csv, json, re, sys, time
import phonenumbers
from stdnum.ru import inn as stdnum_inn

started = time.perf_counter()
email_shape = re.compile(r"^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$")
seen, clean, duplicates, rejected = {}, [], [], []
with open(sys.argv[1], encoding="cp1251", newline="") as handle:
    reader = csv.reader(handle, delimiter=";")
    next(reader)
    for number, (name, phone, email, inn, city) in enumerate(reader, start=2):
        keys, problems = [], []
        phone, email, inn = " ".join(phone.split()), email.strip(), inn.strip()
        if phone:
            try:
                parsed = phonenumbers.parse(phone, "RU")
                if not phonenumbers.is_valid_number(parsed):
                    raise ValueError(phone)
                keys.append(("phone", phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)))
                phonenumbers.number_type(parsed)
            except (phonenumbers.NumberParseException, ValueError):
                problems.append("phone: not a number")
        if email:
            if email_shape.match(email):
                keys.append(("email", email.lower()))
            else:
                problems.append("e-mail: not an address")
        if inn:
            if stdnum_inn.is_valid(inn):
                keys.append(("inn", inn))
            else:
                problems.append("INN: checksum wrong")
        if problems or not keys:
            rejected.append((number, "; ".join(problems) or "no phone, e-mail or INN"))
            continue
        first = next((seen[key] for key in keys if key in seen), None)
        if first is None:
            clean.append(number)
            for key in keys:
                seen.setdefault(key, number)
        else:
            duplicates.append((number, first))
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb(),
                  "clean": len(clean), "duplicates": len(duplicates), "rejected": len(rejected)}))
"""


def child(script: str, *arguments: str) -> dict:
    done = subprocess.run([sys.executable, "-c", script, *arguments], capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(REPO / "lib")})
    if done.returncode:
        raise SystemExit(f"A measured run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(size: int, stores: dict[str, str], rows: list[tuple[str, str, str]], folder: Path) -> None:
    truth = sample.generate(folder / f"list-{size}.csv", size, stored_extra=max(0, STORED - size // 19))
    megabytes = truth.path.stat().st_size / 1e6
    for label, url in stores.items():
        with connect(url) as db:
            for table in ("crm_contacts", "crm_checkpoints"):
                db.drop_table(table)
            if "stored" in label:
                sample.store_contacts(db, truth.contacts)
        result = child(CHILD, str(truth.path), url)
        rows.append((f"{size:,} rows ({megabytes:.0f} MB, cp1251), read + clean, {label}", "analytics.hygiene",
                     f"{size / result['seconds']:,.0f} rows/s ({result['seconds']:.1f} s)"))
        if result["stored_keys"]:
            rows.append((f"  of which reading {result['stored_keys']:,} stored keys", "",
                         f"{result['keys_seconds']:.1f} s"))
        rows.append(("  peak memory (VmHWM, imports included)", "", f"{result['peak_mb']:,.0f} MB"))
        rows.append(("  clean / duplicates / rejected", "",
                     f"{result['clean']:,} / {result['duplicates']:,} / {result['rejected']:,}"))
    base = child(BASELINE, str(truth.path))
    rows.append((f"{size:,} rows, per-row Python (phonenumbers per row, dict), empty store", "baseline",
                 f"{size / base['seconds']:,.0f} rows/s ({base['seconds']:.1f} s)"))
    rows.append(("  peak memory (VmHWM, imports included)", "", f"{base['peak_mb']:,.0f} MB"))
    rows.append(("  clean / duplicates / rejected", "",
                 f"{base['clean']:,} / {base['duplicates']:,} / {base['rejected']:,}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--server", action="store_true", help="also read the stored keys from a ClickHouse 18.16 server")
    arguments = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-hygiene-"))
    embedded = f"chdb://{folder / 'store'}"
    stores = {"empty store": embedded, f"{STORED:,} stored contacts (embedded)": embedded}
    rows: list[tuple[str, str, str]] = []
    if arguments.server:
        with ClickHouseServer() as server:
            stores[f"{STORED:,} stored contacts (server 18.16)"] = server.url
            for size in arguments.rows:
                measure(size, stores, rows, folder)
    else:
        for size in arguments.rows:
            measure(size, stores, rows, folder)
    print_table(rows, "figure")


if __name__ == "__main__":
    main()

"""The scheduler's overhead: one scheduled run of a trivial notebook against plain papermill.

Ours: ``analytics.scheduler.jobs.run_job`` as the scheduler calls it for a tick: the run lock, a child
process running papermill, the executed notebook kept under reports/runs/<job>/, its HTML rendering,
the ``job_runs`` row written to the embedded store. Baseline: ``papermill in.ipynb out.ipynb`` run
from the command line, which is what a crontab line would do. Each is timed ``--repeat`` times; the
median is reported.

Run: ``.venv/bin/python benchmarks/scheduler.py [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from analytics import load_settings
from analytics.scheduler import Schedule
from analytics.scheduler.jobs import run_job
from analytics.testing.figures import print_rows


def trivial_notebook(folder: Path) -> Path:
    book = nbformat.v4.new_notebook()
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    book.metadata["language_info"] = {"name": "python"}
    book.cells = [nbformat.v4.new_code_cell('n: "int[0, 100]" = 1  # A number', metadata={"tags": ["parameters"]}),
                  nbformat.v4.new_code_cell("print(n + 1)")]
    path = folder / "trivial.ipynb"
    nbformat.write(book, path)
    return path


def timed(action) -> float:  # type: ignore[no-untyped-def]
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        folder = Path(home)
        notebook = trivial_notebook(folder)
        settings = load_settings(home=folder / "home", notebooks=folder)
        schedule = Schedule("trivial", notebook, "* * * * *", "UTC", {"n": 41}, alert="none")
        papermill = Path(sys.executable).with_name("papermill")
        plain, ours = [], []
        for index in range(options.repeat):
            plain.append(timed(lambda index=index: subprocess.run(
                [str(papermill), str(notebook), str(folder / f"out{index}.ipynb"), "-p", "n", "41", "--no-progress-bar"],
                check=True, capture_output=True)))
            ours.append(timed(lambda: run_job(settings, schedule, dt.datetime.now(dt.UTC).replace(tzinfo=None))))
    rows = [["papermill CLI (a crontab line)", f"{statistics.median(plain):.2f}", f"{min(plain):.2f}"],
            ["analytics run_job (lock, child, HTML, job_runs row)", f"{statistics.median(ours):.2f}", f"{min(ours):.2f}"],
            ["overhead", f"{statistics.median(ours) - statistics.median(plain):+.2f}", ""]]
    print_rows(["one run of a trivial notebook", "median s", "best s"], rows)


if __name__ == "__main__":
    main()

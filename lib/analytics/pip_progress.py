"""``make setup``'s package install, one short line per package instead of two silent minutes.

``pip --quiet`` printed nothing for about 140 s on a first run, so a newcomer could not tell a slow
download from a hang; plain pip prints a screen of progress bars and "Requirement already satisfied".
This runs pip with its whole output in a log file and shows one line per package it fetches (on a
terminal the line is rewritten in place), then one line with the total. When pip fails, the last lines
of its log and the log's path are shown, so the error is not lost.

Run by file path with the new virtual environment's Python (``.venv/bin/python lib/analytics/pip_progress.py
'.[test]'``): at that moment none of the package's dependencies is installed, so this file uses only the
standard library and must not import the ``analytics`` package.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

# "Collecting pandas==3.1.1" (from an index), "Processing /wheels/numpy-2.4.6-cp311-….whl (from …)" (a local file).
FETCHING = re.compile(r"^(?:Collecting (?P<name>\S+)|Processing \S*?(?P<file>[^/\s]+?)(?:-\d[^/\s]*\.whl|\.tar\.gz)?(?:\s|$))")
INSTALLED = "Successfully installed "
TAIL_LINES = 25


def package_names(pip_lines: Iterable[str]) -> Iterator[str]:
    """The name of each package pip starts to fetch, in its order ("Collecting pandas==3.1.1" gives that name)."""
    for line in pip_lines:
        found = FETCHING.match(line.strip())
        if found:
            yield found.group("name") or found.group("file")


def install(pip_arguments: list[str], log_path: Path, out: TextIO = sys.stdout) -> int:
    """``pip install PIP_ARGUMENTS`` with one line per package on ``out``; returns pip's exit status."""
    # --no-compile: pip would write bytecode for every file of every package (scipy and statsmodels alone are
    # thousands); Python writes it on first import for the modules a run actually uses.
    command = [sys.executable, "-m", "pip", "install", "--progress-bar", "off", "--disable-pip-version-check",
               "--no-compile", *pip_arguments]
    started, count = time.monotonic(), 0
    in_place = out.isatty()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w", encoding="utf-8") as log, subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1) as pip:
        assert pip.stdout is not None
        installed = 0
        for line in pip.stdout:
            log.write(line)
            if line.startswith(INSTALLED):
                installed = len(line[len(INSTALLED):].split())
            for name in package_names([line]):
                count += 1
                shown = f"  {count:3d} {name}"
                out.write(f"\r{shown:<60}" if in_place else shown + "\n")
                out.flush()
        status = pip.wait()
    if in_place:
        out.write("\r" + " " * 60 + "\r")
    seconds = time.monotonic() - started
    if status:
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-TAIL_LINES:]
        out.write("\n".join(tail) + f"\nInstalling packages failed (pip exit status {status}); "
                                    f"the whole output is in {log_path}\n")
    else:
        out.write(f"Packages: {installed} installed in {seconds:.0f} s (pip's output: {log_path})\n")
    out.flush()
    return status


def main(argv: list[str]) -> int:
    requirement = argv[1] if len(argv) > 1 else ".[test]"
    log_path = Path(argv[2]) if len(argv) > 2 else Path(sys.prefix) / "pip-install.log"
    return install(["-e", requirement], log_path)


if __name__ == "__main__":
    sys.exit(main(sys.argv))

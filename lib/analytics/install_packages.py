"""``make setup``'s package install: seconds with uv, a short line per package, the tools' output in a log.

pip resolved and unpacked the app's 123 packages one at a time in 31-35 s on this machine (most of
``make run``'s first minute); uv (a pinned wheel pip fetches in about 2 s) installs the same set in about 4 s,
fetching in parallel, and compiles their bytecode on both cores (about 11 s more, as pip also does: where
``PYTHONDONTWRITEBYTECODE`` is set, as on this machine, Python never writes it later, and every process, every
kernel of the app and of the suite, would compile pandas and Jupyter again at each start: 7.5 s instead of 3.7 s for
the app's imports). Where uv cannot be had (a registry only pip's own configuration reaches: uv does not read
``pip.conf``), pip does the install as before. Either way the tool's whole output goes to a log file, the screen
gets one short line per package fetched and one line with the total, and a failure shows the log's last lines
and its path, so the error is not lost.

Run by file path with the new virtual environment's Python (``.venv/bin/python lib/analytics/install_packages.py
'.[test]'``): at that moment none of the package's dependencies is installed, so this file uses only the
standard library and must not import the ``analytics`` package.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TextIO

# "Collecting pandas==3.1.1" (from an index), "Processing /wheels/numpy-2.4.6-cp311-….whl (from …)" (a local file).
FETCHING = re.compile(r"^(?:Collecting (?P<name>\S+)|Processing \S*?(?P<file>[^/\s]+?)(?:-\d[^/\s]*\.whl|\.tar\.gz)?(?:\s|$))")
INSTALLED = "Successfully installed "
TAIL_LINES = 25
UV = "uv==0.13.8"
# uv says "Downloading pillow (6.8MiB)" for the big wheels it fetches and " + pillow==12.0.0" for each it installs.
UV_FETCHING = re.compile(r"^Downloading (?P<name>\S+)")
UV_INSTALLED = re.compile(r"^ \+ (?P<name>\S+)")


def package_names(pip_lines: Iterable[str]) -> Iterator[str]:
    """The name of each package pip starts to fetch, in its order ("Collecting pandas==3.1.1" gives that name)."""
    for line in pip_lines:
        found = FETCHING.match(line.strip())
        if found:
            yield found.group("name") or found.group("file")


def install(pip_arguments: list[str], log_path: Path, out: TextIO = sys.stdout) -> int:
    """``pip install PIP_ARGUMENTS`` with one line per package on ``out``; returns pip's exit status."""
    command = [sys.executable, "-m", "pip", "install", "--progress-bar", "off", "--disable-pip-version-check",
               *pip_arguments]
    started, count, installed = time.monotonic(), 0, 0
    in_place = out.isatty()

    def seen(line: str) -> None:
        nonlocal count, installed
        if line.startswith(INSTALLED):
            installed = len(line[len(INSTALLED):].split())
        for name in package_names([line]):
            count += 1
            shown = f"  {count:3d} {name}"
            out.write(f"\r{shown:<60}" if in_place else shown + "\n")
            out.flush()

    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w", encoding="utf-8") as log:
        status = _logged(command, log, seen)
    if in_place:
        out.write("\r" + " " * 60 + "\r")
    return _said(status, installed, time.monotonic() - started, log_path, out, "pip")


def install_with_uv(uv_arguments: list[str], log_path: Path, out: TextIO = sys.stdout) -> int | None:
    """``uv pip install UV_ARGUMENTS`` into this Python's environment with a line per big wheel it fetches;
    uv's exit status, or None when uv itself could not be had."""
    started = time.monotonic()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w", encoding="utf-8") as log:
        fetched = subprocess.run([sys.executable, "-m", "pip", "install", "--disable-pip-version-check",
                                  "--progress-bar", "off", UV], stdout=log, stderr=subprocess.STDOUT, check=False)
        if fetched.returncode:
            return None
        command = [sys.executable, "-m", "uv", "pip", "install", "--python", sys.executable, "--no-progress",
                   "--compile-bytecode", *uv_arguments]
        installed = 0

        def seen(line: str) -> None:
            nonlocal installed
            installed += bool(UV_INSTALLED.match(line))
            fetching = UV_FETCHING.match(line)
            if fetching:
                out.write(f"  fetching {fetching.group('name')}\n")
                out.flush()

        status = _logged(command, log, seen)
    return _said(status, installed, time.monotonic() - started, log_path, out, "uv")


def _logged(command: list[str], log: TextIO, seen: Callable[[str], None]) -> int:
    """Run ``command`` with its output, both streams, into ``log`` line by line, each line also to ``seen``."""
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1) as tool:
        assert tool.stdout is not None
        for line in tool.stdout:
            log.write(line)
            seen(line)
        return tool.wait()


def _said(status: int, installed: int, seconds: float, log_path: Path, out: TextIO, tool: str) -> int:
    """The closing line: the total, or the log's last lines and where the whole log is."""
    if status:
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-TAIL_LINES:]
        out.write("\n".join(tail) + f"\nInstalling packages failed ({tool} exit status {status}); "
                                    f"the whole output is in {log_path}\n")
    else:
        out.write(f"Packages: {installed} installed in {seconds:.0f} s ({tool}'s output: {log_path})\n")
    out.flush()
    return status


def main(argv: list[str]) -> int:
    requirement = argv[1] if len(argv) > 1 else ".[test]"
    log_path = Path(argv[2]) if len(argv) > 2 else Path(sys.prefix) / "pip-install.log"
    status = install_with_uv(["-e", requirement], log_path)
    if status is None:
        print("uv could not be installed; pip installs the packages instead (about half a minute)")
        status = install(["-e", requirement], log_path)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))

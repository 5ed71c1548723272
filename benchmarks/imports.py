"""What `analytics run` and the scheduler load before a notebook starts: the import of analytics.runner.

    python benchmarks/imports.py [--before-lib PATH] [--repeat 5]

Prints the median wall time of ``import analytics.runner`` in a fresh interpreter and whether scipy or
statsmodels came with it; ``--before-lib`` (an older checkout's ``lib``, e.g. from ``git archive``) is
measured in the same run as the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

PROBE = ("import sys, time; began = time.perf_counter(); import analytics.runner; "
         "print(time.perf_counter() - began, any(m.split('.')[0] in ('scipy', 'statsmodels') for m in sys.modules))")


def measure(lib: Path, repeat: int) -> tuple[float, bool]:
    times, heavy = [], False
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True,
                             env={"PYTHONPATH": str(lib), "PATH": "/usr/bin:/bin"}).stdout.split()
        times.append(float(out[0]))
        heavy = out[1] == "True"
    return statistics.median(times), heavy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before-lib", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows = [("this checkout", Path(__file__).resolve().parents[1] / "lib")]
    if args.before_lib:
        rows.insert(0, ("before", args.before_lib.resolve()))
    print(f"{'import analytics.runner':<24} {'median s':>9} {'scipy/statsmodels':>18}")
    for name, lib in rows:
        seconds, heavy = measure(lib, args.repeat)
        print(f"{name:<24} {seconds:>9.2f} {'loaded' if heavy else 'not loaded':>18}")


if __name__ == "__main__":
    main()

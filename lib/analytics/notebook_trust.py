"""Trust our own report notebooks, so Jupyter stops warning "Notebook … is not trusted" once per report.

Jupyter signs a notebook when its author saves it, and warns when one it opens carries no signature it
made: a notebook from a git clone never does, so ``analytics serve`` logged fourteen warnings at every
start (one per report, as each preheated kernel opened its notebook) and ``make lab`` showed every report
as untrusted. The reports are this checkout's own code, which the app runs anyway; a signature only lets
the notebook's saved outputs (HTML, scripts) render, and the git filter strips those outputs before a
commit. So the app and the lab sign the notebooks under their folder at start, in the same signature store
(the user's Jupyter data folder) that Jupyter checks.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

log = logging.getLogger(__name__)


def report_notebooks(folder: Path) -> list[Path]:
    """The notebooks a person can open under ``folder``, without Jupyter's checkpoint copies."""
    return sorted(path for path in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in path.parts)


def sign_notebooks(folder: Path) -> int:
    """Sign every report notebook under ``folder`` that is not signed yet; returns how many were signed.

    Never stops the app: a notebook that cannot be read or a signature store that cannot be written only
    leaves Jupyter's warning in place, and says so in one line.
    """
    import nbformat  # noqa: PLC0415 - only the commands that start Jupyter need it
    from nbformat.sign import NotebookNotary  # noqa: PLC0415

    notary = NotebookNotary()
    signed = 0
    for path in report_notebooks(folder):
        try:
            notebook = nbformat.read(path, as_version=4)
            if not notary.check_signature(notebook):
                notary.sign(notebook)
                signed += 1
        except (OSError, ValueError, sqlite3.Error) as error:  # unreadable JSON, a read-only store: Jupyter warns, nothing breaks
            log.warning("Could not mark %s as trusted (%s); Jupyter will say it is not trusted.", path, error)
    return signed

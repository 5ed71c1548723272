"""Running a report notebook headless through papermill, as ``analytics run`` and the scheduler do.

Each run is a child process (``python -m analytics.runner``) that runs papermill with its own
environment and kernel, so the caller's environment is never touched, and a run that hangs or
whose kernel dies is stopped and reported without taking the caller down. Whatever goes wrong
(an error in a cell, a dead kernel, a timeout, a missing notebook, a refused value) becomes one
:class:`NotebookFailed` that carries the cell index, the error's name and message, and the
executed notebook, which is always kept with the failing cell marked. The run id is in the
executed notebook's file name and in every ``runs.log`` line of the run, so the two join. The
files a run produced are read back from the executed notebook (the record the report displays).
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Settings, load_settings
from .context import Job, RunDescription
from .errors import AnalyticsError
from .exports.files import PRIVATE_UMASK, open_private, private_folder
from .params import FormInvalid, check_names, declaration
from .pipeline import RUN_ID_ENV, new_run_id, run_log
from .render import RUN_RECORD_MIME

NOTEBOOK_ENV = "ANALYTICS_NOTEBOOK"
KERNEL_START_SECONDS = 180  # papermill's 60 s fails scheduled runs on a busy machine (several jobs, a suite)
DEFAULT_TIMEOUT = 1800.0  # seconds a whole run may take
STARTUP_ALLOWANCE = 60.0  # on top of the cell timeout, for starting the kernel and papermill
DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
PR_SET_PDEATHSIG = 1  # prctl(2)


class NotebookFailed(AnalyticsError):
    """A run did not finish: which cell, what error, and where the executed notebook is."""

    def __init__(self, ename: str, evalue: str, executed: Path | None, *, cell_index: int | None = None,
                 run_id: str = "") -> None:
        self.ename, self.evalue, self.executed, self.cell_index, self.run_id = ename, evalue, executed, cell_index, run_id
        where = f" in cell {cell_index}" if cell_index is not None and ename not in _VALUE_ERRORS else ""
        super().__init__(f"{evalue or ename}{where}." if ename in _PLAIN_ERRORS else f"{ename}{where}: {evalue}")


_VALUE_ERRORS = {"FormInvalid", "ParameterError"}  # about the values given, not about a cell
_PLAIN_ERRORS = {"FormInvalid", "ParameterError", "Timeout", "DeadKernelError", "CellTimeoutError", "NotebookMissing",
                 "NotANotebook", "DiskFull",
                 "QueryTimeoutError", "ServerUnreachableError", "RunCancelled"}


@dataclass(frozen=True)
class NotebookRun:
    run_id: str
    executed: Path
    files: list[Path] = field(default_factory=list)
    rows: int | None = None
    headline: dict[str, Any] | None = None  # the report's Headline.as_json(), when it declares one


def run_notebook(notebook: Path, parameters: Mapping[str, Any] | None = None, *, settings: Settings | None = None,
                 timeout: float = DEFAULT_TIMEOUT, user: str | None = None, folder: Path | None = None,
                 run_id: str | None = None, job: Job | None = None, keep_fds: tuple[int, ...] = ()) -> NotebookRun:
    """Execute ``notebook`` with injected ``parameters`` in a child process; the executed copy lands in
    ``folder`` (default reports/runs/). The kernel's report gets its run context from one description (the
    run id, who it is for, the scheduler's ``job``: see :mod:`analytics.context`).

    The child dies with this process (a kill -9 of ``analytics run`` or ``run-job`` leaves no orphan going on;
    its kernel follows within a second), and inherits ``keep_fds`` (a job's lock is held until it is gone)."""
    settings = settings or load_settings()
    parameters = dict(parameters or {})
    run_id = run_id or new_run_id()
    given, notebook = notebook, notebook.resolve()
    if not notebook.is_file():
        raise NotebookFailed("NotebookMissing", f"There is no notebook at {notebook}", None, run_id=run_id)
    not_a_notebook = NotebookFailed("NotANotebook", f"{given} is not a notebook: give a .ipynb file of the reports "
                                    f"folder ({settings.notebooks})", None, run_id=run_id)
    if notebook.suffix != ".ipynb":
        raise not_a_notebook
    try:
        check_names(declaration(notebook), parameters)  # an unknown or malformed name never reaches papermill
    except FormInvalid as invalid:
        raise NotebookFailed("FormInvalid", str(invalid), None, run_id=run_id) from None
    except (ValueError, AttributeError, TypeError):  # not JSON, or JSON that is not a notebook
        raise not_a_notebook from None
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    executed = (folder or settings.reports_dir / "runs") / f"{notebook.stem}_{stamp}_{run_id}.ipynb"
    private_folder(executed.parent)
    log = run_log(settings)
    log.info("run %s: notebook %s %s -> %s", run_id, notebook, parameters, executed)
    description = RunDescription(run_id, user or _os_user(), job)
    environment = {**os.environ, **settings.environment(), NOTEBOOK_ENV: str(notebook), RUN_ID_ENV: run_id,
                   "ANALYTICS_HOME": str(settings.home), "ANALYTICS_DB_URL": settings.database_url,
                   "ANALYTICS_RUN_BY": description.user, **description.to_env()}
    request = json.dumps({"notebook": str(notebook), "executed": str(executed), "parameters": parameters,
                          "timeout": timeout, "parent": os.getpid()}, default=str)
    log_path = settings.reports_dir / "logs" / "runs.log"
    with open_private(log_path) as child_log:  # papermill's banner and kernel warnings go here
        child = subprocess.Popen([sys.executable, "-m", "analytics.runner"], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=child_log, env=environment, cwd=str(notebook.parent),
                                 text=True, start_new_session=True, pass_fds=keep_fds)
        try:
            answer, _ = child.communicate(request, timeout=timeout + STARTUP_ALLOWANCE)
        except subprocess.TimeoutExpired:
            _kill_group(child)
            failure = mark_failure(executed, "Timeout", f"The run took longer than {timeout:g} seconds and was stopped")
            log.info("run %s: stopped after %g s", run_id, timeout)
            raise NotebookFailed("Timeout", failure[1], executed, cell_index=failure[0], run_id=run_id) from None
    outcome = json.loads(answer.strip().splitlines()[-1]) if answer.strip() else {
        "status": "failed", "ename": "DeadKernelError", "evalue": f"The run stopped unexpectedly (exit {child.returncode})"}
    if outcome.get("ename") == "OSError" and str(outcome.get("evalue", "")).startswith(f"[Errno {errno.ENOSPC}]"):
        outcome = {**outcome, "ename": "DiskFull", "evalue": "The disk is full: free some space, then run it again"}
    if outcome["status"] != "ok":
        cell, evalue = mark_failure(executed, outcome["ename"], outcome["evalue"])
        log.info("run %s: failed in cell %s: %s: %s", run_id, cell, outcome["ename"], outcome["evalue"])
        raise NotebookFailed(outcome["ename"], evalue, executed if executed.is_file() else None, cell_index=cell,
                             run_id=run_id)
    record = run_record(executed)
    log.info("run %s: finished, files %s", run_id, record.get("files", []))
    return NotebookRun(run_id, executed, [Path(path) for path in record.get("files", [])], record.get("rows"),
                       record.get("headline"))


def run_record(executed: Path) -> dict[str, Any]:
    """The record the report displayed in the executed notebook (its files and rows), or {} if none."""
    import nbformat  # noqa: PLC0415

    notebook = nbformat.read(executed, as_version=4)
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            record = output.get("data", {}).get(RUN_RECORD_MIME)
            if record:
                return dict(record)
    return {}


def mark_failure(executed: Path, ename: str, evalue: str) -> tuple[int | None, str]:
    """Mark the cell where the run stopped (if papermill did not) and return its index and the message."""
    import nbformat  # noqa: PLC0415

    try:
        notebook = nbformat.read(executed, as_version=4)
    except (OSError, ValueError):  # missing, or cut short (a full disk): nothing to mark
        return None, evalue
    failed = [index for index, cell in enumerate(notebook.cells)
              if cell.get("metadata", {}).get("papermill", {}).get("status") == "failed"]
    started = [index for index, cell in enumerate(notebook.cells)
               if cell.get("metadata", {}).get("papermill", {}).get("start_time")]
    index = failed[0] if failed else (started[-1] if started else None)
    if index is not None and not failed:
        cell = notebook.cells[index]
        cell.metadata.setdefault("papermill", {}).update(status="failed", exception=True)
        cell.setdefault("outputs", []).append(nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[]))
        notebook.metadata.setdefault("papermill", {})["exception"] = True
        try:
            nbformat.write(notebook, executed)
        except OSError:  # a full disk: the notebook stays as papermill left it
            pass
    return index, evalue


def _kill_group(child: subprocess.Popen) -> None:
    """Stop the child and what it started in its process group: SIGTERM, then SIGKILL if it lingers.

    The kernel runs in a session of its own; it exits by itself when its parent, the child, is gone
    (ipykernel's parent poller).
    """
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(child.pid, sig)
            child.wait(timeout=5)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def _os_user() -> str:
    try:
        import pwd  # noqa: PLC0415

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return os.environ.get("USER", "unknown")


def _child() -> int:
    """The child process: run papermill, answer one JSON line on stdout."""
    import logging  # noqa: PLC0415

    import papermill  # noqa: PLC0415 - heavy, and only here
    from papermill.exceptions import PapermillExecutionError  # noqa: PLC0415

    from .kernel_sockets import AsyncUnixSocketKernelManager  # noqa: PLC0415 - imports jupyter_client

    os.umask(PRIVATE_UMASK)  # the executed notebook, and all the kernel writes, are the owner's only
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    request = json.loads(sys.stdin.read())
    _die_with(request.get("parent"))
    answer: dict[str, Any] = {"status": "ok"}
    try:
        papermill.execute_notebook(request["notebook"], request["executed"], parameters=request["parameters"],
                                   cwd=str(Path(request["notebook"]).parent), progress_bar=False, kernel_name="python3",
                                   execution_timeout=int(request["timeout"]), log_output=False,
                                   start_timeout=KERNEL_START_SECONDS, kernel_manager_class=AsyncUnixSocketKernelManager)
    except PapermillExecutionError as error:
        answer = {"status": "failed", "ename": error.ename, "evalue": error.evalue, "cell_index": error.cell_index}
    except Exception as error:  # noqa: BLE001 - a dead kernel or a cell timeout: reported, the parent marks the cell
        logging.getLogger("analytics.runner").exception("the run ended with")  # the traceback, kept in runs.log
        text = str(error).strip().splitlines()
        answer = {"status": "failed", "ename": type(error).__name__, "evalue": _plain(error, text)}
        if isinstance(error, OSError) and error.errno is not None:  # the file system's, not nbclient's timeouts
            answer.update(ename="DiskFull" if error.errno in DISK_FULL else "OSError", evalue=disk_message(error))
    sys.stdout.write("\n" + json.dumps(answer) + "\n")
    return 0


def _die_with(parent: int | None) -> None:
    """Be killed when the process that started this run dies (Linux's PR_SET_PDEATHSIG), and if it is already
    gone, stop now: a run nobody waits for would go on unrecorded, past the job's lock."""
    if parent is None:
        return
    try:
        import ctypes  # noqa: PLC0415

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the parent's own timeout and kill remain
        return
    if os.getppid() != parent:
        os._exit(1)


def disk_message(error: OSError) -> str:
    """An error of the file system in plain words: the disk is full, or what could not be done to which file."""
    where = f" ({error.filename})" if error.filename else ""
    if error.errno in DISK_FULL:
        return f"The disk is full{where}: free some space, then run it again"
    return f"{error.strerror or error}{where}"


def _plain(error: Exception, lines: list[str]) -> str:
    name = type(error).__name__
    if name == "DeadKernelError":
        return "The notebook's kernel died (it may have run out of memory) and the run was stopped"
    if name == "CellTimeoutError":
        return "A cell ran longer than the time limit and the run was stopped"
    return lines[0] if lines else name


if __name__ == "__main__":
    raise SystemExit(_child())

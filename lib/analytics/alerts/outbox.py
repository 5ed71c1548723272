"""The durable outbox: every alert is a file before anyone tries to send it, and leaves the outbox only
once a transport has taken it.

* ``outbox/<id>.json``: waiting; ``sent/<id>.json``: delivered, with where and Slack's ``ts``.
* An alert id already waiting or sent is not queued again, so a rerun of a job sends no duplicate.
* ``flush`` holds a lock (``flock``, released if the holder dies), so two schedulers never send the
  same message twice; it sends oldest first and stops at the first outage (the rest wait for the next
  flush, after a restart too). A refusal that needs a person (a revoked webhook) is recorded and the
  message keeps waiting; nothing is dropped.
* Every attempt is a line in ``deliveries.jsonl``: when, which message, which transport, and the outcome.

A crash after Slack took a message but before ``sent/`` is written sends it again on the next flush:
delivery is at least once, and the window is one file write.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..exports.files import atomic_file
from .model import Alert
from .transports import DeliveryFailed, Transport


@dataclass(frozen=True)
class FlushReport:
    sent: int
    failed: int
    waiting: int
    error: str = ""


class Outbox:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.waiting, self.sent_dir = folder / "outbox", folder / "sent"
        self.deliveries = folder / "deliveries.jsonl"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.waiting.mkdir(parents=True, exist_ok=True)
        self.sent_dir.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "outbox.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def put(self, alert: Alert) -> bool:
        """Queue ``alert``; False when the same alert is already waiting or was sent."""
        with self._locked():
            if self.known(alert.id):
                return False
            _write_json(self.waiting / f"{alert.id}.json", alert.to_json())
            return True

    def known(self, alert_id: str) -> bool:
        return (self.waiting / f"{alert_id}.json").exists() or (self.sent_dir / f"{alert_id}.json").exists()

    def pending(self) -> list[Alert]:
        alerts = [Alert.from_json(json.loads(path.read_text(encoding="utf-8"))) for path in _messages(self.waiting)]
        return sorted(alerts, key=lambda alert: (alert.created_at, alert.id))

    def of_job(self, job: str, since: str) -> tuple[list[Alert], list[Alert]]:
        """The alerts a job queued from ``since`` (ISO time) on: those still waiting, and those sent."""
        def ours(alert: Alert) -> bool:
            return alert.job == job and alert.created_at >= since
        waiting = [alert for alert in self.pending() if ours(alert)]
        sent = [Alert.from_json(json.loads(path.read_text(encoding="utf-8"))["alert"]) for path in _messages(self.sent_dir)]
        return waiting, [alert for alert in sent if ours(alert)]

    def sent(self, alert_id: str) -> dict[str, Any] | None:
        path = self.sent_dir / f"{alert_id}.json"
        return json.loads(path.read_text(encoding="utf-8"))["delivery"] if path.exists() else None

    def flush(self, transport: Transport) -> FlushReport:
        """Send what waits, oldest first; stop at an outage."""
        sent = failed = 0
        error = ""
        with self._locked():
            for alert in self.pending():
                if alert.replaces and self.known(alert.replaces) and self.sent(alert.replaces) is None:
                    continue  # the message it edits has not gone out yet
                try:
                    delivery = transport.send(alert, self.sent(alert.replaces) if alert.replaces else None)
                except DeliveryFailed as refusal:
                    failed, error = failed + 1, str(refusal)
                    self._record(alert, transport.name, "failed", str(refusal))
                    if refusal.retryable:
                        break
                    continue
                _write_json(self.sent_dir / f"{alert.id}.json", {"alert": alert.to_json(), "delivery": asdict(delivery)})
                (self.waiting / f"{alert.id}.json").unlink()
                self._record(alert, transport.name, "sent", delivery.ts)
                sent += 1
            waiting = len(_messages(self.waiting))
        return FlushReport(sent, failed, waiting, error)

    def _record(self, alert: Alert, transport: str, status: str, detail: str) -> None:
        line = {"at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "alert": alert.id, "kind": alert.kind,
                "job": alert.job, "transport": transport, "status": status, "detail": detail}
        with self.deliveries.open("a", encoding="utf-8") as journal:
            journal.write(json.dumps(line, ensure_ascii=False) + "\n")

    def history(self) -> list[dict[str, Any]]:
        if not self.deliveries.exists():
            return []
        return [json.loads(line) for line in self.deliveries.read_text(encoding="utf-8").splitlines() if line]


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Whole or absent (the exports' atomic file: a hidden temporary beside, synced, renamed over)."""
    with atomic_file(path) as target:
        target.write(json.dumps(data, ensure_ascii=False).encode("utf-8"))


def _messages(folder: Path) -> list[Path]:
    """The message files of a folder; a temporary left by a killed write (hidden) is not one."""
    return [path for path in folder.glob("*.json") if not path.name.startswith(".")]

"""Alerts as text files in a folder: for tests, for a first run without Slack, and as a local record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..formats import blocks, text
from ..model import Alert
from . import Delivery


class FileTransport:
    name = "file"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, alert: Alert, replaced: dict[str, Any] | None) -> Delivery:
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = f"{alert.created_at.replace(':', '')}_{alert.kind}_{alert.id}"
        (self.folder / f"{stem}.txt").write_text(text(alert) + "\n", encoding="utf-8")
        (self.folder / f"{stem}.blocks.json").write_text(json.dumps(blocks(alert), ensure_ascii=False, indent=1),
                                                          encoding="utf-8")
        return Delivery(self.name, str(self.folder))

"""Settings, each declared once with its help text.

Precedence: an explicit argument > the environment (``ANALYTICS_*``) > the default.
Nothing is read at import time; call :func:`load_settings` where a setting is needed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from .errors import ConfigError


def _default_home() -> Path:
    """The project checkout when running from one, else a per-user data folder."""
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "notebooks").is_dir():
        return checkout
    return Path.home() / ".local" / "share" / "analytics"


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=_default_home, metadata={
        "env": "ANALYTICS_HOME",
        "help": "Folder holding the embedded warehouse (data/) and everything the product writes (reports/).",
    })
    notebooks: Path = field(default_factory=lambda: _default_home() / "notebooks", metadata={
        "env": "ANALYTICS_NOTEBOOKS",
        "help": "Folder of report notebooks the app serves (one subfolder per audience).",
    })
    db_url: str = field(default="", metadata={
        "env": "ANALYTICS_DB_URL",
        "help": "Database URL: chdb:///path/to/dir (embedded, the default) or "
                "clickhouse://user:password@host:9000/database?alt_hosts=host2:9000",
    })
    query_timeout_seconds: float = field(default=60.0, metadata={
        "env": "ANALYTICS_QUERY_TIMEOUT",
        "help": "Longest time a report query may run before it is stopped, in seconds.",
    })
    max_result_rows: int = field(default=2_000_000, metadata={
        "env": "ANALYTICS_MAX_RESULT_ROWS",
        "help": "Most rows a query may return into memory; streaming exports are not limited by it.",
    })
    compact_after_parts: int = field(default=64, metadata={
        "env": "ANALYTICS_COMPACT_AFTER_PARTS",
        "help": "Embedded store: merge a table's small parts after an insert leaves more than this many (0: only on demand).",
        "allow_zero": True,
    })
    store_grace_seconds: float = field(default=900.0, metadata={
        "env": "ANALYTICS_STORE_GRACE_SECONDS",
        "help": "Embedded store: how long replaced or merged part files stay for queries still reading them, in seconds.",
        "allow_zero": True,
    })
    preheat: bool = field(default=True, metadata={
        "env": "ANALYTICS_PREHEAT",
        "help": "Keep one warm kernel ready per report, so a form opens at once (0 turns it off).",
        "allow_zero": True,
    })
    kernel_idle_seconds: float = field(default=600.0, metadata={
        "env": "ANALYTICS_KERNEL_IDLE_SECONDS",
        "help": "A visitor's kernel with no open page is shut down after this many idle seconds.",
    })
    max_visitor_kernels: int = field(default=12, metadata={
        "env": "ANALYTICS_MAX_VISITOR_KERNELS",
        "help": "Most report pages open at once (about 400 MB each); past it visitors see 'busy, try again shortly'.",
    })

    @property
    def database_url(self) -> str:
        """The configured URL, or the embedded store under ``home`` when none is set."""
        return self.db_url or f"chdb://{self.home / 'data' / 'warehouse'}"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build settings from the environment, then apply explicit, non-empty overrides."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for spec in fields(Settings):
        name = spec.metadata["env"]
        if environ.get(name):
            values[spec.name] = _convert(environ[name], spec.type, name, spec.metadata.get("allow_zero", False))
    values.update({key: value for key, value in overrides.items() if value not in (None, "")})
    for name in ("home", "notebooks"):
        if name in values:
            values[name] = Path(str(values[name])).expanduser()
    return Settings(**values)  # type: ignore[arg-type]


def _convert(raw: str, kind: object, env_name: str, allow_zero: bool) -> object:
    converters = {"float": float, "int": int, "str": str, "Path": Path, "bool": _flag}
    converter = converters.get(str(kind), str)
    try:
        value = converter(raw)
    except ValueError as error:
        raise ConfigError(f"The environment variable {env_name}={raw!r} is not a valid {kind}.") from error
    if isinstance(value, (int, float)) and (value < 0 or (value == 0 and not allow_zero)):
        raise ConfigError(f"The environment variable {env_name} must be a positive number, not {raw!r}.")
    return value


def _flag(raw: str) -> bool:
    if raw.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if raw.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def describe_settings() -> list[tuple[str, str]]:
    """(environment variable, help) pairs, for ``--help`` texts and the README."""
    return [(spec.metadata["env"], spec.metadata["help"]) for spec in fields(Settings)]

"""Settings, each declared once with its help text.

Precedence: an explicit argument > the environment (``ANALYTICS_*``) > the default.
Nothing is read at import time; call :func:`load_settings` where a setting is needed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dotenv import dotenv_values

from .errors import ConfigError


def _default_home() -> Path:
    """The project checkout when running from one, else a per-user data folder."""
    checkout = Path(__file__).resolve().parents[2]
    try:
        if (checkout / "pyproject.toml").is_file() and (checkout / "notebooks").is_dir():
            return checkout
    except PermissionError:  # another account's process, in a checkout it may not look into: not its home
        pass
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
    schedules: Path = field(default_factory=lambda: _default_home() / "schedules", metadata={
        "env": "ANALYTICS_SCHEDULES",
        "help": "Folder of scheduled jobs, one YAML file per job (see the README's 'How to add a schedule').",
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
        "help": "Keep warm kernels ready for the reports people open, so a form opens at once (0 turns it off).",
        "allow_zero": True,
    })
    warm_kernels: int = field(default=8, metadata={
        "env": "ANALYTICS_WARM_KERNELS",
        "help": "Warm kernels kept ready for all reports together; a report gets more the more it is visited.",
    })
    warm_idle_seconds: float = field(default=1800.0, metadata={
        "env": "ANALYTICS_WARM_IDLE_SECONDS",
        "help": "A report nobody opened for this many seconds lets its warm kernels go (its next visitor waits "
                "for a kernel to start).",
    })
    kernel_idle_seconds: float = field(default=600.0, metadata={
        "env": "ANALYTICS_KERNEL_IDLE_SECONDS",
        "help": "A visitor's kernel no page ever connected to is shut down after this many idle seconds.",
    })
    kernel_left_seconds: float = field(default=10.0, metadata={
        "env": "ANALYTICS_KERNEL_LEFT_SECONDS",
        "help": "A visitor's kernel whose page closed (its connection dropped and did not come back) is shut down "
                "after this many seconds.",
    })
    max_visitor_kernels: int = field(default=12, metadata={
        "env": "ANALYTICS_MAX_VISITOR_KERNELS",
        "help": "Most report pages open at once (each has a kernel of a few hundred MB); past it visitors wait in line "
                "on a page that opens the report by itself.",
    })

    db_writer_url: str = field(default="", metadata={
        "env": "ANALYTICS_DB_WRITER_URL",
        "help": "Database URL of the writer account, used only by the library's writers (audit, audiences, raffle, "
                "loads); reports read with ANALYTICS_DB_URL, which should be a read-only account. Default: the same URL.",
    })
    users_file: Path = field(default_factory=lambda: _default_home() / "users.json", metadata={
        "env": "ANALYTICS_USERS_FILE",
        "help": "Who may sign in: names, groups and salted password hashes (manage with `analytics users`).",
    })
    serve_token: str = field(default="", metadata={
        "env": "ANALYTICS_SERVE_TOKEN",
        "help": "A shared secret for scripts: sent as 'Authorization: token ...' or ?token=..., it signs in as "
                "the admin 'token' user.",
    })
    trusted_proxies: str = field(default="", metadata={
        "env": "ANALYTICS_TRUSTED_PROXIES",
        "help": "Addresses (or networks, 10.0.0.0/8) of a reverse proxy or JupyterHub whose user-name header is trusted.",
    })
    proxy_user_header: str = field(default="X-Forwarded-User", metadata={
        "env": "ANALYTICS_PROXY_USER_HEADER",
        "help": "Header in which a trusted proxy passes the signed-in user's name.",
    })
    proxy_groups_header: str = field(default="X-Forwarded-Groups", metadata={
        "env": "ANALYTICS_PROXY_GROUPS_HEADER",
        "help": "Header in which a trusted proxy passes the user's groups (comma-separated); else the users file's.",
    })
    serve_hosts: str = field(default="", metadata={
        "env": "ANALYTICS_SERVE_HOSTS",
        "help": "Host names the app answers besides this machine's own (comma-separated, e.g. analytics.example.com); "
                "any other Host header is refused.",
    })
    session_hours: float = field(default=12.0, metadata={
        "env": "ANALYTICS_SESSION_HOURS",
        "help": "How long a sign-in lasts, in hours.",
    })
    keep_files_days: float = field(default=30.0, metadata={
        "env": "ANALYTICS_KEEP_FILES_DAYS",
        "help": "Export files and executed notebooks older than this many days are removed by `analytics cleanup` "
                "(audit rows stay).",
    })
    amplitude_url: str = field(default="", metadata={
        "env": "ANALYTICS_AMPLITUDE_URL",
        "help": "Base URL of Amplitude's REST API; overrides the region (for a proxy or a test server).",
    })
    amplitude_region: str = field(default="us", metadata={
        "env": "ANALYTICS_AMPLITUDE_REGION",
        "help": "Where the Amplitude project keeps its data: 'us' (amplitude.com) or 'eu' (analytics.eu.amplitude.com).",
    })
    amplitude_api_key: str = field(default="", metadata={
        "env": "ANALYTICS_AMPLITUDE_API_KEY",
        "help": "The Amplitude project's API key (Settings > Projects), for downloading cohorts.",
    })
    amplitude_secret_key: str = field(default="", metadata={
        "env": "ANALYTICS_AMPLITUDE_SECRET_KEY",
        "help": "The Amplitude project's secret key, paired with the API key.",
    })
    amplitude_wait_seconds: float = field(default=300.0, metadata={
        "env": "ANALYTICS_AMPLITUDE_WAIT_SECONDS",
        "help": "Longest wait for Amplitude to prepare a cohort file (it usually takes 30-60 seconds).",
    })
    amplitude_poll_seconds: float = field(default=2.0, metadata={
        "env": "ANALYTICS_AMPLITUDE_POLL_SECONDS",
        "help": "Pause between questions to Amplitude whether the cohort file is ready.",
    })
    holdout_share: float = field(default=5.0, metadata={
        "env": "ANALYTICS_HOLDOUT_SHARE",
        "help": "Percent of all users (1-15) in the global hold-out who never receive campaigns; a change "
                "starts a new hold-out version.",
    })
    slack_webhook_url: str = field(default="", metadata={
        "env": "ANALYTICS_SLACK_WEBHOOK_URL",
        "help": "A Slack incoming webhook (https://hooks.slack.com/services/...) for alerts; a secret.",
    })
    slack_bot_token: str = field(default="", metadata={
        "env": "ANALYTICS_SLACK_BOT_TOKEN",
        "help": "A Slack bot token (xoxb-...) instead of a webhook: charts are attached and a resolved alert's "
                "message is edited in place. Needs ANALYTICS_SLACK_CHANNEL.",
    })
    slack_channel: str = field(default="", metadata={
        "env": "ANALYTICS_SLACK_CHANNEL",
        "help": "The channel (ID or #name) the bot token posts to.",
    })
    slack_channels: str = field(default="", metadata={
        "env": "ANALYTICS_SLACK_CHANNELS",
        "help": "Channels a person may pick for \"Send to Slack\" on a report page (#reports,#marketing); needs the "
                "bot token. Without it: the alerts' channel.",
    })
    slack_api_url: str = field(default="https://slack.com/api/", metadata={
        "env": "ANALYTICS_SLACK_API_URL",
        "help": "Slack's Web API address (for a proxy or a test server).",
    })
    amocrm_url: str = field(default="", metadata={
        "env": "ANALYTICS_AMOCRM_URL",
        "help": "The amoCRM account's own address (https://yourcompany.amocrm.ru): the CRM loader reads it.",
    })
    amocrm_token: str = field(default="", metadata={
        "env": "ANALYTICS_AMOCRM_TOKEN",
        "help": "An amoCRM long-lived token, or the OAuth access token the refresh settings renew; a secret.",
    })
    amocrm_client_id: str = field(default="", metadata={
        "env": "ANALYTICS_AMOCRM_CLIENT_ID",
        "help": "The amoCRM integration's ID, for OAuth refresh (with the secret, the refresh token and the "
                "redirect URI); without it the token is long-lived.",
    })
    amocrm_client_secret: str = field(default="", metadata={
        "env": "ANALYTICS_AMOCRM_CLIENT_SECRET",
        "help": "The amoCRM integration's secret key; a secret.",
    })
    amocrm_refresh_token: str = field(default="", metadata={
        "env": "ANALYTICS_AMOCRM_REFRESH_TOKEN",
        "help": "The first OAuth refresh token; each refresh replaces it (kept in reports/.amocrm-token.json).",
    })
    amocrm_redirect_uri: str = field(default="", metadata={
        "env": "ANALYTICS_AMOCRM_REDIRECT_URI",
        "help": "The redirect URI exactly as in the amoCRM integration's settings (OAuth refresh needs it).",
    })
    public_url: str = field(default="", metadata={
        "env": "ANALYTICS_PUBLIC_URL",
        "help": "The app's address as people reach it (https://analytics.example.com/): alerts and delivered "
                "reports link a run's page there; without it, the address `analytics serve` last started on.",
    })
    alert_reminder_hours: float = field(default=4.0, metadata={
        "env": "ANALYTICS_ALERT_REMINDER_HOURS",
        "help": "An incident still open is reminded after this many hours, each next time after twice the wait before.",
    })
    alert_group_at: int = field(default=2, metadata={
        "env": "ANALYTICS_ALERT_GROUP_AT",
        "help": "When this many metrics move in one scan, one message (probably one cause) is sent instead of one each.",
    })
    scheduler_parallel: int = field(default=2, metadata={
        "env": "ANALYTICS_SCHEDULER_PARALLEL",
        "help": "How many scheduled jobs may run at the same time; others wait their turn.",
    })
    keep_runs_days: float = field(default=30.0, metadata={
        "env": "ANALYTICS_KEEP_RUNS_DAYS",
        "help": "Executed notebooks of scheduled jobs, their HTML and job_runs rows older than this are removed.",
    })

    def environment(self) -> dict[str, str]:
        """Every setting that differs from its default, as ``ANALYTICS_*`` variables (for a child process or kernel)."""
        defaults = Settings()
        found: dict[str, str] = {}
        for spec in fields(self):
            value = getattr(self, spec.name)
            if value != getattr(defaults, spec.name):
                found[spec.metadata["env"]] = ("1" if value else "0") if isinstance(value, bool) else str(value)
        return found

    @property
    def database_url(self) -> str:
        """The configured URL, or the embedded store under ``home`` when none is set."""
        return self.db_url or f"chdb://{self.home / 'data' / 'warehouse'}"

    @property
    def writer_url(self) -> str:
        """The writer account's URL: ``ANALYTICS_DB_WRITER_URL``, else the readers' URL."""
        return self.db_writer_url or self.database_url

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def secrets(self) -> dict[str, str]:
        """Configured secret values (passwords in URLs, tokens), for checks that none leaks into a file."""
        found = {"ANALYTICS_SERVE_TOKEN": self.serve_token, "ANALYTICS_AMPLITUDE_SECRET_KEY": self.amplitude_secret_key,
                 "ANALYTICS_SLACK_WEBHOOK_URL": self.slack_webhook_url, "ANALYTICS_SLACK_BOT_TOKEN": self.slack_bot_token,
                 "ANALYTICS_AMOCRM_TOKEN": self.amocrm_token, "ANALYTICS_AMOCRM_CLIENT_SECRET": self.amocrm_client_secret,
                 "ANALYTICS_AMOCRM_REFRESH_TOKEN": self.amocrm_refresh_token}
        for name, url in (("ANALYTICS_DB_URL", self.db_url), ("ANALYTICS_DB_WRITER_URL", self.db_writer_url)):
            password = urlsplit(url).password if url else None
            found[name] = unquote(password) if password else ""
        return {name: value for name, value in found.items() if value}


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build settings from the environment (a ``.env`` file fills what it lacks), then apply explicit overrides."""
    environ = os.environ if environ is None else environ
    environ = {**dotenv_file(environ), **environ}
    values: dict[str, object] = {}
    for spec in fields(Settings):
        name = spec.metadata["env"]
        if environ.get(name):
            values[spec.name] = _convert(environ[name], spec.type, name, spec.metadata.get("allow_zero", False))
    values.update({key: value for key, value in overrides.items() if value not in (None, "")})
    if "home" in values and "users_file" not in values:  # the users file lives in the home it belongs to
        values["users_file"] = Path(str(values["home"])) / "users.json"
    for name in ("home", "notebooks", "users_file", "schedules"):
        if name in values:
            values[name] = Path(str(values[name])).expanduser()
    return Settings(**values)  # type: ignore[arg-type]


def dotenv_file(environ: Mapping[str, str]) -> dict[str, str]:
    """``ANALYTICS_*`` values from ``$ANALYTICS_ENV_FILE``, else ``.env`` in ``$ANALYTICS_HOME`` (or the checkout).

    Secrets live there or in the environment, never in notebooks.
    """
    path = Path(environ.get("ANALYTICS_ENV_FILE") or Path(environ.get("ANALYTICS_HOME") or _default_home()) / ".env")
    if not path.is_file():
        return {}
    return {name: value for name, value in dotenv_values(path).items()
            if name.startswith("ANALYTICS_") and value is not None}


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

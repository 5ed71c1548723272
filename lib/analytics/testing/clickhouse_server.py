"""A private ClickHouse server on a free loopback port, for tests and benchmarks.

Uses Debian's ``clickhouse-server`` package (18.16), installing it when missing and we
are root. Each instance has its own temporary data folder, user and password, and is
stopped (and its folder removed) by :meth:`ClickHouseServer.stop`.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from ..errors import AnalyticsError

BINARY_CANDIDATES = ("/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server")

_CONFIG = """<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{root}/server.log</log><errorlog>{root}/server.err.log</errorlog></logger>
  <tcp_port>{tcp_port}</tcp_port>
  <http_port>{http_port}</http_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{root}/data/</path>
  <tmp_path>{root}/tmp/</tmp_path>
  <user_files_path>{root}/user_files/</user_files_path>
  <format_schema_path>{root}/format_schemas/</format_schema_path>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <users_config>{root}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mlock_executable>false</mlock_executable>
{extra}
</yandex>
"""

_USERS = """<?xml version="1.0"?>
<yandex>
  <profiles>
    <default><max_memory_usage>8000000000</max_memory_usage></default>
    <!-- the reports' account: reads, and may change query settings (timeouts, limits), never writes -->
    <reports><max_memory_usage>8000000000</max_memory_usage><readonly>2</readonly></reports>
  </profiles>
  <users>
    <{user}>
      <password>{password}</password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile><quota>default</quota>
    </{user}>
    <{reader}>
      <password>{password}</password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>reports</profile><quota>default</quota>
    </{reader}>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
"""


class ServerSetupError(AnalyticsError):
    """The test server could not be installed or started."""


def ensure_debian_package(package: str, binaries: tuple[str, ...]) -> str:
    """Path of the first of ``binaries``, installing ``package`` with apt when it is missing (needs root).

    Asks dpkg rather than looking for the binary alone: a half-removed package (LibreOffice
    without Calc) leaves its binary behind.
    """
    found = next((candidate for candidate in binaries if os.access(candidate, os.X_OK)), None)
    if found and _installed(package) is not False:
        return found
    # Parallel test workers may all find the package missing: one installs, the others wait for it (apt takes
    # one caller at a time and fails the rest).
    with open(Path(tempfile.gettempdir()) / "analytics-apt.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _install(package, binaries)


def _install(package: str, binaries: tuple[str, ...]) -> str:
    found = next((candidate for candidate in binaries if os.access(candidate, os.X_OK)), None)
    if found and _installed(package) is not False:
        return found
    if os.geteuid() != 0:
        raise ServerSetupError(f"{package} is not installed; run: sudo apt-get install {package}")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", package]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": environment}
    if subprocess.call(install, **quiet) != 0:  # type: ignore[call-overload]
        subprocess.check_call(["apt-get", "update"], **quiet)  # type: ignore[call-overload]
        subprocess.check_call(install, **quiet)  # type: ignore[call-overload]
    for candidate in binaries:
        if os.access(candidate, os.X_OK):
            return candidate
    raise ServerSetupError(f"{package} was installed but none of {', '.join(binaries)} exists")


def _installed(package: str) -> bool | None:
    """Whether dpkg lists the package as installed; None where there is no dpkg."""
    if shutil.which("dpkg-query") is None:
        return None
    status = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False)
    return status.returncode == 0 and status.stdout.strip().endswith("install ok installed")


def ensure_clickhouse_installed() -> str:
    """Path of clickhouse-server; installs Debian's package when missing (needs root)."""
    return ensure_debian_package("clickhouse-server", BINARY_CANDIDATES)


DEFAULT_PASSWORD = "s3cret-pass"  # the test server's; the suite checks no file it writes holds it


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ClickHouseServer:
    """Start with :meth:`start` (or as a context manager); ``url`` is ready for :func:`analytics.connect`."""

    def __init__(self, user: str = "analytics", password: str = DEFAULT_PASSWORD, database: str = "default", *,
                 extra_config: str = "") -> None:
        self.user, self.password, self.database = user, password, database
        self.extra_config = extra_config  # XML inside <yandex>: a cluster's remote_servers, say
        self.reader = f"{user}_reports"
        self.root = Path(tempfile.mkdtemp(prefix="analytics-clickhouse-"))
        self.tcp_port = free_port()
        self.http_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The writer account (the ``default`` profile): loads data, runs the library's writers."""
        return f"clickhouse://{self.user}:{self.password}@127.0.0.1:{self.tcp_port}/{self.database}"

    @property
    def reader_url(self) -> str:
        """The reports' account: the ``reports`` profile, ``readonly = 2``."""
        return f"clickhouse://{self.reader}:{self.password}@127.0.0.1:{self.tcp_port}/{self.database}"

    def start(self, timeout: float = 60.0) -> ClickHouseServer:
        binary = ensure_clickhouse_installed()
        for folder in ("data", "tmp", "user_files", "format_schemas"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        (self.root / "config.xml").write_text(_CONFIG.format(root=self.root, tcp_port=self.tcp_port,
                                                             http_port=self.http_port, extra=self.extra_config))
        (self.root / "users.xml").write_text(_USERS.format(user=self.user, reader=self.reader, password=self.password))
        self.process = subprocess.Popen([binary, f"--config-file={self.root / 'config.xml'}"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                log = (self.root / "server.err.log")
                detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise ServerSetupError(f"clickhouse-server exited with code {self.process.returncode}: {detail}")
            try:
                with socket.create_connection(("127.0.0.1", self.tcp_port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise ServerSetupError(f"clickhouse-server did not open port {self.tcp_port} within {timeout:.0f} s")

    def stop(self, grace: float = 3.0, *, keep_data: bool = False) -> None:
        """Stop the server and remove its folder. Its data goes with it, so a server slow to finish its merges
        (18.16 took ~20 s at the end of every test worker) is killed after ``grace`` seconds. With `keep_data`
        the folder stays and :meth:`start` brings the same server back (a replica down for a while)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        if not keep_data:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> ClickHouseServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.stop()

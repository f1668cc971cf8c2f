"""A local MongoDB-wire-protocol server for single-machine jobflow-remote use.

jobflow-remote keeps its queue in MongoDB, so running thermogap "as on a cluster" on one
machine needs a server that speaks the MongoDB wire protocol. This module starts, stops
and inspects one such server, ``secantusd-py`` from the SecantusDB package, as a
separate process:

* it listens on a loopback address (``127.0.0.1`` by default) on a free port;
* its WiredTiger files, its log and a pidfile live under one data directory;
* :func:`start_server` returns only once the server answers a ``ping``.

SecantusDB is GPL-2.0 licensed. thermogap never imports it: it only runs its
``secantusd-py`` executable as a subprocess, so the server is an optional extra
(``pip install thermogap[server]``), like any other database server a user would
install next to thermogap.

Layout of a data directory::

    DATA_DIR/
        wiredtiger/       the server's storage (--storage-path)
        secantusd.toml    an empty config file, so no user-wide config is picked up
        secantusd.log     stdout and stderr of the server
        secantusd.pid     JSON: pid, host, port, start time (only while running)
        server.json       JSON: host and port of the last start (kept, so a restart
                          reuses the port that jobflow-remote configs point at)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import psutil

from thermogap.errors import (
    ConfigError,
    InputError,
    StoreAuthenticationError,
    StoreConnectionError,
    StoreError,
)

__all__ = [
    "SERVER_EXECUTABLE",
    "ServerInfo",
    "ServerNotInstalledError",
    "check_reachable",
    "default_data_dir",
    "find_server_executable",
    "free_loopback_port",
    "read_server_info",
    "start_server",
    "stop_server",
]

SERVER_EXECUTABLE = "secantusd-py"
"""Name of the SecantusDB server executable (installed by ``thermogap[server]``)."""

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
"""Hosts :func:`start_server` accepts without ``allow_non_loopback``."""

_PIDFILE = "secantusd.pid"
_STATEFILE = "server.json"
_LOGFILE = "secantusd.log"
_CONFIGFILE = "secantusd.toml"
_STORAGE_DIR = "wiredtiger"


class ServerNotInstalledError(ConfigError):
    """The ``secantusd-py`` executable is not installed."""


@dataclass(frozen=True)
class ServerInfo:
    """A running (or last-run) local server.

    Attributes
    ----------
    pid
        Process id of the server.
    host, port
        Address the server listens on.
    data_dir
        Directory holding storage, log and pidfile.
    started_at
        ISO-8601 UTC time the server was started.
    create_time
        Process creation time (seconds since the epoch) as reported by the OS; used
        to tell the server apart from an unrelated process that reused its pid.
    """

    pid: int
    host: str
    port: int
    data_dir: Path
    started_at: str
    create_time: float

    @property
    def uri(self) -> str:
        """MongoDB connection URI of the server, e.g. ``mongodb://127.0.0.1:27123``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"mongodb://{host}:{self.port}"

    @property
    def log_path(self) -> Path:
        """Path of the server's log file."""
        return self.data_dir / _LOGFILE

    @property
    def storage_path(self) -> Path:
        """Path of the server's WiredTiger storage directory."""
        return self.data_dir / _STORAGE_DIR

    def is_running(self) -> bool:
        """Whether the recorded process is alive (and is still the same process)."""
        try:
            proc = psutil.Process(self.pid)
            alive = proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
            return alive and abs(proc.create_time() - self.create_time) < 1.0
        except psutil.Error:
            return False

    def to_json(self) -> str:
        """Serialise to the pidfile's JSON text."""
        return json.dumps({**asdict(self), "data_dir": str(self.data_dir)}, indent=2)


def default_data_dir() -> Path:
    """Return the data directory used when none is given.

    ``$THERMOGAP_DB_DIR`` if set, else ``~/.thermogap/db``.
    """
    env = os.environ.get("THERMOGAP_DB_DIR")
    return Path(env).expanduser() if env else Path.home() / ".thermogap" / "db"


def find_server_executable() -> str:
    """Locate the ``secantusd-py`` executable.

    Looks on ``PATH`` and next to the running Python interpreter (a virtual
    environment's ``bin/`` need not be on ``PATH``).

    Returns
    -------
    str
        Absolute path of the executable.

    Raises
    ------
    ServerNotInstalledError
        If it is not installed.
    """
    found = shutil.which(SERVER_EXECUTABLE)
    if found:
        return found
    beside_python = Path(sys.executable).with_name(SERVER_EXECUTABLE)
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return str(beside_python)
    raise ServerNotInstalledError(
        f"{SERVER_EXECUTABLE!r} is not installed (looked on PATH and in "
        f"{beside_python.parent}); install the optional server with "
        "`pip install thermogap[server]`, or point thermogap at an existing MongoDB"
    )


def free_loopback_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that is free right now (the OS picks it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_is_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # Bind as the server does (SO_REUSEADDR): connections of a stopped server that
        # linger in TIME_WAIT do not make the port busy, a listening socket does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def check_reachable(uri: str, timeout_s: float = 5.0) -> None:
    """Raise if no MongoDB-protocol server answers a ``ping`` at ``uri`` within ``timeout_s``.

    Parameters
    ----------
    uri
        MongoDB connection URI (``mongodb://host:port/...``).
    timeout_s
        Time budget in seconds for server selection and the ping.

    Raises
    ------
    StoreConnectionError
        One line naming the host and port that could not be reached.
    """
    import pymongo
    import pymongo.errors

    timeout_ms = max(1, int(timeout_s * 1000))
    client: pymongo.MongoClient = pymongo.MongoClient(
        uri,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=timeout_ms,
    )
    try:
        client.admin.command("ping")
    except pymongo.errors.PyMongoError as exc:
        parts = urlsplit(uri)
        where = parts.netloc.rsplit("@", 1)[-1] or uri
        if getattr(exc, "code", None) == 18:  # AuthenticationFailed: the server did answer
            raise StoreAuthenticationError(
                f"authentication failed at MongoDB {where}: check the user name and password"
            ) from None
        raise StoreConnectionError(
            f"cannot reach MongoDB at {where} within {timeout_s:g} s ({type(exc).__name__})"
        ) from None
    finally:
        client.close()


def read_server_info(data_dir: str | os.PathLike[str]) -> ServerInfo | None:
    """Read the pidfile of ``data_dir``.

    Returns
    -------
    ServerInfo or None
        The recorded server (which may have died since; see
        :meth:`ServerInfo.is_running`), or ``None`` if there is no pidfile.
    """
    pidfile = Path(data_dir) / _PIDFILE
    if not pidfile.is_file():
        return None
    try:
        raw = json.loads(pidfile.read_text())
        return ServerInfo(
            pid=int(raw["pid"]),
            host=str(raw["host"]),
            port=int(raw["port"]),
            data_dir=Path(raw["data_dir"]),
            started_at=str(raw["started_at"]),
            create_time=float(raw["create_time"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreError(
            f"unreadable pidfile {pidfile}: {exc}; delete it if no server runs"
        ) from None


def _remembered_port(data_dir: Path, host: str) -> int | None:
    statefile = data_dir / _STATEFILE
    try:
        state = json.loads(statefile.read_text())
    except (OSError, ValueError):
        return None
    if state.get("host") == host and isinstance(state.get("port"), int):
        return int(state["port"])
    return None


def _choose_port(data_dir: Path, host: str, port: int | None) -> int:
    if port is not None:
        if not 0 < port < 65536:
            raise InputError(f"{port=} is not a TCP port; allowed: 1..65535 or None for a free one")
        if not _port_is_free(host, port):
            raise StoreError(f"port {port} on {host} is already in use; pick another or omit it")
        return port
    remembered = _remembered_port(data_dir, host)
    if remembered is not None and _port_is_free(host, remembered):
        return remembered
    return free_loopback_port(host)


def _tail(path: Path, n_lines: int = 5) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in lines[-n_lines:])


def _wait_until_ready(
    proc: subprocess.Popen[bytes], uri: str, log_path: Path, timeout_s: float
) -> None:
    """Poll until the server answers a ping, it exits, or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        code = proc.poll()
        if code is not None:
            raise StoreError(
                f"{SERVER_EXECUTABLE} exited with code {code} during start-up; "
                f"log {log_path}: {_tail(log_path)}"
            )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise StoreConnectionError(
                f"{SERVER_EXECUTABLE} did not answer at {uri} within {timeout_s:g} s; "
                f"log {log_path}: {_tail(log_path)}"
            )
        try:
            check_reachable(uri, timeout_s=min(1.0, remaining))
            return
        except StoreConnectionError:
            time.sleep(0.1)


def start_server(
    data_dir: str | os.PathLike[str] | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
    timeout_s: float = 30.0,
    executable: str | None = None,
    allow_non_loopback: bool = False,
) -> ServerInfo:
    """Start a ``secantusd-py`` server in the background and wait until it answers.

    If the pidfile in ``data_dir`` names a live server, that server is returned
    unchanged (starting is idempotent).

    Parameters
    ----------
    data_dir
        Directory for storage, log and pidfile; created if missing.
        Default: :func:`default_data_dir`.
    host
        Address to listen on. Only loopback addresses unless ``allow_non_loopback``:
        the server runs without authentication.
    port
        TCP port. ``None`` reuses the port of the previous start when it is free,
        else lets the OS pick a free one.
    timeout_s
        Seconds to wait for the server to answer a ping before giving up (the
        process is then terminated).
    executable
        Path of the server executable; default :func:`find_server_executable`.
    allow_non_loopback
        Permit a non-loopback ``host``.

    Returns
    -------
    ServerInfo
        The running server; ``info.uri`` is its connection URI.

    Raises
    ------
    ServerNotInstalledError
        ``secantusd-py`` is not installed.
    InputError
        Bad ``host``/``port``/``timeout_s``.
    StoreError, StoreConnectionError
        The server exited during start-up or did not answer in time.
    """
    if host not in LOOPBACK_HOSTS and not allow_non_loopback:
        raise InputError(
            f"{host=} is not a loopback address; allowed: {', '.join(LOOPBACK_HOSTS)} "
            "(the server runs without authentication)"
        )
    if timeout_s <= 0:
        raise InputError(f"{timeout_s=} must be > 0 seconds")
    data_path = Path(data_dir) if data_dir is not None else default_data_dir()
    data_path = data_path.expanduser().resolve()
    existing = read_server_info(data_path)
    if existing is not None and existing.is_running():
        return existing
    exe = executable or find_server_executable()
    data_path.mkdir(parents=True, exist_ok=True)
    (data_path / _STORAGE_DIR).mkdir(exist_ok=True)
    config = data_path / _CONFIGFILE
    if not config.exists():
        config.write_text("# thermogap: empty on purpose; all settings are command-line flags\n")
    log_path = data_path / _LOGFILE
    # A port picked as free can be taken before the server binds it: then pick another.
    attempts = 1 if port is not None else 3
    for attempt in range(1, attempts + 1):
        chosen_port = _choose_port(data_path, host, port if attempt == 1 else None)
        log_offset = log_path.stat().st_size if log_path.exists() else 0
        proc, info = _launch(exe, config, data_path, host, chosen_port, log_path)
        try:
            _wait_until_ready(proc, info.uri, log_path, timeout_s)
            break
        except StoreError:
            _terminate(proc.pid, timeout_s=5.0)
            lost_port_race = "Address already in use" in _read_from(log_path, log_offset)
            if not lost_port_race or attempt == attempts:
                raise
        except BaseException:
            _terminate(proc.pid, timeout_s=5.0)
            raise
    (data_path / _PIDFILE).write_text(info.to_json())
    (data_path / _STATEFILE).write_text(json.dumps({"host": host, "port": chosen_port}))
    return info


def _read_from(path: Path, offset: int) -> str:
    with open(path, "rb") as handle:
        handle.seek(offset)
        return handle.read().decode(errors="replace")


def _launch(
    exe: str, config: Path, data_path: Path, host: str, port: int, log_path: Path
) -> tuple[subprocess.Popen[bytes], ServerInfo]:
    """Start the server process (not waiting for it) and describe it."""
    argv = [
        exe,
        "--config", str(config),
        "--host", host,
        "--port", str(port),
        "--storage-path", str(data_path / _STORAGE_DIR),
        "--log-level", "INFO",
    ]  # fmt: skip
    with open(log_path, "ab") as log:
        # A new session: the server outlives the `thermogap db start` process and
        # does not receive the terminal's Ctrl-C.
        proc = subprocess.Popen(
            argv,
            cwd=data_path,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        create_time = psutil.Process(proc.pid).create_time()
    except psutil.NoSuchProcess:  # already gone; _wait_until_ready reports its exit code
        create_time = time.time()
    info = ServerInfo(
        pid=proc.pid,
        host=host,
        port=port,
        data_dir=data_path,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        create_time=create_time,
    )
    return proc, info


def _terminate(pid: int, timeout_s: float) -> None:
    """SIGTERM ``pid``, SIGKILL after ``timeout_s``, and reap it if it is our child."""
    try:
        proc = psutil.Process(pid)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except psutil.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout_s)
    except psutil.NoSuchProcess:
        pass


def stop_server(
    data_dir: str | os.PathLike[str] | None = None, timeout_s: float = 10.0
) -> ServerInfo | None:
    """Stop the server recorded in ``data_dir`` and remove its pidfile.

    Sends SIGTERM (the server then closes its storage cleanly) and SIGKILL if it has
    not exited after ``timeout_s`` seconds. The storage is kept.

    Returns
    -------
    ServerInfo or None
        The server that was stopped, or ``None`` if none was running.
    """
    data_path = (
        (Path(data_dir) if data_dir is not None else default_data_dir()).expanduser().resolve()
    )
    info = read_server_info(data_path)
    if info is None:
        return None
    was_running = info.is_running()
    if was_running:
        _terminate(info.pid, timeout_s)
    (data_path / _PIDFILE).unlink(missing_ok=True)
    return info if was_running else None

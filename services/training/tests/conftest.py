"""Shared helpers for the training tests: a real SMTP server on loopback and companies to train."""
from __future__ import annotations

import asyncio
import email
import re
from dataclasses import dataclass, field
from datetime import date
from email import policy

import httpx
import pytest
from aiosmtpd.controller import Controller

from otasuke.events import AggregateRef, EventStore, Tenant, ensure_streams
from otasuke.events.schemas.enrolment import CompanyRegistered, ServiceActivated
from otasuke.platform.embedded import free_port


@dataclass
class Mailbox:
    """What the loopback SMTP server received; ``accept`` limits how many it takes before answering 451."""

    messages: list = field(default_factory=list)
    accept: int | None = None
    refused: int = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.accept is not None and len(self.messages) >= self.accept:
            self.refused += 1
            return "451 4.3.0 relay busy, try again later"
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK queued"

    def to(self, address: str) -> list:
        return [m for m in self.messages if address in str(m["To"])]


@pytest.fixture
def smtp_server():
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    box.url = f"smtp://127.0.0.1:{port}"
    yield box
    controller.stop()


@pytest.fixture
def training_env(monkeypatch, smtp_server):
    """Point the service at the loopback SMTP server; people click instantly in tests."""
    monkeypatch.setenv("OTASUKE_SMTP_URL", smtp_server.url)
    monkeypatch.setenv("OTASUKE_TRAINING_PUBLIC_URL", "http://training.test")
    monkeypatch.setenv("OTASUKE_TRAINING_MIN_HUMAN_SECONDS", "0")
    monkeypatch.setenv("OTASUKE_TRAINING_POLL_SECONDS", "0.2")
    return smtp_server


async def register_company(nats_url: str, partner: str, company: str, employees: int = 30) -> None:
    import nats

    nc = await nats.connect(nats_url)
    try:
        await ensure_streams(nc.jetstream())
        store = EventStore(nc)
        tenant = Tenant(partner, company)
        await store.append(
            AggregateRef("enrolment", tenant, "company", company),
            [CompanyRegistered(company_id=company, name=f"{company} 株式会社", industry="manufacturing",
                               employees=employees, prefecture="愛知県")],
            expected_seq=None,
        )
        await store.append(
            AggregateRef("enrolment", tenant, "application", f"{company}-pt"),
            [ServiceActivated(application_id=f"{company}-pt", service="phishing_training", activated_on=date.today())],
            expected_seq=None,
        )
    finally:
        await nc.close()


async def wait_company(client: httpx.AsyncClient, headers: dict, company: str) -> None:
    for _ in range(200):
        r = await client.get(f"/api/v1/companies/{company}/training/history", headers=headers)
        if r.status_code == 200:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{company} never reached the training directory: {r.status_code} {r.text[:300]}")


async def wait_until(predicate, timeout: float = 30.0, what: str = "condition"):
    """Poll until ``predicate()`` (sync or async) is truthy; returns its value."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def link_in(message, kind: str = "c") -> str:
    text = message.get_body(("plain",)).get_content()
    match = re.search(r"http://training\.test(/t/[A-Za-z0-9]+/" + kind + r")", text)
    assert match, text
    return match.group(1)


def people(n: int, departments=("営業部", "製造部", "総務部")) -> list[dict]:
    return [
        {"email": f"staff{i:03d}@example.co.jp", "name": f"社員 {i:03d}", "department": departments[i % len(departments)]}
        for i in range(n)
    ]


class Kit:
    """Helpers for tests (a fixture, since test modules cannot import conftest by name)."""

    register_company = staticmethod(register_company)
    wait_company = staticmethod(wait_company)
    wait_until = staticmethod(wait_until)
    link_in = staticmethod(link_in)
    people = staticmethod(people)


@pytest.fixture
def kit() -> type[Kit]:
    return Kit


@pytest.fixture
async def restartable(settings):
    """Start and stop training service processes at will (same NATS, PostgreSQL and port)."""
    import uvicorn

    from otasuke.platform.service import create_app, load_spec

    running: list = []

    class Process:
        def __init__(self, server, task, app):
            self.server, self.task, self.app = server, task, app
            self.url = settings.url("training")

        @property
        def runtime(self):
            return self.app.state.runtime

        async def stop(self):
            self.server.should_exit = True
            await asyncio.wait_for(self.task, 20)
            running.remove(self)

    async def start() -> Process:
        app = create_app(load_spec("training"), settings)
        server = uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port("training"),
                                               log_level="warning", lifespan="on"))
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.025)
        proc = Process(server, task, app)
        running.append(proc)
        return proc

    yield start
    for proc in list(running):
        await proc.stop()

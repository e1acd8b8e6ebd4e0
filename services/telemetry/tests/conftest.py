"""Helpers shared by the telemetry service tests: a running service with two tenants and devices."""
from __future__ import annotations

import asyncio
import gzip as gzip_mod
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from otasuke.events import AggregateRef, EventMeta, EventStore, Tenant
from otasuke.events.schemas.enrolment import CompanyRegistered, ServiceActivated

A = ("p1", "acme")      # partner, company
B = ("p2", "bolt")      # another partner's company


def suricata_c2(n: int, *, start: datetime | None = None, src: str = "192.168.10.5", dst: str = "203.0.113.9") -> list[dict]:
    start = start or datetime.now(UTC)
    return [{
        "timestamp": (start + timedelta(seconds=i)).isoformat(), "event_type": "alert", "src_ip": src, "src_port": 49152,
        "dest_ip": dst, "dest_port": 443, "proto": "TCP",
        "alert": {"action": "blocked", "signature_id": 2024897, "signature": "ET MALWARE Win32/Agent CnC Beacon",
                  "category": "A Network Trojan was detected", "severity": 1},
    } for i in range(n)]


def sysmon_process(image: str, command: str, parent: str, *, at: datetime | None = None, host: str = "PC-01") -> dict:
    return {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": host,
            "UtcTime": (at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
            "Image": image, "CommandLine": command, "ParentImage": parent, "User": "ACME\\taro"}


@dataclass
class Telemetry:
    svc: object
    client: httpx.AsyncClient
    auth_headers: object
    store: EventStore
    start_service: object = None

    A = A
    B = B
    suricata_c2 = staticmethod(suricata_c2)
    sysmon_process = staticmethod(sysmon_process)

    @property
    def runtime(self):
        return self.svc.runtime

    def company_headers(self, tenant=A):
        return self.auth_headers("company_admin", partner_id=tenant[0], company_id=tenant[1])

    def operator_headers(self, partner="p1"):
        return self.auth_headers("operator", partner_id=partner)

    async def device(self, device_id: str, kind: str, tenant=A, learning_days: float = 0) -> str:
        r = await self.client.post("/api/v1/devices", headers=self.operator_headers(tenant[0]), json={
            "company_id": tenant[1], "device_id": device_id, "kind": kind, "hostname": device_id,
            "learning_days": learning_days})
        assert r.status_code == 201, r.text
        return r.json()["token"]

    async def send(self, source: str, token: str, events: list, *, batch_id: str | None = None,
                   gzip: bool = False, raw: bytes | None = None) -> httpx.Response:
        body = raw if raw is not None else "\n".join(e if isinstance(e, str) else json.dumps(e) for e in events).encode()
        headers = {"Authorization": f"Bearer {token}"}
        if batch_id:
            headers["X-Batch-Id"] = batch_id
        if gzip:
            body = gzip_mod.compress(body)
            headers["Content-Encoding"] = "gzip"
        return await self.client.post(f"/api/v1/ingest/{source}", content=body, headers=headers)

    async def restart(self) -> "Telemetry":
        """Stop this process's runtime (consumers, caches, connections) and start a fresh one."""
        from otasuke.platform.embedded import free_port
        from otasuke.platform.service import load_spec, stop_runtime

        await stop_runtime(load_spec("telemetry"), self.runtime)
        ports = dict(self.runtime.settings.ports)
        ports["telemetry"] = free_port()
        svc = await self.start_service("telemetry", ports=ports)
        return Telemetry(svc, httpx.AsyncClient(base_url=svc.url, timeout=30), self.auth_headers, self.store,
                         self.start_service)

    async def alerts(self, tenant=A, **params) -> list[dict]:
        r = await self.client.get("/api/v1/alerts", headers=self.company_headers(tenant), params=params)
        assert r.status_code == 200, r.text
        return r.json()

    async def settle(self, timeout: float = 20.0) -> None:
        """Wait until detection has consumed INGEST and the read model caught up."""
        rt = self.runtime
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            info = await rt.js.consumer_info("INGEST", "telemetry_detection")
            lag = await rt.runner("telemetry.read_model").lag()
            if info.num_pending == 0 and info.num_ack_pending == 0 and lag == 0:
                return
            await asyncio.sleep(0.1)
        raise AssertionError("telemetry pipeline did not settle")

    async def wait_alerts(self, predicate, tenant=A, timeout: float = 20.0, **params) -> list[dict]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            alerts = await self.alerts(tenant, **params)
            if predicate(alerts):
                return alerts
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"condition not met; alerts: {alerts}")
            await asyncio.sleep(0.1)


async def register_companies(nc) -> None:
    store = EventStore(nc)
    for partner, company, name in ((*A, "株式会社アクメ製作所"), (*B, "ボルト運輸株式会社")):
        t = Tenant(partner, company)
        await store.append(AggregateRef("enrolment", t, "company", company), [CompanyRegistered(
            company_id=company, name=name, industry="製造業", employees=40, prefecture="岐阜県")], expected_seq=0)
        await store.append(AggregateRef("enrolment", t, "application", f"{company}-utm"), [
            ServiceActivated(application_id=f"{company}-utm", service="utm", activated_on=date.today(), devices=1),
            ServiceActivated(application_id=f"{company}-edr", service="edr", activated_on=date.today(), devices=2),
        ], expected_seq=None, meta=EventMeta(actor="test"))


async def start_telemetry(start_service, auth_headers, nc) -> Telemetry:
    svc = await start_service("telemetry")
    client = httpx.AsyncClient(base_url=svc.url, timeout=30)
    t = Telemetry(svc, client, auth_headers, EventStore(nc), start_service)
    for _ in range(200):
        n = await svc.runtime.pool.fetchval("SELECT count(*) FROM companies")
        m = await svc.runtime.pool.fetchval("SELECT count(*) FROM monitoring")
        if n == 2 and m == 4:
            break
        await asyncio.sleep(0.05)
    return t


@pytest.fixture
async def telemetry(start_service, auth_headers, nc):
    await register_companies(nc)
    t = await start_telemetry(start_service, auth_headers, nc)
    yield t
    await t.client.aclose()


@pytest.fixture
async def telemetry_with_detection_process(start_service, auth_headers, nc, monkeypatch):
    """The service with detection in a process of its own (OTASUKE_TELEMETRY_DETECTION_PROCESSES=1)."""
    monkeypatch.setenv("OTASUKE_TELEMETRY_DETECTION_PROCESSES", "1")
    await register_companies(nc)
    t = await start_telemetry(start_service, auth_headers, nc)
    yield t
    await t.client.aclose()


@pytest.fixture
async def telemetry_small_backlog(start_service, auth_headers, nc, monkeypatch):
    """The service refusing HTTP batches once detection has more than 2 messages waiting."""
    monkeypatch.setenv("OTASUKE_TELEMETRY_INGEST_MAX_PENDING", "2")
    await register_companies(nc)
    t = await start_telemetry(start_service, auth_headers, nc)
    yield t
    await t.client.aclose()

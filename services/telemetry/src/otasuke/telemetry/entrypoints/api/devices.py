"""Devices: registered by an operator (or the company's admin), listed per company."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
from litestar import Controller, Request, get, post

from otasuke.events import AggregateRef, EventMeta, Tenant, execute
from otasuke.events.envelope import check_id
from otasuke.events.schemas.telemetry import DeviceRegistered
from otasuke.platform.auth import Role, issue_token, principal_of, require_role
from otasuke.platform.service import Runtime

from ...application.ingest_batch import learning_days, raw_subject
from ...application.read_model import NAME as READ_MODEL
from ...domain import device as device_domain
from .tenancy import company_for, reader, visible_companies_sql


class DeviceIn(msgspec.Struct, kw_only=True):
    company_id: str
    device_id: str
    kind: str
    """``utm`` (appliance) or ``edr`` (endpoint agent)."""
    hostname: str
    learning_days: float | None = None
    """Length of the learning period; the deployment default (30 days) when omitted."""


class DeviceOut(msgspec.Struct, kw_only=True):
    device_id: str
    company_id: str
    kind: str
    hostname: str
    learning_until: datetime | None
    in_learning_period: bool
    last_seen_at: datetime | None = None
    events_seen: int = 0
    last_rejection: str | None = None


class DeviceRegisteredOut(msgspec.Struct, kw_only=True):
    device: DeviceOut
    token: str
    """The device's bearer token for HTTP ingest and its NATS header."""
    nats_subjects: dict[str, str]


def device_out(r) -> DeviceOut:
    now = datetime.now(UTC)
    return DeviceOut(
        device_id=r["device_id"], company_id=r["company_id"], kind=r["kind"], hostname=r["hostname"],
        learning_until=r["learning_until"], in_learning_period=bool(r["learning_until"] and r["learning_until"] > now),
        last_seen_at=r["last_seen_at"], events_seen=r["events_seen"], last_rejection=r["last_rejection"],
    )


class DeviceController(Controller):
    path = "/api/v1/devices"
    tags = ["devices"]

    @post("/", status_code=201)
    async def register(self, data: DeviceIn, request: Request, runtime: Runtime) -> DeviceRegisteredOut:
        principal, partner_id = await company_for(request, runtime, data.company_id)
        require_role(principal, Role.OPERATOR, Role.COMPANY_ADMIN)
        check_id(data.device_id, "device_id")
        if data.kind not in ("utm", "edr"):
            from otasuke.events import DomainError

            raise DomainError("kind must be 'utm' or 'edr'")
        days = learning_days() if data.learning_days is None else data.learning_days
        cmd = DeviceRegistered(device_id=data.device_id, kind=data.kind, hostname=data.hostname,
                               learning_until=datetime.now(UTC) + timedelta(days=days) if data.kind == "edr" else None,
                               registered_by=principal.subject)
        ref = AggregateRef("telemetry", Tenant(partner_id, data.company_id), device_domain.AGGREGATE_TYPE, data.device_id)
        existing = await runtime.pool.fetchrow("SELECT company_id FROM devices WHERE device_id=$1", data.device_id)
        if existing is not None and existing["company_id"] != data.company_id:
            from otasuke.events import DomainError

            raise DomainError("this device id is already used")
        outcome = await execute(runtime.store, device_domain.DEVICE, ref, lambda s: device_domain.register(s, cmd),
                                meta=EventMeta(actor=principal.subject))
        await runtime.wait_for(READ_MODEL, outcome.version)
        row = await runtime.pool.fetchrow("SELECT * FROM devices WHERE device_id=$1", data.device_id)
        token = issue_token(runtime.settings.require_signing_key(), subject=data.device_id, role=Role.DEVICE,
                            partner_id=partner_id, company_id=data.company_id, ttl=timedelta(days=400))
        subjects = {s: raw_subject(partner_id, data.company_id, s, data.device_id)
                    for s in (("suricata", "cef") if data.kind == "utm" else ("windows", "sysmon", "security"))}
        return DeviceRegisteredOut(device=device_out(row), token=token, nats_subjects=subjects)

    @get("/")
    async def list_devices(self, request: Request, runtime: Runtime, company_id: str | None = None) -> list[DeviceOut]:
        principal = reader(request)
        where, args = visible_companies_sql(principal)
        if company_id:
            args.append(company_id)
            where += f" AND company_id = ${len(args)}"
        rows = await runtime.pool.fetch(f"SELECT * FROM devices WHERE {where} ORDER BY company_id, device_id", *args)
        return [device_out(r) for r in rows]

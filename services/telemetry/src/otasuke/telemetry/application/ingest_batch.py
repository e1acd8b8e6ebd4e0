"""Ingest one batch from a device: validate, normalise, archive, append to INGEST.

The same function serves both doors (HTTP ``POST`` and devices publishing to
NATS). A batch is all or nothing: the first bad line refuses it with the line
number and field, and nothing is archived or published. The batch id becomes
the ``Nats-Msg-Id`` of what is appended, so a batch the device sends again
(lost response, redelivery) is recognised and not counted twice.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import msgspec

from otasuke.events import AggregateRef, EventMeta, Tenant, derived_id, execute
from otasuke.events.envelope import check_id
from otasuke.events.schemas.telemetry import DeviceCheckedIn, DeviceRegistered, IngestRejected
from otasuke.events.store import make_envelope
from otasuke.events.streams import INGEST
from otasuke.platform.settings import env

from ..adapters import arrow_batches, parquet_archive
from ..domain import device as device_domain
from ..domain.normalisers import BatchRejected, normalise_batch, normaliser_for

log = logging.getLogger(__name__)

H_BATCH = "Otasuke-Batch-Id"
H_DEVICE_TOKEN = "Otasuke-Device-Token"
ARROW_SUFFIX = "arrow"


def learning_days() -> float:
    return float(env("TELEMETRY_LEARNING_DAYS", "30"))


def raw_subject(partner_id: str, company_id: str, source: str, device_id: str) -> str:
    """Where a device publishes its raw JSON lines (its NATS permission is exactly this subject)."""
    return f"{INGEST.context}.{partner_id}.{company_id}.{source}.{device_id}"


def arrow_subject(partner_id: str, company_id: str, source: str, device_id: str) -> str:
    """Where the normalised Arrow batches go (six tokens, so devices can never publish there)."""
    return f"{raw_subject(partner_id, company_id, source, device_id)}.{ARROW_SUFFIX}"


def batch_id_for(body: bytes, given: str | None) -> str:
    if given:
        return check_id(given, "batch id")
    return "h" + hashlib.sha256(body).hexdigest()[:40]


class IngestResult(msgspec.Struct, kw_only=True):
    batch_id: str
    device_id: str
    source: str
    events: int
    duplicate: bool = False
    messages: int = 1


@dataclass
class DeviceContext:
    partner_id: str
    company_id: str
    device_id: str


class Ingestor:
    """Per process: remembers which devices are registered and when each last checked in."""

    def __init__(self, rt):
        self.rt = rt
        self._registered: set[str] = set()
        self._checked_in: dict[str, datetime] = {}
        self._known_companies: set[tuple[str, str]] = set()
        max_payload = getattr(rt.nc, "max_payload", 1024 * 1024) or 1024 * 1024
        self.max_bytes = int(max_payload * 0.9)

    async def company_known(self, partner_id: str, company_id: str) -> bool:
        if (partner_id, company_id) in self._known_companies:
            return True
        row = await self.rt.pool.fetchrow("SELECT partner_id FROM companies WHERE company_id=$1", company_id)
        if row is None or row["partner_id"] != partner_id:
            return False
        self._known_companies.add((partner_id, company_id))
        return True

    async def ingest(self, ctx: DeviceContext, source: str, body: bytes, batch_id: str | None = None) -> IngestResult:
        normaliser_for(source)  # unknown source → LookupError before any work
        bid = batch_id_for(body, batch_id)
        try:
            batch = normalise_batch(source, body, ctx.device_id)
        except BatchRejected as exc:
            await self._record_rejection(ctx, source, bid, exc)
            raise
        received = datetime.now(UTC)
        await self._ensure_device(ctx, batch.kind, batch.first_host or ctx.device_id)
        table = arrow_batches.batch_to_table(
            batch,
            {"partner_id": ctx.partner_id, "company_id": ctx.company_id, "device_id": ctx.device_id,
             "source": source, "kind": batch.kind, "batch_id": bid,
             arrow_batches.META_RECEIVED_AT: repr(received.timestamp())},
        )
        chunks = arrow_batches.split_for_payload(table, self.max_bytes)
        await asyncio.to_thread(
            parquet_archive.write_batch, self.rt.settings.data_dir, partner_id=ctx.partner_id,
            company_id=ctx.company_id, device_id=ctx.device_id, source=source, batch_id=bid,
            received_at=received, lines=batch.raw_lines,
        )
        subject = arrow_subject(ctx.partner_id, ctx.company_id, source, ctx.device_id)
        duplicate = True
        # Scoped to the device: two devices (or tenants) sending identical bodies are two batches.
        # Distinct from the raw message id a device may have used on the same stream.
        scope = f"arrow-{ctx.partner_id}.{ctx.company_id}.{ctx.device_id}.{bid}"
        for i, chunk in enumerate(chunks):
            msg_id = scope if len(chunks) == 1 else f"{scope}-{i}"
            ack = await self.rt.js.publish(
                subject, chunk, stream=INGEST.name,
                headers={"Nats-Msg-Id": msg_id, H_BATCH: bid}, timeout=10,
            )
            duplicate = duplicate and bool(ack.duplicate)
        if not duplicate:
            await self._check_in(ctx, source, received, batch.size)
        return IngestResult(batch_id=bid, device_id=ctx.device_id, source=source, events=batch.size,
                            duplicate=duplicate, messages=len(chunks))

    async def _ensure_device(self, ctx: DeviceContext, kind: str, hostname: str) -> None:
        if ctx.device_id in self._registered:
            return
        ref = AggregateRef("telemetry", Tenant(ctx.partner_id, ctx.company_id), device_domain.AGGREGATE_TYPE, ctx.device_id)
        cmd = DeviceRegistered(
            device_id=ctx.device_id, kind=kind, hostname=hostname,
            learning_until=datetime.now(UTC) + timedelta(days=learning_days()) if kind == "edr" else None,
            registered_by=ctx.device_id,
        )
        await execute(self.rt.store, device_domain.DEVICE, ref, lambda s: device_domain.register(s, cmd),
                      meta=EventMeta(actor=ctx.device_id), command_id=f"register:{ctx.device_id}")
        self._registered.add(ctx.device_id)

    async def _check_in(self, ctx: DeviceContext, source: str, at: datetime, events: int) -> None:
        """At most one check-in event per device and hour (the id is derived from the hour)."""
        hour = at.replace(minute=0, second=0, microsecond=0)
        if self._checked_in.get(ctx.device_id) == hour:
            return
        ref = AggregateRef("telemetry", Tenant(ctx.partner_id, ctx.company_id), device_domain.AGGREGATE_TYPE, ctx.device_id)
        payload = DeviceCheckedIn(device_id=ctx.device_id, at=hour, source=source, events=events)
        env_ = make_envelope(ref, payload, EventMeta(actor=ctx.device_id),
                             event_id=derived_id(f"checkin:{ctx.device_id}:{hour.isoformat()}"))
        await self.rt.store.publish(ref.subject, ref.stream.name, env_)
        self._checked_in[ctx.device_id] = hour

    async def _record_rejection(self, ctx: DeviceContext, source: str, batch_id: str, exc: BatchRejected) -> None:
        if ctx.device_id not in self._registered:
            row = await self.rt.pool.fetchrow("SELECT 1 FROM devices WHERE device_id=$1", ctx.device_id)
            if row is None:
                return  # an unknown device's garbage is not worth an event
        ref = AggregateRef("telemetry", Tenant(ctx.partner_id, ctx.company_id), device_domain.AGGREGATE_TYPE, ctx.device_id)
        payload = IngestRejected(device_id=ctx.device_id, batch_id=batch_id, source=source, reason=str(exc),
                                 line=exc.line, field=exc.field)
        env_ = make_envelope(ref, payload, EventMeta(actor=ctx.device_id), event_id=derived_id(f"rejected:{ctx.device_id}:{batch_id}"))
        try:
            await self.rt.store.publish(ref.subject, ref.stream.name, env_)
        except Exception:  # the rejection itself is already answered to the device
            log.exception("could not record rejection of batch %s", batch_id)



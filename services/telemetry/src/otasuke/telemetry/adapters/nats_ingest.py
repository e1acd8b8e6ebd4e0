"""The NATS door for devices: raw JSON lines published to ``ingest.<partner>.<company>.<source>.<device>``.

What a device publishes (one message = one batch):

* subject ``ingest.<partner>.<company>.<source>.<device>`` — its NATS user may
  publish to exactly this subject (deployment permission); ``source`` is one
  of ``suricata``, ``cef``, ``windows``, ``sysmon``, ``security``;
* body: JSON lines (one event per line), optionally gzip-compressed;
* header ``Nats-Msg-Id``: the batch id (the stream drops a re-sent batch);
* header ``Otasuke-Device-Token``: the device's token from registration —
  checked here too, so a mis-configured NATS permission cannot let one tenant
  write into another's subject.

A durable consumer validates and normalises each message with the same code
as HTTP ingest; a refused batch is recorded as ``telemetry.ingest_rejected``
(with line and field) on the device, a forged one is dead-lettered.
"""
from __future__ import annotations

import asyncio
import gzip
import logging

from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import NotFoundError

from otasuke.events.deadletter import dead_letter
from otasuke.events.projection import stop_pulling
from otasuke.events.streams import INGEST
from otasuke.platform.auth import Role, verify_token

from ..application.ingest_batch import H_BATCH, H_DEVICE_TOKEN, DeviceContext, Ingestor
from ..domain.normalisers import BatchRejected
from .jetstream_fetch import fetch_available

log = logging.getLogger(__name__)

DURABLE = "telemetry_raw_ingest"
FILTER = "ingest.*.*.*.*"


class NatsIngest:
    def __init__(self, rt, ingestor: Ingestor):
        self.rt = rt
        self.ingestor = ingestor
        self._task: asyncio.Task | None = None
        self._sub = None

    async def start(self) -> None:
        try:
            await self.rt.js.consumer_info(INGEST.name, DURABLE)
        except NotFoundError:
            await self.rt.js.add_consumer(INGEST.name, ConsumerConfig(
                durable_name=DURABLE, filter_subject=FILTER, ack_policy=AckPolicy.EXPLICIT, ack_wait=60.0,
                max_deliver=-1, max_ack_pending=256))
        self._task = asyncio.create_task(self._run(), name="nats-ingest")

    async def stop(self) -> None:
        await stop_pulling([self._task], [self._sub])
        self._task = self._sub = None

    async def _run(self) -> None:
        sub = None
        while True:
            try:
                if sub is None:
                    sub = self._sub = await self.rt.js.pull_subscribe_bind(DURABLE, stream=INGEST.name)
                try:
                    msgs = await fetch_available(sub, 16)
                except asyncio.TimeoutError:
                    continue
                for msg in msgs:
                    await self.handle(msg)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("nats ingest: unexpected error; retrying")
                sub = None
                await asyncio.sleep(0.5)

    async def handle(self, msg) -> None:
        _, partner_id, company_id, source, device_id = msg.subject.split(".")
        headers = msg.headers or {}
        try:
            p = verify_token(self.rt.settings.require_signing_key(), headers.get(H_DEVICE_TOKEN, ""))
            if p.role != Role.DEVICE or (p.partner_id, p.company_id, p.subject) != (partner_id, company_id, device_id):
                raise PermissionError("the device token does not belong to this subject")
        except Exception as exc:
            await dead_letter(self.rt.js, msg, DURABLE, f"refused: {exc}")
            await msg.ack()
            return
        body = msg.data
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        batch_id = headers.get(H_BATCH) or headers.get("Nats-Msg-Id")
        try:
            await self.ingestor.ingest(DeviceContext(partner_id, company_id, device_id), source, body, batch_id)
        except (BatchRejected, LookupError, ValueError) as exc:
            log.info("nats ingest: batch from %s refused: %s", device_id, exc)
        except Exception as exc:
            log.warning("nats ingest: %s failed, will retry: %s", msg.subject, exc)
            await msg.nak(delay=1.0)
            return
        await msg.ack()

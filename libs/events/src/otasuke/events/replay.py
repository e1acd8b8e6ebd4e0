"""Replay for ops: read a stream (or part of it) back out as JSON lines or Parquet.

Used by ``otasuke events replay``. Messages that are not envelopes (raw
telemetry batches, dead letters of malformed input) are written with their
headers and the payload as text or base64, never dropped.
"""
from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from . import registry


@dataclass
class ReplayItem:
    stream: str
    seq: int
    subject: str
    time: datetime
    headers: dict[str, str]
    data: bytes

    def as_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "stream": self.stream,
            "seq": self.seq,
            "subject": self.subject,
            "time": self.time.isoformat(),
            "headers": self.headers,
        }
        try:
            record["event"] = registry.to_builtins(registry.decode(self.data))
        except Exception:  # not an envelope: keep the bytes readable
            try:
                record["raw"] = self.data.decode("utf-8")
            except UnicodeDecodeError:
                record["raw_base64"] = base64.b64encode(self.data).decode()
        return record


async def count(js: JetStreamContext, stream: str, subject: str | None = None) -> int:
    info = await js.stream_info(stream, subjects_filter=subject) if subject else await js.stream_info(stream)
    if subject and info.state.subjects:
        return sum(info.state.subjects.values())
    return int(info.state.messages)


async def iterate(
    js: JetStreamContext,
    stream: str,
    *,
    subject: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    batch: int = 500,
) -> AsyncIterator[ReplayItem]:
    info = await js.stream_info(stream)
    if info.state.messages == 0:
        return
    end_seq = info.state.last_seq
    config = ConsumerConfig(
        ack_policy=AckPolicy.NONE,
        deliver_policy=DeliverPolicy.BY_START_TIME if since else DeliverPolicy.ALL,
        opt_start_time=since.isoformat() if since else None,
        filter_subject=subject,
        inactive_threshold=60.0,
    )
    sub = await js.pull_subscribe(subject or ">", durable=None, stream=stream, config=config)
    try:
        while True:
            try:
                msgs = await sub.fetch(batch, timeout=2.0)
            except asyncio.TimeoutError:
                return
            for msg in msgs:
                md = msg.metadata
                if md.timestamp is not None and until is not None and md.timestamp > until:
                    return
                yield ReplayItem(md.stream, md.sequence.stream, msg.subject, md.timestamp, dict(msg.headers or {}), msg.data)
                if md.sequence.stream >= end_seq or md.num_pending == 0:
                    return
    finally:
        try:
            await sub.unsubscribe()
        except Exception:
            pass


class JsonLinesWriter:
    def __init__(self, out):
        self.out = out

    def write(self, item: ReplayItem) -> None:
        self.out.write(json.dumps(item.as_record(), ensure_ascii=False, default=str) + "\n")

    def close(self) -> None:
        self.out.flush()


class ParquetWriter:
    """Columns: stream, seq, subject, time, type, partner_id, company_id, aggregate_id, event (JSON), headers (JSON)."""

    def __init__(self, path: Path, row_group: int = 10_000):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa, self.pq = pa, pq
        self.schema = pa.schema(
            [
                ("stream", pa.string()),
                ("seq", pa.uint64()),
                ("subject", pa.string()),
                ("time", pa.timestamp("us", tz="UTC")),
                ("type", pa.string()),
                ("partner_id", pa.string()),
                ("company_id", pa.string()),
                ("aggregate_id", pa.string()),
                ("event", pa.string()),
                ("headers", pa.string()),
            ]
        )
        self.writer = pq.ParquetWriter(str(path), self.schema, compression="zstd")
        self.rows: list[dict] = []
        self.row_group = row_group

    def write(self, item: ReplayItem) -> None:
        rec = item.as_record()
        ev = rec.get("event") or {}
        self.rows.append(
            {
                "stream": item.stream,
                "seq": item.seq,
                "subject": item.subject,
                "time": item.time,
                "type": ev.get("type") or item.headers.get("Otasuke-Type"),
                "partner_id": ev.get("partner_id"),
                "company_id": ev.get("company_id"),
                "aggregate_id": ev.get("aggregate_id"),
                "event": json.dumps(ev or {k: v for k, v in rec.items() if k.startswith("raw")}, ensure_ascii=False, default=str),
                "headers": json.dumps(item.headers, ensure_ascii=False),
            }
        )
        if len(self.rows) >= self.row_group:
            self._flush()

    def _flush(self) -> None:
        if self.rows:
            self.writer.write_table(self.pa.Table.from_pylist(self.rows, schema=self.schema))
            self.rows = []

    def close(self) -> None:
        self._flush()
        self.writer.close()


async def replay(
    js: JetStreamContext,
    stream: str,
    writer,
    *,
    subject: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    written = 0
    async for item in iterate(js, stream, subject=subject, since=since, until=until):
        writer.write(item)
        written += 1
        if progress:
            progress(written)
    writer.close()
    return written


def envelope_json(data: bytes) -> str:
    return msgspec.json.encode(registry.decode(data)).decode()

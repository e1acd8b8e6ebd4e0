"""The detection worker: a durable pull consumer on INGEST that turns matches into alerts.

Several workers (tasks or processes) bind to the same durable consumer
``telemetry_detection`` and JetStream hands each batch to one of them. Per
batch: evaluate every rule over the Arrow table at once, drop what the
company's allow-list excludes, group the rest by rule and host, and append
one ``AlertRaised`` or ``AlertGrouped`` per group to the alert series of that
rule and host. The appended event ids are derived from the batch's stream
sequence, so a redelivered batch changes nothing. While an endpoint learns,
its process starts feed its baseline (``BaselineLearned``) and its alerts are
marked as not to be pushed.

All state lives in the streams and read models: alert series are reloaded
from TELEMETRY, baselines and allow-lists read from the read model, the Sigma
correlation windows saved to PostgreSQL.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import NotFoundError

from otasuke.events import AggregateRef, ConcurrencyConflict, EventMeta, Tenant, derived_id
from otasuke.events.aggregate import load
from otasuke.events.schemas.telemetry import BaselineLearned
from otasuke.events.store import make_envelope
from otasuke.events.streams import INGEST, TELEMETRY
from otasuke.platform.settings import env

from ..adapters.arrow_batches import ipc_to_table
from ..detection import Engine
from ..domain import alert_series, baseline as baseline_domain, device as device_domain
from ..domain.allowlist import Entry, first_match
from ..domain.categories import category, shift_severity
from ..domain.normalisers import CATEGORY, HOST, TS
from . import rule_pack

log = logging.getLogger(__name__)

DURABLE = "telemetry_detection"
FILTER = "ingest.*.*.*.*.arrow"
EVIDENCE_ROWS = 3
EVIDENCE_FIELDS = 40
STATE_DDL = """
CREATE TABLE IF NOT EXISTS detection_state (
    name text PRIMARY KEY, state jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT now()
)
"""


def grouping_window() -> timedelta:
    return timedelta(hours=float(env("TELEMETRY_GROUPING_HOURS", "24")))


@dataclass
class _Group:
    rule: Any
    host: str
    rows: list[int] = field(default_factory=list)
    first: datetime | None = None
    last: datetime | None = None


class DetectionWorker:
    def __init__(self, rt, *, workers: int | None = None, batch: int = 8):
        self.rt = rt
        self.workers = workers or int(env("TELEMETRY_DETECTION_WORKERS", "1"))
        self.batch = batch
        self.window = grouping_window()
        self.rules = rule_pack.load_rules()
        self._compiled = {r.meta.id: r for r in self.rules.rules}
        self.engine: Engine | None = None
        self._series: dict[str, tuple[Any, int]] = {}
        self._devices: dict[str, tuple[device_domain.DeviceState, float]] = {}
        self._baselines: dict[str, tuple[baseline_domain.Baseline, float]] = {}
        self._tasks: list[asyncio.Task] = []
        self._stop = asyncio.Event()
        self._state_saved = 0.0
        self._lock = asyncio.Lock()  # the engine's correlation windows are shared by the tasks
        self.batches = 0
        self.events = 0
        self.alert_events = 0

    # -- lifecycle -------------------------------------------------------------
    async def start(self) -> None:
        async with self.rt.pool.acquire() as conn:
            await conn.execute(STATE_DDL)
            saved = await conn.fetchval("SELECT state FROM detection_state WHERE name=$1", DURABLE)
        state = msgspec.json.decode(saved) if saved else None
        try:
            self.engine = Engine(self.rules, state=state)
        except Exception:  # an incompatible saved state must not stop detection
            log.exception("correlation state unreadable; starting with empty windows")
            self.engine = Engine(self.rules)
        js = self.rt.js
        try:
            await js.consumer_info(INGEST.name, DURABLE)
        except NotFoundError:
            await js.add_consumer(
                INGEST.name,
                ConsumerConfig(durable_name=DURABLE, filter_subject=FILTER, ack_policy=AckPolicy.EXPLICIT,
                               ack_wait=60.0, max_deliver=-1, max_ack_pending=1024),
            )
        for i in range(self.workers):
            self._tasks.append(asyncio.create_task(self._run(), name=f"detection-{i}"))

    async def stop(self) -> None:
        self._stop.set()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        await self._save_state(force=True)

    async def _run(self) -> None:
        sub = None
        while not self._stop.is_set():
            try:
                if sub is None:
                    sub = await self.rt.js.pull_subscribe_bind(DURABLE, stream=INGEST.name)
                try:
                    msgs = await sub.fetch(self.batch, timeout=1.0)
                except asyncio.TimeoutError:
                    continue
                for msg in msgs:
                    await self._handle(msg)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("detection worker: unexpected error; retrying")
                sub = None
                await asyncio.sleep(0.5)

    async def _handle(self, msg) -> None:
        seq = msg.metadata.sequence.stream
        try:
            table = ipc_to_table(msg.data)
            await self.process(table, seed=f"ingest:{seq}")
        except Exception as exc:
            if msg.metadata.num_delivered >= 5:
                from otasuke.events.deadletter import dead_letter

                log.error("detection: giving up on INGEST seq %s: %s", seq, exc)
                await dead_letter(self.rt.js, msg, DURABLE, f"{type(exc).__name__}: {exc}")
                await msg.ack()
                return
            log.warning("detection: INGEST seq %s failed (delivery %s): %s", seq, msg.metadata.num_delivered, exc)
            await msg.nak(delay=1.0)
            return
        await msg.ack()

    # -- one batch ----------------------------------------------------------------
    async def process(self, table: pa.Table, *, seed: str) -> int:
        """Detect over one normalised batch; returns how many alert events were appended."""
        meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        tenant = Tenant(meta["partner_id"], meta["company_id"])
        device_id, kind = meta["device_id"], meta.get("kind", "edr")
        async with self._lock:
            matches = await asyncio.to_thread(self.engine.evaluate, table)
            fired = self.engine.correlate(matches, table, time_column=TS) if self.rules.correlations and matches else []
        self.batches += 1
        self.events += table.num_rows
        dev = await self._device(tenant, device_id)
        ts_col = table.column(TS).to_pylist() if TS in table.column_names else [datetime.now(UTC)] * table.num_rows
        learning_rows = [i for i, ts in enumerate(ts_col) if dev.learning(ts)]
        if learning_rows and kind == "edr":
            await self._learn(tenant, device_id, table, learning_rows, seed)
        if not matches and not fired:
            await self._save_state()
            return 0
        host_col = table.column(HOST).to_pylist() if HOST in table.column_names else [device_id] * table.num_rows
        entries = await self._allowlist(tenant.company_id)
        rows_cache: dict[int, dict[str, Any]] = {}

        def row(i: int) -> dict[str, Any]:
            if i not in rows_cache:
                rows_cache[i] = {k: v for k, v in table.slice(i, 1).to_pylist()[0].items() if v is not None}
            return rows_cache[i]

        groups: dict[tuple[str, str], _Group] = {}
        for m in matches:
            if entries and first_match(entries, row(m.row), m.rule_id, ts_col[m.row]):
                continue
            host = str(host_col[m.row] or device_id)
            g = groups.get((m.rule_id, host))
            if g is None:
                g = groups[(m.rule_id, host)] = _Group(m.rule, host)
            g.rows.append(m.row)
            ts = ts_col[m.row]
            g.first = ts if g.first is None or ts < g.first else g.first
            g.last = ts if g.last is None or ts > g.last else g.last
        for c in fired:
            host = str(c.group.get(HOST) or (host_col[c.rows[0]] if c.rows else device_id))
            groups[(c.rule_id, host)] = _Group(c.rule, host, list(c.rows), c.first_seen, c.last_seen)
            groups[(c.rule_id, host)].count = c.count  # type: ignore[attr-defined]
        appended = 0
        learning_only = len(learning_rows) == table.num_rows
        base = await self._baseline(device_id, dev) if kind == "edr" and not learning_only else None
        for (rule_id, host), g in groups.items():
            det = self._detection(tenant, device_id, kind, g, ts_col, row, dev, base)
            if await self._record(tenant, det, seed):
                appended += 1
        self.alert_events += appended
        await self._save_state()
        return appended

    def _detection(self, tenant, device_id, kind, g: _Group, ts_col, row, dev, base) -> alert_series.Detection:
        meta = g.rule
        first_row = row(g.rows[0]) if g.rows else {}
        cat_key = rule_pack.category_of(meta, self._compiled.get(meta.id), first_row.get(CATEGORY), kind)
        cat = category(cat_key)
        level = meta.level if meta.level in ("informational", "low", "medium", "high", "critical") else "medium"
        learning = dev.learning(g.first or datetime.now(UTC))
        verdict = None
        severity = level
        if base is not None and not learning:
            verdicts = {base.assess(row(i)) for i in g.rows[:50]}
            verdict = "rare" if "rare" in verdicts else ("known" if verdicts == {"known"} else None)
            severity = shift_severity(level, {"known": -1, "rare": 1}.get(verdict, 0))
        evidence = [_evidence(row(i)) for i in g.rows[:EVIDENCE_ROWS]]
        count = getattr(g, "count", None) or len(g.rows) or 1
        return alert_series.Detection(
            key=alert_series.group_key(tenant.company_id, meta.id, g.host), rule_id=meta.id, rule_title=meta.title,
            category=cat.key, severity=severity, device_id=device_id, host=g.host, kind=kind,
            first_seen=g.first or datetime.now(UTC), last_seen=g.last or datetime.now(UTC), count=count,
            evidence=evidence, title_ja=cat.title_ja, explanation_ja=cat.explanation_ja.format(host=g.host),
            action_ja=cat.action_ja, in_learning_period=learning, rule_severity=level, baseline=verdict,
        )

    async def _record(self, tenant: Tenant, det: alert_series.Detection, seed: str) -> bool:
        ref = AggregateRef("telemetry", tenant, alert_series.AGGREGATE_TYPE, det.key)
        event_id = derived_id(f"{seed}:{det.key}")
        cached = self._series.get(det.key)
        if cached is None:
            cached = await load(self.rt.store, alert_series.SERIES, ref)
        state, version = cached
        for _ in range(8):
            payloads = alert_series.record_detection(state, det, self.window, event_id)
            if not payloads:
                self._series[det.key] = (state, version)
                return False
            try:
                recs = await self.rt.store.append(ref, payloads, expected_seq=version,
                                                  meta=EventMeta(actor="detection"), event_ids=[event_id])
            except ConcurrencyConflict:
                async for rec in self.rt.store.read(TELEMETRY.name, ref.subject, start_seq=version + 1):
                    state = alert_series.SERIES.evolve(state, rec.envelope)
                    version = rec.seq
                continue
            for rec in recs:
                state = alert_series.SERIES.evolve(state, rec.envelope)
                version = max(version, rec.seq)
            self._series[det.key] = (state, version)
            return True
        raise ConcurrencyConflict(ref.subject, version, "too many concurrent writers")

    # -- learning --------------------------------------------------------------------
    async def _learn(self, tenant: Tenant, device_id: str, table: pa.Table, rows: list[int], seed: str) -> None:
        if "EventID" not in table.column_names:
            return
        wanted = [c for c in ("EventID", "Image", "ParentImage", "CommandLine", "NewProcessName", "ParentProcessName")
                  if c in table.column_names]
        sub = table.select(wanted).take(pa.array(rows))
        sub = sub.filter(pc.is_in(sub.column("EventID"), value_set=pa.array(sorted(baseline_domain.PROCESS_EVENT_IDS))))
        if sub.num_rows == 0:
            return
        pairs, shapes = baseline_domain.observe(sub.to_pylist())
        if not pairs:
            return
        ref = AggregateRef("telemetry", tenant, device_domain.AGGREGATE_TYPE, device_id)
        payload = BaselineLearned(device_id=device_id, process_pairs=dict(pairs), command_shapes=dict(shapes))
        env_ = make_envelope(ref, payload, EventMeta(actor="detection"), event_id=derived_id(f"{seed}:baseline"))
        await self.rt.store.publish(ref.subject, ref.stream.name, env_)

    async def _device(self, tenant: Tenant, device_id: str) -> device_domain.DeviceState:
        cached = self._devices.get(device_id)
        if cached and time.monotonic() - cached[1] < 300:
            return cached[0]
        ref = AggregateRef("telemetry", tenant, device_domain.AGGREGATE_TYPE, device_id)
        events, _ = await self.rt.store.load(ref)
        state = device_domain.DEVICE.fold([r.envelope for r in events if r.envelope.type == "telemetry.device_registered"])
        self._devices[device_id] = (state, time.monotonic())
        return state

    async def _baseline(self, device_id: str, dev: device_domain.DeviceState) -> baseline_domain.Baseline:
        cached = self._baselines.get(device_id)
        if cached and time.monotonic() - cached[1] < 30:
            return cached[0]
        rows = await self.rt.pool.fetch("SELECT item_type, item, count FROM baseline WHERE device_id=$1", device_id)
        base = baseline_domain.Baseline()
        base.add({r["item"]: r["count"] for r in rows if r["item_type"] == "pair"},
                 {r["item"]: r["count"] for r in rows if r["item_type"] == "shape"})
        if rows:  # an empty baseline may still be arriving in the read model: ask again next time
            self._baselines[device_id] = (base, time.monotonic())
        return base

    async def _allowlist(self, company_id: str) -> list[Entry]:
        rows = await self.rt.pool.fetch(
            "SELECT * FROM allowlist WHERE company_id=$1 AND removed_at IS NULL", company_id
        )
        from ..domain.allowlist import make_entry
        from otasuke.events.schemas.telemetry import AllowlistEntryAdded

        return [
            make_entry(AllowlistEntryAdded(entry_id=r["entry_id"], value=r["value"], rule_id=r["rule_id"],
                                           reason=r["reason"], by=r["added_by"], expires_at=r["expires_at"]))
            for r in rows
        ]

    async def _save_state(self, force: bool = False) -> None:
        if self.engine is None or not self.rules.correlations:
            return
        now = time.monotonic()
        if not force and now - self._state_saved < 1.0:
            return
        self._state_saved = now
        state = msgspec.json.encode(self.engine.correlation_state()).decode()
        await self.rt.pool.execute(
            """INSERT INTO detection_state (name, state) VALUES ($1, $2)
               ON CONFLICT (name) DO UPDATE SET state=$2, updated_at=now()""",
            DURABLE, state,
        )


def _evidence(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in row.items():
        if len(out) >= EVIDENCE_FIELDS:
            break
        if isinstance(v, datetime):
            v = v.isoformat()
        elif isinstance(v, str) and len(v) > 500:
            v = v[:500] + "…"
        out[k] = v
    return out

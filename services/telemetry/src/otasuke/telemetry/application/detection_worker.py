"""The detection worker: a durable pull consumer on INGEST that turns matches into alerts.

Several workers (tasks or processes) bind to the same durable consumer
``telemetry_detection`` and JetStream hands each batch to one of them. A
worker fetches up to ``OTASUKE_TELEMETRY_DETECTION_FETCH`` (64) batches at a
time while the previous lot is still being evaluated, concatenates them and
evaluates every rule over the one table (the engine's fixed cost is paid once
per fetch, not once per batch). The matches are then split back per batch:
drop what the company's allow-list excludes, group the rest by rule and host,
and append one ``AlertRaised`` or ``AlertGrouped`` per group to the alert
series of that rule and host — series of different groups concurrently. The
appended event ids are derived from each batch's own stream sequence, so a
redelivered batch changes nothing however the batches are fetched together.
While an endpoint learns, its process starts feed its baseline
(``BaselineLearned``) and its alerts are marked as not to be pushed.

All state lives in the streams and read models: alert series are reloaded
from TELEMETRY, baselines and allow-lists read from the read model, the Sigma
correlation windows (one set per company, so two companies' identical private
addresses never share a window) saved to PostgreSQL.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from bisect import bisect_left
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import NotFoundError

from otasuke.events import AggregateRef, ConcurrencyConflict, EventMeta, Tenant, derived_id, tracing
from otasuke.events.aggregate import load
from otasuke.events.projection import stop_pulling
from otasuke.events.schemas.telemetry import BaselineLearned
from otasuke.events.store import make_envelope
from otasuke.events.streams import INGEST, TELEMETRY
from otasuke.platform.settings import env

from ..adapters.arrow_batches import META_RECEIVED_AT, ipc_to_table
from ..adapters.jetstream_fetch import fetch_available
from ..detection import Engine, Match
from ..detection.correlation import Correlator
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
MAX_DELIVER = 5
STATE_PREFIX = "correlation:"  # one detection_state row per company: processes never overwrite each other's
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
    count: int | None = None


@dataclass
class _Batch:
    """One INGEST message: a normalised Arrow table of one device's batch."""

    msg: Any
    seq: int
    table: pa.Table
    tenant: Tenant
    device_id: str
    kind: str
    batch_id: str
    received_at: float | None

    @property
    def seed(self) -> str:
        return f"ingest:{self.seq}"


class DetectionWorker:
    def __init__(self, rt, *, workers: int | None = None, fetch: int | None = None):
        self.rt = rt
        self.workers = int(env("TELEMETRY_DETECTION_WORKERS", "1")) if workers is None else workers
        self.fetch = fetch or int(env("TELEMETRY_DETECTION_FETCH", "64"))
        self.window = grouping_window()
        self.rules = rule_pack.load_rules()
        self._compiled = {r.meta.id: r for r in self.rules.rules}
        self._correlated = {rid for c in self.rules.correlations for rid in c.rule_ids}
        self.engine: Engine | None = None
        self._correlators: dict[str, Correlator] = {}
        self._saved_windows: dict[str, Any] = {}
        self._dirty: set[str] = set()
        self._series: dict[str, tuple[Any, int]] = {}
        self._devices: dict[str, tuple[device_domain.DeviceState, float]] = {}
        self._baselines: dict[str, tuple[baseline_domain.Baseline, float]] = {}
        self._tasks: list[asyncio.Task] = []
        self._subs: list[Any] = []
        self._stop = asyncio.Event()
        self._state_saved = 0.0
        self._lock = asyncio.Lock()  # evaluation and correlation windows are shared by the tasks
        self.lots = 0
        self.batches = 0
        self.events = 0
        self.alert_events = 0
        # Seconds from a batch's acceptance at ingest to each alert event it caused (for benchmarks).
        self.latencies: deque[float] = deque(maxlen=100_000)

    # -- lifecycle -------------------------------------------------------------
    async def start(self) -> None:
        async with self.rt.pool.acquire() as conn:
            await conn.execute(STATE_DDL)
            rows = await conn.fetch("SELECT name, state FROM detection_state WHERE name LIKE $1", STATE_PREFIX + "%")
        self.engine = Engine(self.rules)
        for r in rows:
            self._saved_windows[r["name"][len(STATE_PREFIX):]] = msgspec.json.decode(r["state"])
        if self.workers <= 0:
            return  # an ingest-only process: detection runs elsewhere
        js = self.rt.js
        try:
            await js.consumer_info(INGEST.name, DURABLE)
        except NotFoundError:
            await js.add_consumer(
                INGEST.name,
                ConsumerConfig(durable_name=DURABLE, filter_subject=FILTER, ack_policy=AckPolicy.EXPLICIT,
                               ack_wait=60.0, max_deliver=-1, max_ack_pending=4096),
            )
        for i in range(self.workers):
            self._tasks.append(asyncio.create_task(self._run(), name=f"detection-{i}"))

    async def stop(self) -> None:
        self._stop.set()
        await stop_pulling(self._tasks, self._subs)
        self._tasks.clear()
        self._subs.clear()
        try:
            await self._save_state(force=True)
        except Exception:
            log.exception("could not save the correlation windows on shutdown")

    @contextlib.asynccontextmanager
    async def paused(self):
        """Hold evaluation (lots already fetched wait; the rest stays on the stream) until the block ends."""
        async with self._lock:
            yield

    async def _run(self) -> None:
        """Fetch the next lot while the current one is evaluated (a queue of one lot ahead)."""
        lots: asyncio.Queue = asyncio.Queue(maxsize=1)
        fetcher = asyncio.create_task(self._fetch_into(lots))
        try:
            while not self._stop.is_set():
                msgs = await lots.get()
                try:
                    # One trace per lot, recorded at OTASUKE_TRACE_SAMPLE_RATIO: the alert events it appends
                    # are its children instead of a recorded trace each.
                    with tracing.span("detect lot", kind="consumer", hot_path=True, messages=len(msgs)):
                        await self._handle_lot(msgs)
                except asyncio.CancelledError:
                    raise
                except Exception:  # never let one lot stop the worker; its messages are redelivered
                    log.exception("detection worker: unexpected error")
        finally:
            fetcher.cancel()
            try:
                await fetcher
            except (asyncio.CancelledError, Exception):
                pass

    async def _fetch_into(self, lots: asyncio.Queue) -> None:
        sub = None
        while not self._stop.is_set():
            try:
                if sub is None:
                    sub = await self.rt.js.pull_subscribe_bind(DURABLE, stream=INGEST.name)
                    self._subs.append(sub)
                try:
                    msgs = await fetch_available(sub, self.fetch)
                except asyncio.TimeoutError:
                    continue
                if msgs:
                    await lots.put(msgs)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("detection worker: fetch failed; retrying")
                sub = None
                await asyncio.sleep(0.5)

    async def _handle_lot(self, msgs: list) -> None:
        batches: list[_Batch] = []
        for msg in msgs:
            try:
                batches.append(_decode(msg))
            except Exception as exc:
                await self._failed(msg, exc)
        if not batches:
            return
        self.lots += 1
        async with self._lock:
            try:
                per_batch = await asyncio.to_thread(self._evaluate, [b.table for b in batches])
            except Exception as exc:
                if len(batches) == 1:
                    await self._failed(batches[0].msg, exc)
                    return
                # Find the batch the engine chokes on: evaluate each alone.
                per_batch = []
                for b in batches:
                    try:
                        per_batch.append(await asyncio.to_thread(self._evaluate, [b.table]))
                    except Exception as exc:
                        await self._failed(b.msg, exc)
                        per_batch.append(None)
                per_batch = [p[0] if p is not None else None for p in per_batch]
            fired_per_batch = []
            for b, matches in zip(batches, per_batch):
                fired_per_batch.append(self._correlate(b, matches) if matches is not None else [])
        # Per batch: allow-list, grouping, learning → detections; then record them.
        prepared: list[tuple[_Batch, list[alert_series.Detection]]] = []
        allowlists: dict[str, list[Entry]] = {}
        for b, matches, fired in zip(batches, per_batch, fired_per_batch):
            if matches is None:
                continue
            try:
                dets = await self._prepare(b, matches, fired, allowlists)
            except Exception as exc:
                await self._failed(b.msg, exc)
                continue
            prepared.append((b, dets))
            self.batches += 1
            self.events += b.table.num_rows
        failed = await self._record_all(prepared)
        for b, _ in prepared:
            if b.seq in failed:
                await self._failed(b.msg, failed[b.seq])
            else:
                await b.msg.ack()
        await self._save_state()

    async def _failed(self, msg, exc: BaseException) -> None:
        seq = msg.metadata.sequence.stream
        if msg.metadata.num_delivered >= MAX_DELIVER:
            from otasuke.events.deadletter import dead_letter

            log.error("detection: giving up on INGEST seq %s: %s", seq, exc)
            await dead_letter(self.rt.js, msg, DURABLE, f"{type(exc).__name__}: {exc}")
            await msg.ack()
            return
        log.warning("detection: INGEST seq %s failed (delivery %s): %s", seq, msg.metadata.num_delivered, exc)
        await msg.nak(delay=1.0)

    # -- evaluation (in a thread) -----------------------------------------------------
    def _evaluate(self, tables: list[pa.Table]) -> list[list[Match]]:
        """One engine call over the concatenated tables; matches split back per table (rows local)."""
        if len(tables) == 1:
            return [self.engine.evaluate(tables[0])]
        big = pa.concat_tables([t.replace_schema_metadata(None) for t in tables], promote_options="default")
        matches = self.engine.evaluate(big)
        offsets = np.cumsum([0] + [t.num_rows for t in tables]).tolist()
        rows = [m.row for m in matches]  # ordered by row
        out = []
        for i in range(len(tables)):
            lo, hi = bisect_left(rows, offsets[i]), bisect_left(rows, offsets[i + 1])
            base = offsets[i]
            out.append([Match(m.rule_id, m.row - base, m.rule) for m in matches[lo:hi]])
        return out

    def _correlate(self, b: _Batch, matches: list[Match]) -> list:
        """Feed the correlation windows of the batch's company with only the rows that matter."""
        relevant = [m for m in matches if m.rule_id in self._correlated]
        if not relevant:
            return []
        key = f"{b.tenant.partner_id}/{b.tenant.company_id}"
        corr = self._correlators.get(key)
        if corr is None:
            try:
                corr = Correlator(self.rules.correlations, self._saved_windows.pop(key, None))
            except Exception:  # an incompatible saved state must not stop detection
                log.exception("correlation state of %s unreadable; starting with empty windows", key)
                corr = Correlator(self.rules.correlations)
            self._correlators[key] = corr
        rows = sorted({m.row for m in relevant})
        local = {r: i for i, r in enumerate(rows)}
        sub = b.table.take(pa.array(rows, pa.int64()))
        fired = corr.feed([Match(m.rule_id, local[m.row], m.rule) for m in relevant], sub, TS)
        self._dirty.add(key)
        return [replace(c, rows=tuple(rows[i] for i in c.rows)) for c in fired]

    # -- one batch ----------------------------------------------------------------
    async def _prepare(self, b: _Batch, matches: list[Match], fired: list,
                       allowlists: dict[str, list[Entry]]) -> list[alert_series.Detection]:
        table, tenant, device_id, kind = b.table, b.tenant, b.device_id, b.kind
        dev = await self._device(tenant, device_id)
        learning = _learning_mask(dev, table)
        learning_rows = np.flatnonzero(learning)
        if len(learning_rows) and kind == "edr":
            await self._learn(tenant, device_id, table, learning_rows, b.seed)
        if not matches and not fired:
            return []
        # Only the rows that matched are ever turned into Python values.
        wanted = sorted({m.row for m in matches} | {r for c in fired for r in c.rows})
        idx = pa.array(wanted, pa.int64())
        ts_vals = (table.column(TS).take(idx).to_pylist() if TS in table.column_names
                   else [datetime.now(UTC)] * len(wanted))
        host_vals = table.column(HOST).take(idx).to_pylist() if HOST in table.column_names else [None] * len(wanted)
        ts_of = dict(zip(wanted, ts_vals))
        host_of = {r: str(h or device_id) for r, h in zip(wanted, host_vals)}
        if tenant.company_id not in allowlists:
            allowlists[tenant.company_id] = await self._allowlist(tenant.company_id)
        entries = allowlists[tenant.company_id]
        rows_cache: dict[int, dict[str, Any]] = {}

        def fetch_rows(rows) -> None:
            """Turn the rows not yet seen into dicts with one Arrow call (per-row slicing is slow)."""
            todo = sorted({i for i in rows if i not in rows_cache})
            if todo:
                for i, values in zip(todo, table.take(pa.array(todo, pa.int64())).to_pylist()):
                    rows_cache[i] = {k: v for k, v in values.items() if v is not None}

        def row(i: int) -> dict[str, Any]:
            if i not in rows_cache:
                fetch_rows((i,))
            return rows_cache[i]

        if entries:
            fetch_rows(m.row for m in matches)

        groups: dict[tuple[str, str], _Group] = {}
        for m in matches:
            if entries and first_match(entries, row(m.row), m.rule_id, ts_of[m.row]):
                continue
            host = host_of[m.row]
            g = groups.get((m.rule_id, host))
            if g is None:
                g = groups[(m.rule_id, host)] = _Group(m.rule, host)
            g.rows.append(m.row)
            ts = ts_of[m.row]
            g.first = ts if g.first is None or ts < g.first else g.first
            g.last = ts if g.last is None or ts > g.last else g.last
        for c in fired:
            host = str(c.group.get(HOST) or (host_of[c.rows[0]] if c.rows else device_id))
            groups[(c.rule_id, host)] = _Group(c.rule, host, list(c.rows), c.first_seen, c.last_seen, c.count)
        learning_only = len(learning_rows) == table.num_rows
        base = await self._baseline(device_id, dev) if kind == "edr" and not learning_only else None
        fetch_rows(i for g in groups.values() for i in g.rows[:50 if base is not None else EVIDENCE_ROWS])
        return [self._detection(tenant, device_id, kind, g, row, dev, base) for g in groups.values()]

    async def _record_all(self, prepared: list[tuple[_Batch, list[alert_series.Detection]]]) -> dict[int, BaseException]:
        """Append every detection; series of different groups concurrently, each series in batch order.

        Returns the batches (by sequence) whose detections could not all be recorded.
        """
        by_key: dict[str, list[tuple[_Batch, alert_series.Detection]]] = {}
        for b, dets in prepared:
            for det in dets:
                by_key.setdefault(det.key, []).append((b, det))
        failed: dict[int, BaseException] = {}

        async def series(items: list[tuple[_Batch, alert_series.Detection]]) -> None:
            for b, det in items:
                if b.seq in failed:
                    continue
                try:
                    if await self._record(b.tenant, det, b.seed, b.batch_id):
                        self.alert_events += 1
                        if b.received_at is not None:
                            self.latencies.append(time.time() - b.received_at)
                except Exception as exc:
                    failed[b.seq] = exc

        await asyncio.gather(*(series(items) for items in by_key.values()))
        return failed

    def _detection(self, tenant, device_id, kind, g: _Group, row, dev, base) -> alert_series.Detection:
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
        count = g.count or len(g.rows) or 1
        return alert_series.Detection(
            key=alert_series.group_key(tenant.company_id, meta.id, g.host), rule_id=meta.id, rule_title=meta.title,
            category=cat.key, severity=severity, device_id=device_id, host=g.host, kind=kind,
            first_seen=g.first or datetime.now(UTC), last_seen=g.last or datetime.now(UTC), count=count,
            evidence=evidence, title_ja=cat.title_ja, explanation_ja=cat.explanation_ja.format(host=g.host),
            action_ja=cat.action_ja, in_learning_period=learning, rule_severity=level, baseline=verdict,
        )

    async def _record(self, tenant: Tenant, det: alert_series.Detection, seed: str, batch_id: str | None) -> bool:
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
                                                  meta=EventMeta(actor="detection", correlation_id=batch_id, causation_id=seed),
                                                  event_ids=[event_id])
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
    async def _learn(self, tenant: Tenant, device_id: str, table: pa.Table, rows: np.ndarray, seed: str) -> None:
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
        """Save the windows of the companies fed since the last save (at most once a second)."""
        if not self._dirty:
            return
        now = time.monotonic()
        if not force and now - self._state_saved < 1.0:
            return
        self._state_saved = now
        dirty, self._dirty = self._dirty, set()
        rows = [(STATE_PREFIX + k, msgspec.json.encode(self._correlators[k].export()).decode()) for k in sorted(dirty)]
        try:
            await self.rt.pool.executemany(
                """INSERT INTO detection_state (name, state) VALUES ($1, $2)
                   ON CONFLICT (name) DO UPDATE SET state=$2, updated_at=now()""",
                rows,
            )
        except Exception:
            self._dirty |= dirty  # try again with the next lot
            raise


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


def _decode(msg) -> _Batch:
    return _batch_of(msg, msg.metadata.sequence.stream, ipc_to_table(msg.data))


def _batch_of(msg, seq: int, table: pa.Table) -> _Batch:
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    received = meta.get(META_RECEIVED_AT)
    return _Batch(
        msg=msg, seq=seq, table=table, tenant=Tenant(meta["partner_id"], meta["company_id"]),
        device_id=meta["device_id"], kind=meta.get("kind", "edr"), batch_id=meta.get("batch_id") or f"seq-{seq}",
        received_at=float(received) if received else None,
    )


def _learning_mask(dev: device_domain.DeviceState, table: pa.Table) -> np.ndarray:
    """Rows whose event time falls in the device's learning period (``DeviceState.learning``, vectorised)."""
    n = table.num_rows
    lu = dev.learning_until
    if lu is None or (dev.registered_at is not None and lu <= dev.registered_at):
        return np.zeros(n, dtype=bool)
    if TS not in table.column_names:
        return np.full(n, dev.learning(datetime.now(UTC)), dtype=bool)
    ts = table.column(TS)
    below = pc.less(ts, pa.scalar(lu, ts.type))
    return np.asarray(pc.fill_null(below, False).to_numpy(zero_copy_only=False), dtype=bool)

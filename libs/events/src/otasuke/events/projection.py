"""Projections and reactors: durable pull consumers that keep going.

A :class:`Projection` turns events into PostgreSQL read-model rows. Its runner
applies each event and stores the stream sequence as its checkpoint **in the
same transaction**, so a redelivered or replayed event is skipped instead of
counted twice, and a crash between commit and ack loses nothing.

A :class:`Reactor` reacts to events by running commands elsewhere (issue a
policy when a service is activated, push an alert to chat). It has no
checkpoint of its own: it must be idempotent, typically by deriving the ids of
the events it appends from the id of the event it handles.

Both kinds:
* process messages in stream order, one at a time;
* retry a failing message with back-off and, after ``max_deliveries``, move it
  to the dead-letter stream with the reason and go on;
* run as one active instance per name across replicas (a PostgreSQL advisory
  lock held by a :class:`SessionLock` for projections; JetStream's single
  durable for reactors).
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ClassVar

import asyncpg
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from . import registry, tracing
from .deadletter import dead_letter
from .envelope import Recorded
from .registry import MalformedEvent, UnknownEventType
from .store import H_TYPE

log = logging.getLogger(__name__)

CHECKPOINT_DDL = """
CREATE TABLE IF NOT EXISTS otasuke_checkpoints (
    projection text PRIMARY KEY,
    stream text NOT NULL,
    last_seq bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
)
"""


Connect = Callable[[], Awaitable[asyncpg.Connection]]
"""Opens a database session of its own, outside any pool (``Runtime.connect``)."""


async def stop_pulling(tasks: Iterable[asyncio.Task | None], subs: Iterable[Any]) -> None:
    """Stop tasks that fetch from pull subscriptions, then unsubscribe those subscriptions.

    Every pull loop (projections, reactors, the NATS ingest door, detection
    workers) stops this way: a pull subscription left with fetched-but-unread
    messages makes ``nc.drain()`` wait its full timeout at shutdown.
    """
    tasks = [t for t in tasks if t is not None]
    for task in tasks:
        task.cancel()
    for task in tasks:
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass
    for sub in subs:
        await unsubscribe_quietly(sub)


async def unsubscribe_quietly(sub) -> None:
    """Unsubscribe, ignoring a subscription or connection that is already gone."""
    if sub is None:
        return
    try:
        await sub.unsubscribe()
    except Exception:
        pass


class SessionLock:
    """A PostgreSQL advisory lock, held by one database session for as long as its holder runs.

    PostgreSQL frees the lock when that session ends, so the session is kept
    apart: opened with ``connect`` (outside the pool, so it takes no pool slot
    and survives ``pool.close()`` ordering), or, without ``connect``, taken
    from ``pool`` and kept until :meth:`release` (asyncpg resets a released
    connection with ``pg_advisory_unlock_all()``). If the session dies (a
    database restart, a dropped connection), the lock went with it:
    :attr:`held` turns false and the holder must stop leading and
    :meth:`acquire` again.
    """

    def __init__(self, name: str, *, pool: asyncpg.Pool | None = None, connect: Connect | None = None,
                 poll: float = 2.0):
        if pool is None and connect is None:
            raise ValueError("a SessionLock needs a pool or a connect function")
        self.name = name
        self.key = int.from_bytes(hashlib.sha1(name.encode()).digest()[:8], "big", signed=True)
        self.pool = pool
        self.connect = connect
        self.poll = poll
        self._conn: asyncpg.Connection | None = None
        self._held = False

    @property
    def held(self) -> bool:
        return self._held and self._conn is not None and not self._conn.is_closed()

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Wait until this session holds the lock (True) or ``stop`` is set (False)."""
        while not stop.is_set():
            try:
                if self._conn is None or self._conn.is_closed():
                    await self._close()
                    self._conn = await self.connect() if self.connect else await self.pool.acquire()
                if await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", self.key):
                    self._held = True
                    return True
            except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("lock %s: database session unavailable (%s); retrying", self.name, exc)
                await self._close()
            try:
                await asyncio.wait_for(stop.wait(), self.poll)
            except asyncio.TimeoutError:
                pass
        return False

    async def release(self) -> None:
        """Give the lock up by ending (or returning) its session."""
        self._held = False
        await self._close()

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if self.connect is not None:
                await conn.close()
            else:
                await self.pool.release(conn)
        except Exception:  # an already-broken session: nothing left to free
            conn.terminate()


class Handler:
    """What the runner needs to know about any consumer."""

    name: ClassVar[str]
    stream: ClassVar[str]
    filter_subjects: ClassVar[tuple[str, ...]] = ()
    event_types: ClassVar[frozenset[str] | None] = None
    """Only these types are handled; None means every type in the filter."""

    def wants(self, event_type: str | None) -> bool:
        return self.event_types is None or event_type in self.event_types

    @property
    def durable(self) -> str:
        return self.name.replace(".", "_")


class Projection(Handler):
    """A read model in PostgreSQL; subclass and implement :meth:`apply`."""

    schema: ClassVar[str] = ""
    """Idempotent DDL (CREATE TABLE IF NOT EXISTS …) for the read model."""
    tables: ClassVar[tuple[str, ...]] = ()
    """Tables dropped on rebuild."""

    async def apply(self, conn: asyncpg.Connection, event: Recorded) -> None:
        raise NotImplementedError


class Reactor(Handler):
    """A process manager or notifier; subclass and implement :meth:`handle`."""

    async def handle(self, event: Recorded) -> None:
        raise NotImplementedError


class ConsumerRunner:
    def __init__(
        self,
        nc: NATS,
        handler: Handler,
        pool: asyncpg.Pool | None = None,
        *,
        max_deliveries: int = 5,
        batch: int = 64,
        retry_delay: float = 0.5,
        connect: Connect | None = None,
    ):
        if isinstance(handler, Projection) and pool is None:
            raise ValueError(f"projection {handler.name} needs a PostgreSQL pool")
        self.nc = nc
        self.js = nc.jetstream()
        self.handler = handler
        self.pool = pool
        self.max_deliveries = max_deliveries
        self.batch = batch
        self.retry_delay = retry_delay
        self.position = 0
        self.handled = 0
        self.dead_lettered = 0
        self._task: asyncio.Task | None = None
        self._stop = asyncio.Event()
        self._resume = asyncio.Event()
        self._resume.set()
        self._idle = asyncio.Event()
        self._moved = asyncio.Condition()
        # Projections lead through a session of their own (``connect``), else a pooled connection kept while running.
        self._lock = SessionLock(handler.name, pool=pool, connect=connect) if isinstance(handler, Projection) else None
        self._sub = None
        self._consumer_seq: int | None = None
        self.active = False

    # -- lifecycle -------------------------------------------------------
    async def start(self) -> None:
        if isinstance(self.handler, Projection):
            async with self.pool.acquire() as conn:
                await conn.execute(CHECKPOINT_DDL)
                if self.handler.schema:
                    await conn.execute(self.handler.schema)
        self._task = asyncio.create_task(self._run(), name=f"consumer:{self.handler.name}")

    async def stop(self) -> None:
        self._stop.set()
        self._resume.set()
        await stop_pulling([self._task], [self._sub])
        self._sub = None
        self.active = False
        if self._lock is not None:
            await self._lock.release()

    async def lag(self) -> int:
        """Messages not yet handled (pending + unacknowledged)."""
        try:
            info = await self.js.consumer_info(self.handler.stream, self.handler.durable)
        except NotFoundError:
            return -1
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)

    async def caught_up(self) -> bool:
        return self.active and await self.lag() == 0

    async def wait_for(self, seq: int, timeout: float = 10.0) -> None:
        """Read-your-writes: wait until the event at stream ``seq`` has been handled."""
        async def reached():
            async with self._moved:
                await self._moved.wait_for(lambda: self.position >= seq)

        await asyncio.wait_for(reached(), timeout)

    async def rebuild(self) -> None:
        """Drop the read model and replay the stream from the start, while running."""
        if not isinstance(self.handler, Projection):
            raise TypeError(f"{self.handler.name} is not a projection")
        self._resume.clear()
        self._idle.clear()
        if self.active and self._task and not self._task.done():
            await self._idle.wait()
        try:
            await reset_projection(self.pool, self.handler)
            await self._delete_consumer()
            self.position = 0
        finally:
            self._resume.set()

    # -- internals ---------------------------------------------------------
    async def _checkpoint(self) -> int:
        if not isinstance(self.handler, Projection):
            return 0
        async with self.pool.acquire() as conn:
            row = await conn.fetchval(
                "SELECT last_seq FROM otasuke_checkpoints WHERE projection=$1", self.handler.name
            )
        return int(row or 0)

    async def _acquire_leadership(self) -> None:
        """One active projection instance per name, across replicas."""
        if self._lock is None or await self._lock.acquire(self._stop):
            self.active = True

    async def _lead_or_wait(self) -> None:
        """Stop consuming if the lock's session died (another replica may lead now), then compete again."""
        if self._lock is None or self._lock.held:
            return
        log.warning("consumer %s: lost the leadership session; waiting to lead again", self.handler.name)
        self.active = False
        await unsubscribe_quietly(self._sub)
        self._sub = None  # a new leader resumes from the checkpoint
        await self._acquire_leadership()

    async def _delete_consumer(self) -> None:
        await unsubscribe_quietly(self._sub)
        self._sub = None
        try:
            await self.js.delete_consumer(self.handler.stream, self.handler.durable)
        except NotFoundError:
            pass

    async def _subscribe(self):
        """Bind to the durable consumer, (re)creating it at the checkpoint if needed."""
        h = self.handler
        checkpoint = await self._checkpoint()
        self.position = max(self.position, checkpoint)
        try:
            info = await self.js.consumer_info(h.stream, h.durable)
            acked = info.ack_floor.stream_seq if info.ack_floor else 0
            delivered = info.delivered.stream_seq if info.delivered else 0
            if isinstance(h, Projection) and max(acked, delivered) > checkpoint:
                # The read model is behind what the consumer acknowledged (a
                # restored or recreated database), or messages were delivered
                # to a predecessor that died before committing them. JetStream
                # would redeliver those only after ack_wait, *after* newer
                # ones, and the checkpoint would then skip them as already
                # done: start again at the checkpoint instead.
                await self.js.delete_consumer(h.stream, h.durable)
                raise NotFoundError
        except NotFoundError:
            subjects = list(h.filter_subjects)
            config = ConsumerConfig(
                durable_name=h.durable,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=30.0,
                max_deliver=-1,
                max_ack_pending=max(self.batch * 4, 256),
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE if checkpoint else DeliverPolicy.ALL,
                opt_start_seq=checkpoint + 1 if checkpoint else None,
                filter_subjects=subjects if len(subjects) > 1 else None,
                filter_subject=subjects[0] if len(subjects) == 1 else None,
            )
            await self.js.add_consumer(h.stream, config)
        self._consumer_seq = None
        return await self.js.pull_subscribe_bind(h.durable, stream=h.stream)

    async def _run(self) -> None:
        await self._acquire_leadership()
        while not self._stop.is_set():
            try:
                await self._resume.wait()
                await self._lead_or_wait()
                if self._stop.is_set():
                    break
                if self._sub is None:
                    self._sub = await self._subscribe()
                try:
                    msgs = await self._sub.fetch(self.batch, timeout=1.0)
                except asyncio.TimeoutError:
                    self._idle.set()
                    continue
                except Exception:
                    # Consumer deleted under us (rebuild from another process).
                    self._sub = None
                    await asyncio.sleep(0.2)
                    continue
                self._idle.clear()
                await self._handle_batch(msgs)
                if not self._resume.is_set():
                    self._idle.set()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("consumer %s: unexpected error; retrying", self.handler.name)
                self._sub = None
                await asyncio.sleep(1.0)

    async def _handle_batch(self, msgs: list) -> None:
        skipped_to = 0
        for msg in msgs:
            seq = msg.metadata.sequence.stream
            if self._lost_delivery(msg):
                # A delivery never reached us (its server died mid-flight, e.g.
                # in a cluster failover). Re-subscribing restarts at the
                # checkpoint, so the lost message is applied in order, not
                # skipped later as "older than the checkpoint".
                log.warning("consumer %s: delivery gap before %s seq %s; resuming from the checkpoint",
                            self.handler.name, msg.metadata.stream, seq)
                await self._delete_consumer()
                break
            etype = (msg.headers or {}).get(H_TYPE)
            if etype is not None and not self.handler.wants(etype):
                await msg.ack()
                skipped_to = seq
                await self._advance(seq)
                continue
            await self._handle_one(msg)
        if skipped_to and isinstance(self.handler, Projection):
            async with self.pool.acquire() as conn:
                await conn.execute(
                    """INSERT INTO otasuke_checkpoints (projection, stream, last_seq) VALUES ($1, $2, $3)
                       ON CONFLICT (projection) DO UPDATE SET last_seq = GREATEST(otasuke_checkpoints.last_seq, $3),
                       updated_at = now()""",
                    self.handler.name, self.handler.stream, skipped_to,
                )

    def _lost_delivery(self, msg) -> bool:
        """True if the consumer delivered something between the last message and this one.

        Consumer sequences count deliveries to this (single active) projection
        consumer without gaps, so a jump means a message was lost in transit.
        Reactors share their consumer across replicas, where gaps are normal.
        """
        if not isinstance(self.handler, Projection):
            return False
        consumer_seq = msg.metadata.sequence.consumer
        last, self._consumer_seq = self._consumer_seq, consumer_seq
        return last is not None and consumer_seq > last + 1

    async def _handle_one(self, msg) -> None:
        """Handle one message, retrying it in place so stream order is kept.

        Deliveries are counted across restarts (JetStream's ``num_delivered``)
        plus the retries made here; after ``max_deliveries`` the message is
        dead-lettered and the consumer moves on.
        """
        h = self.handler
        md = msg.metadata
        seq = md.sequence.stream
        try:
            env = registry.decode(msg.data)
        except (MalformedEvent, UnknownEventType) as exc:
            # Deterministic failure: retrying cannot help.
            await self._give_up(msg, f"undecodable: {exc}")
            return
        rec = Recorded(env, md.stream, seq, msg.subject)
        attempt = 0
        while True:
            try:
                await self._apply(h, msg, rec)
                break
            except Exception as exc:  # noqa: BLE001 - any failure is retried, then dead-lettered
                deliveries = md.num_delivered + attempt
                if deliveries >= self.max_deliveries:
                    log.error("consumer %s: giving up on %s seq %s after %s deliveries: %s",
                              h.name, md.stream, seq, deliveries, exc)
                    await self._give_up(msg, f"{type(exc).__name__}: {exc}")
                    return
                log.warning("consumer %s: %s seq %s failed (delivery %s): %s", h.name, md.stream, seq, deliveries, exc)
                attempt += 1
                await msg.in_progress()  # keep the message ours while we back off
                await asyncio.sleep(self.retry_delay * deliveries)
        await msg.ack()
        self.handled += 1
        await self._advance(seq)

    async def _apply(self, h: Handler, msg, rec: Recorded) -> None:
        seq = rec.seq
        with tracing.span(f"handle {rec.envelope.type}", kind="consumer", parent_headers=msg.headers, consumer=h.name, seq=seq):
            if isinstance(h, Projection):
                async with self.pool.acquire() as conn, conn.transaction():
                    done = await conn.fetchval(
                        "SELECT last_seq FROM otasuke_checkpoints WHERE projection=$1 FOR UPDATE", h.name
                    )
                    if done is not None and seq <= done:
                        return  # redelivered or replayed: already counted
                    if h.wants(rec.envelope.type):
                        await h.apply(conn, rec)
                    await _store_checkpoint(conn, h, seq)
            elif h.wants(rec.envelope.type):
                await h.handle(rec)

    async def _give_up(self, msg, reason: str) -> None:
        await dead_letter(self.js, msg, self.handler.name, reason)
        seq = msg.metadata.sequence.stream
        if isinstance(self.handler, Projection):
            async with self.pool.acquire() as conn:
                await _store_checkpoint(conn, self.handler, seq)
        await msg.ack()
        self.dead_lettered += 1
        await self._advance(seq)

    async def _advance(self, seq: int) -> None:
        async with self._moved:
            self.position = max(self.position, seq)
            self._moved.notify_all()


async def _store_checkpoint(conn: asyncpg.Connection, h: Handler, seq: int) -> None:
    await conn.execute(
        """INSERT INTO otasuke_checkpoints (projection, stream, last_seq) VALUES ($1, $2, $3)
           ON CONFLICT (projection) DO UPDATE SET last_seq = $3, updated_at = now()""",
        h.name, h.stream, seq,
    )


async def reset_projection(pool: asyncpg.Pool, projection: Projection) -> None:
    """Drop a projection's tables and checkpoint and recreate its empty schema."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(CHECKPOINT_DDL)
        for table in projection.tables:
            await conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
        await conn.execute("DELETE FROM otasuke_checkpoints WHERE projection=$1", projection.name)
        if projection.schema:
            await conn.execute(projection.schema)


def runners(nc: NATS, pool: asyncpg.Pool | None, handlers: Iterable[Handler], **kwargs) -> list[ConsumerRunner]:
    return [ConsumerRunner(nc, h, pool, **kwargs) for h in handlers]

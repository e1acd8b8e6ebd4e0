"""One active instance per projection: the advisory-lock session, its loss and hand-over."""
import asyncio

import asyncpg

from otasuke.events import ConsumerRunner, EventStore

from .conftest import AppliedCounter
from .test_projection import counts, publish_applications, until

LOCK_HOLDERS = "SELECT pid FROM pg_locks WHERE locktype='advisory' AND granted ORDER BY pid"


async def test_a_waiting_replica_takes_over_when_the_leader_stops(nc, pg_pool, app_ref):
    store = EventStore(nc)
    first = ConsumerRunner(nc, AppliedCounter(), pg_pool)  # no connect: the lock session comes from the pool
    await first.start()
    await until(lambda: _true(first.active))
    second = ConsumerRunner(nc, AppliedCounter(), pg_pool)
    await second.start()
    last = await publish_applications(store, app_ref, 3)
    await first.wait_for(last.seq)
    assert not second.active  # only the leader applies: nothing is counted twice
    assert await counts(pg_pool) == {"c1": 3}

    await first.stop()  # its pooled session goes back to the pool, which releases the lock
    await until(lambda: _true(second.active))
    last = await publish_applications(store, app_ref, 2, prefix="b")
    await second.wait_for(last.seq)
    assert await counts(pg_pool) == {"c1": 5}
    await second.stop()


async def test_projection_leads_again_after_its_lock_session_dies(nc, pg_pool, app_ref, database_url):
    store = EventStore(nc)
    runner = ConsumerRunner(nc, AppliedCounter(), pg_pool, connect=lambda: asyncpg.connect(database_url))
    await runner.start()
    last = await publish_applications(store, app_ref, 2)
    await runner.wait_for(last.seq)
    [before] = [r["pid"] for r in await pg_pool.fetch(LOCK_HOLDERS)]

    # The database ends the session that holds the lock (a restart, a dropped connection).
    await pg_pool.execute("SELECT pg_terminate_backend($1)", before)

    async def new_session_leads() -> bool:
        holders = [r["pid"] for r in await pg_pool.fetch(LOCK_HOLDERS)]
        return len(holders) == 1 and holders != [before]

    await until(new_session_leads)
    last = await publish_applications(store, app_ref, 2, prefix="b")
    await runner.wait_for(last.seq)
    assert runner.active
    assert await counts(pg_pool) == {"c1": 4}  # the events after the loss are applied, none twice
    await runner.stop()
    assert await pg_pool.fetch(LOCK_HOLDERS) == []  # stopping gives the lock up


async def _true(value: bool) -> bool:
    return value

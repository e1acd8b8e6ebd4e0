"""Fixtures for the cluster tests: a fresh three-node JetStream cluster per test."""
import sys
from pathlib import Path

import asyncpg
import pytest

# The workload module is also run as a script by the restart test, so it is a
# plain module next to the tests rather than a package.
sys.path.insert(0, str(Path(__file__).parent))

from cluster_workload import LoopbackCluster  # noqa: E402


@pytest.fixture
async def cluster(tmp_path):
    c = LoopbackCluster(tmp_path / "nats")
    c.start()
    try:
        await c.wait_ready()
        yield c
    finally:
        c.stop()


@pytest.fixture
async def cluster_nc(cluster):
    nc = await cluster.connect()
    yield nc
    await nc.close()


@pytest.fixture
async def pool(database_url):
    p = await asyncpg.create_pool(database_url, min_size=1, max_size=5)
    yield p
    await p.close()

"""Backpressure for HTTP ingest: refuse new batches while detection is far behind.

What a device was told was accepted (202) is on the INGEST stream and will be
detected whatever happens. When the detection consumer has more than
``OTASUKE_TELEMETRY_INGEST_MAX_PENDING`` messages waiting (not yet delivered
plus delivered but unacknowledged), a new batch is not stored at all and is
answered ``429 Too Many Requests`` with ``Retry-After``; the device sends it
again later, with the same batch id, so it is counted once. The figure is
asked of JetStream at most every ``refresh`` seconds, so a burst of requests
costs one lookup.
"""
from __future__ import annotations

import asyncio
import logging
import time

from nats.js.errors import NotFoundError

from otasuke.events.streams import INGEST

from .detection_worker import DURABLE

log = logging.getLogger(__name__)

DEFAULT_MAX_PENDING = 2000
"""Messages (one per batch, or per chunk of a large batch): with 5,000-event batches, ten million events."""
RETRY_AFTER_S = 5


class IngestBacklog:
    def __init__(self, js, max_pending: int = DEFAULT_MAX_PENDING, *, refresh: float = 0.25):
        if max_pending < 1:
            raise ValueError("OTASUKE_TELEMETRY_INGEST_MAX_PENDING must be at least 1")
        self.js = js
        self.max_pending = max_pending
        self.refresh = refresh
        self._waiting = 0
        self._at = float("-inf")
        self._lookup = asyncio.Lock()

    async def waiting(self) -> int:
        """Messages detection has not finished with (as of at most ``refresh`` seconds ago)."""
        if time.monotonic() - self._at < self.refresh:
            return self._waiting
        async with self._lookup:  # one lookup for the requests that arrive together
            if time.monotonic() - self._at >= self.refresh:
                try:
                    info = await self.js.consumer_info(INGEST.name, DURABLE)
                    self._waiting = int(info.num_pending or 0) + int(info.num_ack_pending or 0)
                except NotFoundError:
                    self._waiting = 0  # no detection consumer yet: nothing is behind
                except Exception as exc:  # NATS unsure: keep the last figure rather than refuse everyone
                    log.warning("ingest backlog: could not read the detection consumer: %s", exc)
                self._at = time.monotonic()
        return self._waiting

    async def too_far_behind(self) -> int | None:
        """The number waiting if it exceeds the bound (refuse the batch), else None."""
        waiting = await self.waiting()
        return waiting if waiting > self.max_pending else None

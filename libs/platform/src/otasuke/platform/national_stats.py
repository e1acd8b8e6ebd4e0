"""Anonymised counts for the national view, published to the STATS stream.

Each service counts what it knows (alerts per category, diagnosis bands,
training results) as ``stats.<partner>.<metric>`` messages that carry a day,
a few coarse labels and a number — never a company id or a name. A national
hub sources every partner's STATS stream (infra/k8s/national) and adds them up.

Publishing is idempotent: each count's ``Nats-Msg-Id`` is derived from the event
it was counted from, so a redelivered event is not counted twice.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date

import msgspec

from otasuke.events import Envelope, Reactor, Recorded
from otasuke.events.streams import STATS


class Count(msgspec.Struct, frozen=True, kw_only=True):
    metric: str
    value: int = 1
    labels: dict[str, str] = {}


class StatsMessage(msgspec.Struct, frozen=True, kw_only=True):
    partner_id: str
    metric: str
    day: date
    value: int
    labels: dict[str, str] = {}


Counter = Callable[[Envelope], Iterable[Count]]


class NationalStatsPublisher(Reactor):
    """Turns a service's own events into anonymised counts (one reactor per service and stream)."""

    def __init__(self, service: str, stream: str, counters: dict[str, Counter]):
        self.name = f"{service}.national_stats"
        self.stream = stream
        self.event_types = frozenset(counters)
        self.counters = counters
        self.js = None

    def bind(self, js) -> "NationalStatsPublisher":
        self.js = js
        return self

    async def handle(self, event: Recorded) -> None:
        env = event.envelope
        for i, count in enumerate(self.counters[env.type](env)):
            message = StatsMessage(
                partner_id=env.partner_id, metric=count.metric, day=env.occurred_at.date(),
                value=count.value, labels=count.labels,
            )
            await self.js.publish(
                f"{STATS.context}.{env.partner_id}.{count.metric}",
                msgspec.json.encode(message),
                stream=STATS.name,
                headers={"Nats-Msg-Id": f"{env.id}:stats:{i}"},
            )

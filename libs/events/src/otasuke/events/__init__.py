"""The Otasuke event backbone: envelopes, the JetStream event store, projections, replay, tracing."""
from .aggregate import Aggregate, DomainError, Outcome, execute, load
from .envelope import Envelope, Recorded, Tenant, derived_id, new_id, utcnow
from .projection import ConsumerRunner, Projection, Reactor
from .registry import MalformedEvent, UnknownEventType, event
from .store import ConcurrencyConflict, EventMeta, EventStore
from .streams import ALL_STREAMS, AggregateRef, ensure_streams

__all__ = [
    "ALL_STREAMS",
    "Aggregate",
    "AggregateRef",
    "ConcurrencyConflict",
    "ConsumerRunner",
    "DomainError",
    "Envelope",
    "EventMeta",
    "EventStore",
    "MalformedEvent",
    "Outcome",
    "Projection",
    "Reactor",
    "Recorded",
    "Tenant",
    "UnknownEventType",
    "derived_id",
    "ensure_streams",
    "event",
    "execute",
    "load",
    "new_id",
    "utcnow",
]

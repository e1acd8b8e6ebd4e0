"""Streams and subjects, declared in code and created idempotently at start-up.

One stream per bounded context. The subject of an aggregate's events names the
aggregate itself::

    <context>.<partner_id>.<company_id or _>.<aggregate_type>.<aggregate_id>

so the last message on that subject is the aggregate's version, which is what
``Nats-Expected-Last-Subject-Sequence`` checks for optimistic concurrency. The
partner and company tokens let a partner filter, shard or source by tenant
(``diagnosis.chubu.*.>``, ``telemetry.*.acme.>``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from .envelope import Tenant, check_id

NO_COMPANY = "_"


@dataclass(frozen=True)
class StreamSpec:
    name: str
    context: str
    description: str
    max_age: timedelta | None = None
    max_bytes: int | None = None
    duplicate_window: timedelta = timedelta(minutes=2)
    discard_new: bool = False
    extra_subjects: tuple[str, ...] = field(default=())

    @property
    def subjects(self) -> list[str]:
        return [f"{self.context}.>", *self.extra_subjects]

    def config(self, replicas: int) -> StreamConfig:
        return StreamConfig(
            name=self.name,
            description=self.description,
            subjects=self.subjects,
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            num_replicas=replicas,
            max_age=self.max_age.total_seconds() if self.max_age else None,
            max_bytes=self.max_bytes or -1,
            duplicate_window=self.duplicate_window.total_seconds(),
            discard=DiscardPolicy.NEW if self.discard_new else DiscardPolicy.OLD,
            allow_direct=True,
        )


ENROLMENT = StreamSpec("ENROLMENT", "enrolment", "Companies, service applications and activations")
HELPDESK = StreamSpec("HELPDESK", "helpdesk", "Tickets, hand-overs, chat links and conversation events")
DIAGNOSIS = StreamSpec("DIAGNOSIS", "diagnosis", "Security self-diagnoses")
TELEMETRY = StreamSpec("TELEMETRY", "telemetry", "Devices, alerts, allow-lists and learning periods")
# Raw normalised telemetry is high-volume and kept for a bounded time; the
# archive of record is the Parquet written by the telemetry service.
INGEST = StreamSpec(
    "INGEST",
    "ingest",
    "Normalised UTM/EDR telemetry batches (Arrow IPC)",
    max_age=timedelta(days=7),
    duplicate_window=timedelta(minutes=10),
)
TRAINING = StreamSpec("TRAINING", "training", "Phishing-training campaigns and recipient events")
INSURANCE = StreamSpec("INSURANCE", "insurance", "Policies, quotes and claims")
# Anonymised counts for the national view (no company ids, no names); a national
# hub sources this stream from every partner's JetStream domain (docs/operations.md).
STATS = StreamSpec(
    "STATS",
    "stats",
    "Anonymised counts for the national view (stats.<partner>.<metric>): no company ids, no names",
    max_age=timedelta(days=730),
    duplicate_window=timedelta(minutes=10),
)
DEADLETTER = StreamSpec(
    "DEADLETTER", "deadletter", "Messages a consumer could not handle, with the reason", max_age=timedelta(days=30)
)

ALL_STREAMS: tuple[StreamSpec, ...] = (
    ENROLMENT,
    HELPDESK,
    DIAGNOSIS,
    TELEMETRY,
    INGEST,
    TRAINING,
    INSURANCE,
    STATS,
    DEADLETTER,
)


def stream_for_context(context: str) -> StreamSpec:
    for spec in ALL_STREAMS:
        if spec.context == context:
            return spec
    raise LookupError(f"no stream for context {context!r}")


def stream_by_name(name: str) -> StreamSpec:
    for spec in ALL_STREAMS:
        if spec.name == name.upper():
            return spec
    raise LookupError(f"unknown stream {name!r}; known: {', '.join(s.name for s in ALL_STREAMS)}")


@dataclass(frozen=True)
class AggregateRef:
    """Names one aggregate: its context, tenant, type and id."""

    context: str
    tenant: Tenant
    aggregate_type: str
    aggregate_id: str

    def __post_init__(self) -> None:
        check_id(self.aggregate_type, "aggregate_type")
        check_id(self.aggregate_id, "aggregate_id")

    @property
    def subject(self) -> str:
        company = self.tenant.company_id or NO_COMPANY
        return f"{self.context}.{self.tenant.partner_id}.{company}.{self.aggregate_type}.{self.aggregate_id}"

    @property
    def stream(self) -> StreamSpec:
        return stream_for_context(self.context)


def tenant_filter(context: str, partner_id: str = "*", company_id: str = "*") -> str:
    """A subject filter for one tenant's events in a context."""
    return f"{context}.{partner_id}.{company_id}.>"


async def ensure_streams(js: JetStreamContext, replicas: int = 1, specs=ALL_STREAMS) -> None:
    """Create or update every declared stream; safe to call from every process at start-up."""
    for spec in specs:
        config = spec.config(replicas)
        try:
            info = await js.stream_info(spec.name)
        except NotFoundError:
            await js.add_stream(config)
            continue
        current = info.config
        if (
            current.subjects != config.subjects
            or (current.num_replicas or 1) != replicas
            or current.description != config.description
        ):
            await js.update_stream(config)

"""The event envelope: what every event carries besides its payload.

An event on the wire is one JSON object: the envelope fields plus ``data``,
the payload Struct registered for ``type`` (see :mod:`otasuke.events.registry`).
"""
from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec

# Ids appear as tokens in NATS subjects, so they may not contain '.', '*', '>'
# or whitespace. Keep them to a conservative, URL-safe alphabet.
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class InvalidId(ValueError):
    pass


def check_id(value: str, what: str) -> str:
    if not ID_PATTERN.match(value):
        raise InvalidId(
            f"{what} {value!r} is not a valid id: use 1-128 letters, digits, '-' or '_'"
        )
    return value


def new_id() -> str:
    """A random, time-ordered id (UUIDv7 layout) for events and aggregates."""
    ms = int(datetime.now(UTC).timestamp() * 1000)
    rand = uuid.uuid4().int & ((1 << 74) - 1)
    value = (ms << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def derived_id(seed: str, index: int = 0) -> str:
    """A deterministic event id from a command id, so a retried command
    produces the same ``Nats-Msg-Id`` and JetStream drops the duplicate."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"otasuke:{seed}:{index}"))


def utcnow() -> datetime:
    return datetime.now(UTC)


class Tenant(msgspec.Struct, frozen=True):
    """Who owns the data: a partner (regional operator) and, usually, one of
    its companies. Partner-level data has ``company_id=None``."""

    partner_id: str
    company_id: str | None = None

    def __post_init__(self) -> None:
        check_id(self.partner_id, "partner_id")
        if self.company_id is not None:
            check_id(self.company_id, "company_id")


class _EnvelopeFields(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    type: str
    version: int
    partner_id: str
    company_id: str | None
    aggregate_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    actor: str | None = None
    """Who caused it: a user or operator id, a device id, or ``system``."""
    traceparent: str | None = None
    tracestate: str | None = None


class Envelope(_EnvelopeFields, frozen=True, kw_only=True):
    data: Any = None

    @property
    def tenant(self) -> Tenant:
        return Tenant(self.partner_id, self.company_id)


class RawEnvelope(_EnvelopeFields, frozen=True, kw_only=True):
    """Envelope with the payload left undecoded; used to read the type first."""

    data: msgspec.Raw = msgspec.Raw(b"null")


class Recorded(msgspec.Struct, frozen=True):
    """An event as stored: its envelope and where it sits in its stream."""

    envelope: Envelope
    stream: str
    seq: int
    subject: str

    @property
    def data(self) -> Any:
        return self.envelope.data

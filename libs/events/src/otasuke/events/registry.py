"""Event types: a name, a schema version and a payload Struct.

Each bounded context declares its payloads in ``otasuke.events.schemas.<context>``
with the :func:`event` decorator; the registry maps the ``type`` field of an
envelope back to the Struct so any service can decode any event.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec

from .envelope import Envelope, RawEnvelope

T = TypeVar("T", bound=type[msgspec.Struct])


@dataclass(frozen=True)
class EventType:
    name: str
    version: int
    payload: type[msgspec.Struct]
    context: str
    doc: str
    producer: str
    consumers: tuple[str, ...]


_BY_NAME: dict[str, EventType] = {}
_BY_CLASS: dict[type, EventType] = {}


class UnknownEventType(LookupError):
    pass


class MalformedEvent(ValueError):
    pass


def event(name: str, *, version: int = 1, producer: str = "", consumers: tuple[str, ...] = ()):
    """Register a payload Struct as the event type ``name`` (``<context>.<what_happened>``).

    ``producer`` and ``consumers`` name services; they feed the event catalogue
    in docs/events.md (``otasuke events catalogue``).
    """

    def register(cls: T) -> T:
        if name in _BY_NAME and _BY_NAME[name].payload is not cls:
            raise ValueError(f"event type {name!r} registered twice")
        context = name.split(".", 1)[0]
        doc = (cls.__doc__ or "").strip().split("\n\n")[0]
        et = EventType(name, version, cls, context, " ".join(doc.split()), producer, tuple(consumers))
        _BY_NAME[name] = et
        _BY_CLASS[cls] = et
        return cls

    return register


def type_of(payload: msgspec.Struct | type) -> EventType:
    cls = payload if isinstance(payload, type) else type(payload)
    try:
        return _BY_CLASS[cls]
    except KeyError:
        raise UnknownEventType(f"{cls.__name__} is not a registered event payload") from None


def lookup(name: str) -> EventType:
    _load_schemas()
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownEventType(f"unknown event type {name!r}") from None


def all_types() -> list[EventType]:
    _load_schemas()
    return sorted(_BY_NAME.values(), key=lambda t: t.name)


_encoder = msgspec.json.Encoder()
_raw_decoder = msgspec.json.Decoder(RawEnvelope)


def encode(envelope: Envelope) -> bytes:
    return _encoder.encode(envelope)


def decode(payload: bytes) -> Envelope:
    """Decode an envelope and its typed payload; a clear error if either is wrong."""
    try:
        raw = _raw_decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise MalformedEvent(f"not a valid event envelope: {exc}") from exc
    et = lookup(raw.type)
    try:
        data = msgspec.json.decode(raw.data, type=et.payload)
    except msgspec.ValidationError as exc:
        raise MalformedEvent(f"payload of {raw.type} is invalid: {exc}") from exc
    fields = {f: getattr(raw, f) for f in raw.__struct_fields__ if f != "data"}
    return Envelope(**fields, data=data)


def to_builtins(envelope: Envelope) -> dict[str, Any]:
    return msgspec.to_builtins(envelope)


_loaded = False


def _load_schemas() -> None:
    # Import every context's schema module once so lookups by name work even
    # in a process (such as the CLI) that never imported them itself.
    global _loaded
    if _loaded:
        return
    _loaded = True
    from . import schemas  # noqa: F401

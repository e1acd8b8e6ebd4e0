"""Normalisers: one small plugin per source format, each turning one raw line
into one flat record of the source's normalised schema.

Every record carries the same meta columns (``otasuke_ts``, ``otasuke_device``,
``otasuke_host``, ``otasuke_category``, ``otasuke_source``) next to the
source's own fields, so the detection core and the reports can treat UTM and
EDR events alike while Sigma rules still see the original field names
(``Image``, ``CommandLine``, ``EventID`` …).

A line that cannot be read raises :class:`LineError` naming the field; the
batch is then refused as a whole (see :func:`normalise_batch`).

A normaliser may also offer ``normalise_lines(lines) -> {column: Arrow array}``,
a column-wise fast path over the whole batch with the same result as the
per-line path. It returns ``None`` (or raises) whenever it is unsure; the
per-line path then decides, so a refusal always names its line and field.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import msgspec
import pyarrow as pa

TS = "otasuke_ts"
DEVICE = "otasuke_device"
HOST = "otasuke_host"
CATEGORY = "otasuke_category"
SOURCE = "otasuke_source"
META = (TS, DEVICE, HOST, CATEGORY, SOURCE)


class LineError(ValueError):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class BatchRejected(ValueError):
    """The whole batch is refused; ``line`` is 1-based as a person counts lines."""

    def __init__(self, line: int, field: str | None, message: str):
        where = f"line {line}" + (f", field `{field}`" if field else "")
        super().__init__(f"{where}: {message}")
        self.line = line
        self.field = field
        self.detail = message


class Normaliser(Protocol):
    source: str
    kind: str  # "utm" | "edr"

    def normalise(self, line: bytes) -> dict[str, Any]: ...


def as_text(value: Any) -> str | None:
    """A field value as the text Sigma compares (a number keeps its decimal spelling)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return msgspec.json.encode(value).decode()
    return str(value)


_AT = re.compile(r" - at `\$\.?([^`]*)`")


def validation_error(exc: msgspec.MsgspecError) -> LineError:
    """msgspec says ``Expected `int`, got `str` - at `$.alert.severity```; keep the field apart."""
    text = str(exc)
    m = _AT.search(text)
    field = m.group(1) if m else None
    return LineError(_AT.sub("", text), field or None)


def parse_time(value: Any, field: str) -> datetime:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, (int, float)):
        # Epoch seconds or milliseconds (CEF `rt`).
        dt = datetime.fromtimestamp(value / 1000 if value > 1e11 else value, UTC)
    elif isinstance(value, str) and value:
        text = value.strip()
        if text.isdigit():
            return parse_time(int(text), field)
        try:
            dt = datetime.fromisoformat(text.replace(" UTC", "Z"))
        except ValueError:
            raise LineError(f"not a timestamp: {value!r}", field) from None
    else:
        raise LineError(f"not a timestamp: {value!r}", field)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


_REGISTRY: dict[str, Normaliser] = {}


def register(normaliser: Normaliser) -> Normaliser:
    _REGISTRY[normaliser.source] = normaliser
    return normaliser


def normaliser_for(source: str) -> Normaliser:
    _load()
    try:
        return _REGISTRY[source]
    except KeyError:
        raise LookupError(f"unknown source {source!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def sources() -> list[str]:
    _load()
    return sorted(_REGISTRY)


def _load() -> None:
    if not _REGISTRY:
        from . import cef, suricata, windows  # noqa: F401  (they register themselves)


@dataclass
class NormalisedBatch:
    source: str
    kind: str
    records: list[dict[str, Any]] | None
    raw_lines: list[bytes]
    columns: dict[str, pa.Array] | None = None
    """Set instead of ``records`` when the column-wise fast path normalised the batch."""

    @property
    def size(self) -> int:
        return len(self.raw_lines)

    @property
    def first_host(self) -> str | None:
        if self.columns is not None:
            return self.columns[HOST][0].as_py() if HOST in self.columns else None
        return self.records[0].get(HOST)


def split_lines(body: bytes) -> list[tuple[int, bytes]]:
    """Non-blank lines with their 1-based line numbers."""
    out = []
    for i, line in enumerate(body.split(b"\n"), start=1):
        line = line.strip()
        if line:
            out.append((i, line))
    return out


def normalise_batch(source: str, body: bytes | Iterable[tuple[int, bytes]], device_id: str) -> NormalisedBatch:
    """Validate and normalise every line, or refuse the batch at the first bad line."""
    norm = normaliser_for(source)
    fast = getattr(norm, "normalise_lines", None)
    if fast is not None and isinstance(body, (bytes, bytearray)):
        raw = [line for line in map(bytes.strip, bytes(body).split(b"\n")) if line]
        columns = None
        if raw:
            try:
                columns = fast(raw)
            except Exception:  # the per-line path below finds the line and field
                columns = None
        if columns is not None:
            n = len(raw)
            columns[DEVICE] = pa.array([device_id] * n, pa.string())
            columns[SOURCE] = pa.array([source] * n, pa.string())
            return NormalisedBatch(source, norm.kind, None, raw, columns)
    lines = split_lines(body) if isinstance(body, (bytes, bytearray)) else list(body)
    if not lines:
        raise BatchRejected(1, None, "the batch is empty: send one JSON object per line")
    records = []
    for number, line in lines:
        try:
            rec = norm.normalise(line)
        except LineError as exc:
            raise BatchRejected(number, exc.field, str(exc)) from None
        except (msgspec.MsgspecError, UnicodeDecodeError) as exc:
            err = validation_error(exc) if isinstance(exc, msgspec.MsgspecError) else LineError(str(exc))
            raise BatchRejected(number, err.field, str(err)) from None
        rec[DEVICE] = device_id
        rec[SOURCE] = source
        records.append(rec)
    return NormalisedBatch(source, norm.kind, records, [line for _, line in lines])

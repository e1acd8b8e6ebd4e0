"""Normalised records ⇄ Arrow record batches, and the IPC bytes on the INGEST stream.

Every source field becomes a nullable UTF-8 column (Sigma compares text; a
number keeps its decimal spelling), except ``otasuke_ts`` which is a UTC
timestamp so windows and reports can work in time. The tenant, device,
source, batch id and acceptance time travel in the schema metadata.
"""
from __future__ import annotations

from typing import Any

import pyarrow as pa

from ..domain.normalisers import TS

TS_TYPE = pa.timestamp("us", tz="UTC")
META_RECEIVED_AT = "received_at"  # epoch seconds when ingest accepted the batch (alert latency is measured from it)
_IPC_OPTIONS = pa.ipc.IpcWriteOptions(compression="zstd")


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        import msgspec

        return msgspec.json.encode(value).decode()
    return str(value)


def records_to_table(records: list[dict[str, Any]], metadata: dict[str, str] | None = None) -> pa.Table:
    keys: dict[str, None] = {}
    for rec in records:
        keys.update(dict.fromkeys(rec))
    columns = {}
    for key in keys:
        if key == TS:
            columns[key] = pa.array([r.get(TS) for r in records], type=TS_TYPE)
        else:
            columns[key] = pa.array([_text(r.get(key)) for r in records], type=pa.string())
    table = pa.table(columns)
    return table.replace_schema_metadata(metadata) if metadata else table


def table_to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=_IPC_OPTIONS) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def ipc_to_table(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def split_for_payload(table: pa.Table, max_bytes: int) -> list[bytes]:
    """IPC chunks each under the NATS payload limit (halving rows until they fit)."""
    data = table_to_ipc(table)
    if len(data) <= max_bytes or table.num_rows <= 1:
        return [data]
    half = table.num_rows // 2
    return split_for_payload(table.slice(0, half), max_bytes) + split_for_payload(table.slice(half), max_bytes)

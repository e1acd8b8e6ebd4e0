"""The archive of record: every accepted raw batch as one Parquet file.

Layout (Hive partitions, readable by pyarrow.dataset, DuckDB, Spark)::

    <data_dir>/telemetry/archive/partner=<p>/company=<c>/day=<YYYY-MM-DD>/<source>-<batch_id>.parquet

One file per batch id, written to a temporary name and renamed, so a reader
never sees half a batch and a redelivered batch overwrites itself instead of
being archived twice.
"""
from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA = pa.schema(
    [
        ("batch_id", pa.string()),
        ("line", pa.int32()),
        ("device_id", pa.string()),
        ("source", pa.string()),
        ("received_at", pa.timestamp("us", tz="UTC")),
        ("raw", pa.string()),
    ]
)


def archive_root(data_dir: Path) -> Path:
    return Path(data_dir) / "telemetry" / "archive"


def batch_path(data_dir: Path, partner_id: str, company_id: str, day: str, source: str, batch_id: str) -> Path:
    return archive_root(data_dir) / f"partner={partner_id}" / f"company={company_id}" / f"day={day}" / f"{source}-{batch_id}.parquet"


def write_batch(
    data_dir: Path, *, partner_id: str, company_id: str, device_id: str, source: str, batch_id: str,
    received_at: datetime, lines: list[bytes],
) -> Path:
    path = batch_path(data_dir, partner_id, company_id, received_at.strftime("%Y-%m-%d"), source, batch_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(lines)
    table = pa.table(
        {
            "batch_id": pa.repeat(pa.scalar(batch_id, pa.string()), n),
            "line": pa.array(np.arange(1, n + 1, dtype=np.int32)),
            "device_id": pa.repeat(pa.scalar(device_id, pa.string()), n),
            "source": pa.repeat(pa.scalar(source, pa.string()), n),
            "received_at": pa.repeat(pa.scalar(received_at, SCHEMA.field("received_at").type), n),
            "raw": _text(lines),
        },
        schema=SCHEMA,
    )
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)
    return path


def _text(lines: list[bytes]) -> pa.Array:
    try:
        return pa.array(lines, pa.binary()).cast(pa.string())  # validates UTF-8 without a Python loop
    except pa.ArrowInvalid:
        return pa.array([ln.decode("utf-8", "replace") for ln in lines], pa.string())


def read_archive(data_dir: Path, partner_id: str, company_id: str | None = None) -> pa.Table:
    root = archive_root(data_dir) / f"partner={partner_id}"
    if company_id:
        root = root / f"company={company_id}"
    files = sorted(root.rglob("*.parquet")) if root.exists() else []
    if not files:
        return SCHEMA.empty_table()
    return pa.concat_tables([pq.read_table(f, schema=SCHEMA) for f in files])

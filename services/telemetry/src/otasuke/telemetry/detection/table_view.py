"""One event batch as the engine reads it.

A field (columns matched case-insensitively) is read as *entries* and *codes*: a column
with repeated values (Image, ParentImage, CommandLine, EventID, Channel… — a few hundred
distinct values in hundreds of thousands of events) is dictionary-encoded, so literal
scans and predicates run once per distinct value and are broadcast to rows through the
codes; a column of long, mostly unique values (Message) is read as is (entries = rows).
Either way entry `n_entries` stands for null.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

EMPTY = np.empty(0, dtype=np.int64)

# A field is read as is (not dictionary-encoded) when its values are long and mostly
# distinct (rendered messages, script blocks): encoding would cost more than it saves.
LONG_VALUES = 256
SAMPLE = 256


class Field:
    """One field of a batch: its distinct values (or all values) and each row's entry."""

    __slots__ = ("values", "codes", "n_entries", "raw", "_lowered", "_order", "_bounds", "_eq", "_lookups")

    def __init__(self, column: pa.Array, num_rows: int):
        self.raw = _mostly_unique(column, num_rows)
        if self.raw:
            self.values = column
            # Entries are rows; a null row points at the null entry.
            codes = np.arange(num_rows, dtype=np.int64)
            if column.null_count:
                valid = column.is_valid().to_numpy(zero_copy_only=False)
                codes[~valid] = num_rows
            self.codes = codes
        else:
            enc = pc.dictionary_encode(column)
            self.values = enc.dictionary
            self.codes = enc.indices.fill_null(len(enc.dictionary)).to_numpy(zero_copy_only=False).astype(np.int64)
        self.n_entries = len(self.values)
        self._lowered: pa.Array | None = None
        self._order: np.ndarray | None = None
        self._bounds: np.ndarray | None = None
        self._eq: dict[str, np.ndarray] | None = None
        self._lookups = 0

    def lowered(self) -> pa.Array:
        # ASCII folding keeps byte offsets stable and is what SQLite NOCASE/LIKE does.
        if self._lowered is None:
            self._lowered = pc.ascii_lower(self.values)
        return self._lowered

    def data(self) -> tuple[memoryview | None, np.ndarray]:
        """The entries' UTF-8 bytes (one buffer) and their offsets into it."""
        return Field.raw_data(self.values)

    @staticmethod
    def raw_data(arr: pa.Array) -> tuple[memoryview | None, np.ndarray]:
        bufs = arr.buffers()
        off_type = np.int64 if pa.types.is_large_string(arr.type) else np.int32
        width = np.dtype(off_type).itemsize
        offsets = np.frombuffer(bufs[1], dtype=off_type, count=len(arr) + 1, offset=arr.offset * width).astype(np.int64)
        start, end = int(offsets[0]), int(offsets[-1])
        if end <= start or bufs[2] is None:
            return None, offsets - start
        return memoryview(bufs[2])[start:end], offsets - start

    def rows_of(self, entries: np.ndarray) -> np.ndarray:
        """Sorted rows whose entry is one of `entries` (unique, non-null)."""
        if not len(entries):
            return EMPTY
        if self.raw:
            return np.sort(entries)
        if self._order is None and self._lookups < 4:
            # A few look-ups: one pass over the codes each; more: sort the rows by code once.
            self._lookups += 1
            hit = np.zeros(self.n_entries + 1, dtype=bool)
            hit[entries] = True
            return np.flatnonzero(hit[self.codes])
        if self._order is None:
            counts = np.bincount(self.codes, minlength=self.n_entries + 1)
            self._bounds = np.concatenate(([0], np.cumsum(counts)))
            self._order = np.argsort(self.codes, kind="stable")
        starts = self._bounds[entries]
        lens = self._bounds[entries + 1] - starts
        if len(entries) == 1:
            return self._order[starts[0] : starts[0] + lens[0]]
        total = int(lens.sum())
        if not total:
            return EMPTY
        # Gather every entry's slice of the row order in one vectorised step.
        shift = np.repeat(starts - (np.cumsum(lens) - lens), lens)
        return np.sort(self._order[np.arange(total) + shift])

    def eq_entries(self, value: str) -> np.ndarray:
        """Entries whose lower-cased value equals `value`."""
        if self._eq is None:
            enc = pc.dictionary_encode(self.lowered())
            idx = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
            names = enc.dictionary.to_pylist()
            order = np.argsort(idx, kind="stable")  # entries grouped by lower-cased value
            bounds = np.searchsorted(idx[order], np.arange(-1, len(names) + 1))
            self._eq = {name: order[bounds[j + 1] : bounds[j + 2]] for j, name in enumerate(names)}
        return self._eq.get(value, EMPTY)


def _mostly_unique(column: pa.Array, num_rows: int) -> bool:
    non_null = num_rows - column.null_count
    if non_null < SAMPLE:
        return False
    data, offsets = Field.raw_data(column)
    if data is None or len(data) / non_null < LONG_VALUES:
        return False
    sample = column.take(pa.array(np.linspace(0, num_rows - 1, SAMPLE * 4).astype(np.int64))).drop_null()
    return len(sample) > 0 and pc.count_distinct(sample).as_py() > 0.5 * len(sample)


class TableView:
    def __init__(self, table: pa.Table):
        self.table = table
        self.num_rows = table.num_rows
        self._names: dict[str, list[int]] = {}
        for i, name in enumerate(table.column_names):
            self._names.setdefault(name.lower(), []).append(i)
        self._original: dict[str, pa.Array | None] = {}
        self._fields: dict[str, Field | None] = {}

    @property
    def fields(self) -> list[str]:
        return list(self._names)

    def original(self, field: str) -> pa.Array | None:
        if field in self._original:
            return self._original[field]
        arr = None
        for i in self._names.get(field, ()):
            col = self.table.column(i)
            col = col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
            if col.null_count == len(col):
                continue  # a column with no value is the same as no column, and free
            if not pa.types.is_string(col.type):
                col = pc.cast(col, pa.string())
            # Two columns differing only in case (ProcessId/ProcessID) are one field, as a
            # column name is in SQL: the first non-null value wins.
            arr = col if arr is None else pc.coalesce(arr, col)
        self._original[field] = arr
        return arr

    def field(self, name: str) -> Field | None:
        if name in self._fields:
            return self._fields[name]
        arr = self.original(name)
        f = Field(arr, self.num_rows) if arr is not None else None
        self._fields[name] = f
        return f

    def eq_rows(self, field: str, value: str) -> np.ndarray:
        """Rows whose lower-cased `field` equals `value` (sorted)."""
        f = self.field(field)
        if f is None:
            return EMPTY
        return f.rows_of(f.eq_entries(value))

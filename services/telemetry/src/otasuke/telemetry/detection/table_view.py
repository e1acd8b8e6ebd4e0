"""One event batch as the engine reads it: columns by case-insensitive name, lower-cased
once, with an equality index and a multi-pattern literal scan per column."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

EMPTY = np.empty(0, dtype=np.int64)


class TableView:
    def __init__(self, table: pa.Table):
        self.table = table
        self.num_rows = table.num_rows
        self._names: dict[str, list[str]] = {}
        for name in table.column_names:
            self._names.setdefault(name.lower(), []).append(name)
        self._original: dict[str, pa.Array | None] = {}
        self._lowered: dict[str, pa.Array | None] = {}
        self._eq_index: dict[str, tuple[dict, np.ndarray, np.ndarray]] = {}
        self._scans: dict[tuple[str, str], dict[str, np.ndarray]] = {}

    @property
    def fields(self) -> list[str]:
        return list(self._names)

    def original(self, field: str) -> pa.Array | None:
        if field in self._original:
            return self._original[field]
        arr = None
        for name in self._names.get(field, ()):
            col = self.table.column(name)
            col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
            if not pa.types.is_string(col.type):
                col = pc.cast(col, pa.string())
            # Two columns differing only in case (ProcessId/ProcessID) are one field, as a
            # column name is in SQL: the first non-null value wins.
            arr = col if arr is None else pc.coalesce(arr, col)
        self._original[field] = arr
        return arr

    def lowered(self, field: str) -> pa.Array | None:
        if field in self._lowered:
            return self._lowered[field]
        arr = self.original(field)
        # ASCII case folding keeps byte offsets stable for the literal scan and is what the
        # reference evaluation (SQLite NOCASE/LIKE) does.
        low = pc.ascii_lower(arr) if arr is not None else None
        self._lowered[field] = low
        return low

    def eq_rows(self, field: str, value: str) -> np.ndarray:
        """Rows whose lower-cased `field` equals `value` (sorted)."""
        idx = self._eq_index.get(field)
        if idx is None:
            arr = self.lowered(field)
            if arr is None:
                idx = ({}, EMPTY, np.zeros(1, dtype=np.int64))
            else:
                enc = pc.dictionary_encode(arr)
                codes = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
                lookup = {v: i for i, v in enumerate(enc.dictionary.to_pylist())}
                order = np.argsort(codes, kind="stable")
                counts = np.bincount(codes + 1, minlength=len(lookup) + 1)
                bounds = np.concatenate(([0], np.cumsum(counts)))
                idx = (lookup, order, bounds)
            self._eq_index[field] = idx
        lookup, order, bounds = idx
        code = lookup.get(value)
        if code is None:
            return EMPTY
        return order[bounds[code + 1] : bounds[code + 2]]

    def scan(self, field: str, automaton, lengths: np.ndarray, literals: list[str], name: str = "") -> dict[str, np.ndarray]:
        """Rows of `field` containing each literal of the automaton, in one pass over the
        column's data buffer (Aho-Corasick), so the cost does not grow with the literal count."""
        found = self._scans.get((field, name))
        if found is not None:
            return found
        found = {}
        arr = self.lowered(field)
        if arr is not None and len(arr):
            if pa.types.is_large_string(arr.type):
                off_type = np.int64
            else:
                off_type = np.int32
            bufs = arr.buffers()
            width = np.dtype(off_type).itemsize
            offsets = np.frombuffer(bufs[1], dtype=off_type, count=len(arr) + 1, offset=arr.offset * width).astype(np.int64)
            start, end = int(offsets[0]), int(offsets[-1])
            if end > start and bufs[2] is not None:
                text = memoryview(bufs[2])[start:end].tobytes().decode("latin-1")
                hits = list(automaton.iter(text))
                if hits:
                    h = np.array(hits, dtype=np.int64)
                    ends, ids = h[:, 0], h[:, 1]
                    starts = ends - lengths[ids] + 1
                    rel = offsets - start
                    row_e = np.searchsorted(rel, ends, "right") - 1
                    row_s = np.searchsorted(rel, starts, "right") - 1
                    keep = row_e == row_s
                    ids, rows = ids[keep], row_e[keep]
                    order = np.lexsort((rows, ids))
                    ids, rows = ids[order], rows[order]
                    cuts = np.flatnonzero(np.diff(ids)) + 1
                    for part_ids, part_rows in zip(np.split(ids, cuts), np.split(rows, cuts)):
                        if len(part_ids):
                            found[literals[part_ids[0]]] = np.unique(part_rows)
        self._scans[(field, name)] = found
        return found

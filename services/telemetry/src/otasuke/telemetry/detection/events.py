"""Windows event records → flat dicts → an Arrow table of strings."""
from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

import pyarrow as pa


def render_value(value: Any) -> str | None:
    """A JSON value as the string Sigma compares against (None stays None)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        # Sigma rules compare booleans with 'true'/'false' (as Zircolite stores them).
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def flatten_evtx_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A nested evtx-dump record (`Event.System`, `Event.EventData`) as one flat dict.

    System fields become top-level keys (EventID, Channel, Computer, …; `Provider.Name`
    as `Provider_Name`, `TimeCreated.SystemTime` as `TimeCreated`); every EventData (or
    UserData) field is a top-level key too. A record that is already flat is returned as is.
    """
    event = record.get("Event") if isinstance(record, Mapping) else None
    if not isinstance(event, Mapping):
        return dict(record)
    flat: dict[str, Any] = {}
    system = event.get("System") or {}
    for key, value in system.items():
        if isinstance(value, Mapping):
            attrs = value.get("#attributes")
            if isinstance(attrs, Mapping):
                if key == "TimeCreated" and "SystemTime" in attrs:
                    flat["TimeCreated"] = attrs["SystemTime"]
                    continue
                for ak, av in attrs.items():
                    flat[f"{key}_{ak}" if key != "Execution" else ak] = av
            text = value.get("#text")
            if text is not None:
                flat[key] = text
        else:
            flat[key] = value
    for section in ("EventData", "UserData"):
        data = event.get(section)
        if isinstance(data, Mapping):
            _flatten_data(data, flat)
    return flat


def _flatten_data(data: Mapping[str, Any], flat: dict[str, Any]) -> None:
    for key, value in data.items():
        if key == "#attributes":
            continue
        if isinstance(value, Mapping) and "#text" in value:
            flat[key] = value["#text"]
        elif isinstance(value, Mapping):
            _flatten_data(value, flat)  # UserData nests one element per provider
        else:
            flat[key] = value


def events_to_table(events: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Flat event dicts → a table with one string column per key (missing → null).

    Non-string values are rendered as strings (numbers in decimal, booleans as
    'true'/'false', lists and objects as compact JSON), which is how Sigma compares them.
    """
    found: dict[str, tuple[list[int], list[str | None]]] = {}
    n = 0
    for n, event in enumerate(events, 1):
        row = n - 1
        for key, value in event.items():
            slot = found.get(key)
            if slot is None:
                slot = found[key] = ([], [])
            slot[0].append(row)
            slot[1].append(render_value(value))
    if not found:
        return _empty(n)
    out = {}
    for key, (rows, values) in found.items():
        if len(rows) == n:
            out[key] = pa.array(values, type=pa.string())
        else:
            full: list[str | None] = [None] * n
            for r, v in zip(rows, values):
                full[r] = v
            out[key] = pa.array(full, type=pa.string())
    return pa.table(out)


def _empty(n: int) -> pa.Table:
    # A table of n events that carry no fields at all.
    return pa.table({"": pa.nulls(n, pa.string())})

"""Windows event records for EDR: Sysmon and Security logs.

Two shapes are accepted, even mixed in one batch:

* flat JSON lines (NXLog/Winlogbeat style: ``EventID``, ``Channel``, ``Computer``
  or ``Hostname`` and every EventData field at the top level);
* nested evtx-dump JSON (``Event.System``, ``Event.EventData``), flattened the
  way SigmaHQ's regression suite expects: System fields such as ``EventID``,
  ``Channel``, ``Computer``, ``Provider_Name`` plus every EventData field.

Field names are kept as Windows writes them so Sigma rules apply unchanged.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from . import CATEGORY, HOST, TS, LineError, as_text, parse_time, register

TS_TYPE = pa.timestamp("us", tz="UTC")
TIME_FIELDS = ("SystemTime", "@timestamp", "UtcTime", "TimeCreated")
# What Arrow's cast and Python's datetime.fromisoformat read alike; anything else goes through parse_time.
_TIME = r"^\d{4}-\d{2}-\d{2}%s([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?%s$"
_NAIVE = _TIME % ("[T ]", "")
_ZONED = _TIME % ("T", r"(Z|[+-]([01]\d|2[0-3]):?[0-5]\d)")


class _Unsure(Exception):
    """The column-wise path cannot promise the per-line result: let the per-line path decide."""

SYSMON_CATEGORY = {
    1: "suspicious_process", 5: "suspicious_process",
    3: "network", 22: "network",
    11: "file_creation", 15: "file_creation", 29: "file_creation",
    2: "file_operation", 23: "file_operation", 26: "file_operation",
    12: "registry", 13: "registry", 14: "registry",
    7: "api_call", 8: "api_call", 10: "api_call", 17: "api_call", 18: "api_call", 25: "api_call",
    6: "resident_program", 19: "resident_program", 20: "resident_program", 21: "resident_program",
}
SECURITY_CATEGORY = {
    4688: "suspicious_process",
    4104: "command_execution", 4103: "command_execution", 800: "command_execution", 400: "command_execution",
    5156: "network", 5157: "network",
    4657: "registry",
    4663: "file_read", 4656: "file_read", 5145: "file_read",
    4660: "file_operation",
    4697: "resident_program", 4698: "resident_program", 7045: "resident_program", 4702: "resident_program",
    4672: "api_call", 4673: "api_call",
}

_decode = msgspec.json.Decoder(dict[str, Any]).decode


def _text(value: Any) -> Any:
    """evtx-dump writes attributes as ``{"#text": v, "#attributes": {...}}``."""
    if isinstance(value, dict):
        return value.get("#text")
    return value


def flatten_evtx(event: dict[str, Any]) -> dict[str, Any]:
    system = event.get("System")
    if not isinstance(system, dict):
        raise LineError("a nested record needs `Event.System`", "Event.System")
    flat: dict[str, Any] = {}
    for key, value in system.items():
        if key == "Provider" and isinstance(value, dict):
            attrs = value.get("#attributes") or {}
            flat["Provider_Name"] = attrs.get("Name")
            if attrs.get("Guid"):
                flat["Provider_Guid"] = attrs.get("Guid")
        elif key == "TimeCreated" and isinstance(value, dict):
            flat["SystemTime"] = (value.get("#attributes") or {}).get("SystemTime")
        elif key in ("Execution", "Security") and isinstance(value, dict):
            flat.update((value.get("#attributes") or {}))
        elif key == "Correlation":
            continue
        else:
            flat[key] = _text(value)
    for section in ("EventData", "UserData"):
        data = event.get(section)
        if isinstance(data, dict):
            if section == "UserData" and len(data) == 1:
                inner = next(iter(data.values()))
                data = inner if isinstance(inner, dict) else data
            for key, value in data.items():
                if key != "#attributes":
                    flat[key] = _text(value)
    return flat


class WindowsEvents:
    kind = "edr"

    def __init__(self, source: str):
        self.source = source

    def normalise(self, line: bytes) -> dict[str, Any]:
        obj = _decode(line)
        nested = obj.get("Event")
        if isinstance(nested, dict):
            rec = flatten_evtx(nested)
            id_field = "Event.System.EventID"
        else:
            rec = obj
            id_field = "EventID"
        event_id = rec.get("EventID")
        if event_id is None:
            raise LineError("missing: every Windows record needs its EventID", id_field)
        try:
            eid = int(event_id)
        except (TypeError, ValueError):
            raise LineError(f"EventID must be a number, got {event_id!r}", id_field) from None
        rec["EventID"] = eid
        channel = str(rec.get("Channel") or "")
        provider = str(rec.get("Provider_Name") or rec.get("SourceName") or "")
        sysmon = "sysmon" in channel.lower() or "sysmon" in provider.lower() or (self.source == "sysmon" and not channel)
        rec[CATEGORY] = (SYSMON_CATEGORY if sysmon else SECURITY_CATEGORY).get(eid)
        host = rec.get("Computer") or rec.get("Hostname") or rec.get("host")
        if not host:
            raise LineError("missing: the computer name is needed (Computer or Hostname)", "Computer")
        rec[HOST] = str(host)
        for field in ("SystemTime", "@timestamp", "UtcTime", "TimeCreated"):
            value = rec.get(field)
            if value:
                rec[TS] = parse_time(value, field)
                break
        else:
            rec[TS] = datetime.now(UTC)
        return rec

    def normalise_lines(self, lines: list[bytes]) -> dict[str, pa.Array] | None:
        """The whole batch column-wise: the same columns and values as ``normalise`` per line."""
        recs = []
        for line in lines:
            obj = _decode(line)
            nested = obj.get("Event")
            recs.append(flatten_evtx(nested) if isinstance(nested, dict) else obj)
        # Every field of every record (Table.from_pylist would take the first record's fields only);
        # mixed types in a field raise and the per-line path decides.
        fields = sorted(set().union(*recs))
        table = pa.table({f: pa.array([r.get(f) for r in recs]) for f in fields})
        try:
            return self._columns(table, recs)
        except _Unsure:
            return None

    def _columns(self, table: pa.Table, recs: list[dict[str, Any]]) -> dict[str, pa.Array]:
        n = table.num_rows
        if "EventID" not in table.column_names or table.column("EventID").null_count:
            raise _Unsure
        try:
            eid = pc.cast(table.column("EventID"), pa.int64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise _Unsure from None
        channel = _given(table, "Channel", n)
        provider = _first_given(table, ("Provider_Name", "SourceName"), n)
        sysmon = pc.or_(pc.match_substring(pc.utf8_lower(channel), "sysmon"),
                        pc.match_substring(pc.utf8_lower(provider), "sysmon"))
        if self.source == "sysmon":
            sysmon = pc.or_(sysmon, pc.equal(channel, ""))
        category = pc.if_else(sysmon, _lookup(eid, SYSMON_CATEGORY), _lookup(eid, SECURITY_CATEGORY))
        host = _first_given(table, ("Computer", "Hostname", "host"), n)
        if not pc.all(pc.not_equal(host, "")).as_py():
            raise _Unsure  # a record without a computer name: refused by the per-line path
        stamps = _first_given(table, TIME_FIELDS, n)
        given = pc.not_equal(stamps, "")
        zoned = pc.match_substring_regex(stamps, _ZONED)
        naive = pc.match_substring_regex(stamps, _NAIVE)
        if not pc.all(pc.or_(pc.invert(given), pc.or_(zoned, naive))).as_py():
            ts = pa.array([_time_of(r) for r in recs], TS_TYPE)
        else:
            now = pa.scalar(datetime.now(UTC), TS_TYPE)
            as_zoned = pc.cast(pc.if_else(zoned, stamps, None), TS_TYPE)
            as_naive = pc.cast(pc.cast(pc.if_else(naive, stamps, None), pa.timestamp("us")), TS_TYPE)
            ts = pc.if_else(zoned, as_zoned, pc.if_else(naive, as_naive, now))
        cols: dict[str, pa.Array] = {}
        for name in table.column_names:
            col = table.column(name)
            t = col.type
            if pa.types.is_string(t) or pa.types.is_null(t) or pa.types.is_integer(t) or pa.types.is_boolean(t):
                cols[name] = col.cast(pa.string())
            else:  # floats, objects, lists: as the per-line path spells them
                cols[name] = pa.array([as_text(r.get(name)) for r in recs], pa.string())
        cols["EventID"] = eid.cast(pa.string())
        cols[CATEGORY], cols[HOST], cols[TS] = category, host, ts
        return cols


def _given(table: pa.Table, name: str, n: int):
    """A text field with null as "" (absent: all ""); a field of another type makes the path unsure."""
    if name not in table.column_names or pa.types.is_null(table.column(name).type):
        return pa.repeat(pa.scalar("", pa.string()), n)
    col = table.column(name)
    if not pa.types.is_string(col.type):
        raise _Unsure
    return pc.fill_null(col, "")


def _first_given(table: pa.Table, names: tuple[str, ...], n: int):
    """``rec.get(a) or rec.get(b) or …`` over text fields."""
    out = _given(table, names[-1], n)
    for name in reversed(names[:-1]):
        col = _given(table, name, n)
        out = pc.if_else(pc.not_equal(col, ""), col, out)
    return out


def _lookup(eid, mapping: dict[int, str]):
    keys = sorted(mapping)
    return pc.take(pa.array([mapping[k] for k in keys], pa.string()), pc.index_in(eid, value_set=pa.array(keys, pa.int64())))


def _time_of(rec: dict[str, Any]) -> datetime:
    for field in TIME_FIELDS:
        value = rec.get(field)
        if value:
            return parse_time(value, field)
    return datetime.now(UTC)


for _name in ("windows", "sysmon", "security"):
    register(WindowsEvents(_name))

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

from . import CATEGORY, HOST, TS, LineError, parse_time, register

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


for _name in ("windows", "sysmon", "security"):
    register(WindowsEvents(_name))

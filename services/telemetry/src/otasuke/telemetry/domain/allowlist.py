"""Per-company allow-list: "please exclude this IP" (table 8, B社) with who, why and until when."""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from otasuke.events import Aggregate, DomainError, Envelope
from otasuke.events.schemas.telemetry import AllowlistEntryAdded, AllowlistEntryRemoved

AGGREGATE_TYPE = "allowlist"

# Fields of the normalised schemas an entry value is compared with.
IP_FIELDS = ("src_ip", "dst_ip", "SourceIp", "DestinationIp", "IpAddress", "otasuke_host")
NAME_FIELDS = ("otasuke_host", "url_host", "dst_host", "src_host", "DestinationHostname", "QueryName", "Computer",
               "file_hash", "Hashes", "sha256")
_HASH = re.compile(r"^[0-9a-fA-F]{32,128}$")
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,253}$")


@dataclass(frozen=True)
class Entry:
    entry_id: str
    value: str
    rule_id: str | None
    reason: str
    by: str
    expires_at: datetime | None
    network: Any = None

    def active(self, at: datetime) -> bool:
        return self.expires_at is None or at < self.expires_at

    def matches(self, row: dict[str, Any], rule_id: str, at: datetime) -> bool:
        if not self.active(at) or (self.rule_id and self.rule_id != rule_id):
            return False
        if self.network is not None:
            for f in IP_FIELDS:
                v = row.get(f)
                if v:
                    try:
                        if ipaddress.ip_address(v) in self.network:
                            return True
                    except ValueError:
                        continue
            return False
        needle = self.value.lower()
        return any(needle in str(row.get(f) or "").lower() for f in NAME_FIELDS if row.get(f))


def make_entry(d: AllowlistEntryAdded) -> Entry:
    try:
        network = ipaddress.ip_network(d.value, strict=False)
    except ValueError:
        network = None
    return Entry(d.entry_id, d.value, d.rule_id, d.reason, d.by, d.expires_at, network)


@dataclass(frozen=True)
class AllowlistState:
    entries: dict[str, Entry] = field(default_factory=dict)


def evolve(state: AllowlistState, env: Envelope) -> AllowlistState:
    d = env.data
    if isinstance(d, AllowlistEntryAdded):
        return replace(state, entries={**state.entries, d.entry_id: make_entry(d)})
    if isinstance(d, AllowlistEntryRemoved):
        return replace(state, entries={k: v for k, v in state.entries.items() if k != d.entry_id})
    return state


ALLOWLIST = Aggregate(AllowlistState, evolve)


def validate_value(value: str) -> str:
    value = value.strip()
    try:
        ipaddress.ip_network(value, strict=False)
        return value
    except ValueError:
        pass
    if _HASH.match(value) or _NAME.match(value):
        return value
    raise DomainError(f"value {value!r} is not an IP address, network (CIDR), host name or file hash")


def add(state: AllowlistState, cmd: AllowlistEntryAdded, now: datetime) -> list:
    if not cmd.reason.strip():
        raise DomainError("a reason is required (who asked for the exclusion and why)")
    if cmd.expires_at is not None and cmd.expires_at <= now:
        raise DomainError("expires_at must be in the future")
    validate_value(cmd.value)
    return [] if cmd.entry_id in state.entries else [cmd]


def remove(state: AllowlistState, entry_id: str, by: str, reason: str) -> list:
    if entry_id not in state.entries:
        raise DomainError(f"allow-list entry {entry_id} not found")
    return [AllowlistEntryRemoved(entry_id=entry_id, by=by, reason=reason)]


def first_match(entries: list[Entry], row: dict[str, Any], rule_id: str, at: datetime) -> Entry | None:
    for e in entries:
        if e.matches(row, rule_id, at):
            return e
    return None

"""Suricata EVE JSON (``eve.json``), the format many UTM appliances emit.

``alert`` records become threat events in the report's UTM categories, decided
from the signature and its class type; ``dns``, ``http``, ``flow`` … records are
kept as network context without a category.
"""
from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

import msgspec

from . import CATEGORY, HOST, TS, parse_time, register


class EveAlert(msgspec.Struct, kw_only=True):
    signature: str
    signature_id: int
    category: str = ""
    severity: int = 3
    action: str = "allowed"
    gid: int = 1
    rev: int = 0


class EveHttp(msgspec.Struct, kw_only=True):
    hostname: str = ""
    url: str = ""
    http_user_agent: str = ""


class EveFile(msgspec.Struct, kw_only=True):
    filename: str = ""
    sha256: str = ""


class EveRecord(msgspec.Struct, kw_only=True):
    timestamp: str
    event_type: str
    src_ip: str = ""
    dest_ip: str = ""
    src_port: int | None = None
    dest_port: int | None = None
    proto: str = ""
    app_proto: str = ""
    alert: EveAlert | None = None
    http: EveHttp | None = None
    fileinfo: EveFile | None = None
    dns: dict[str, Any] | None = None


# First match wins; checked against "signature | class type" lower-cased.
_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ransomware", ("ransom", "wannacry", "lockbit", "conti ")),
    ("c2_callback", ("cnc", "c2 ", "c&c", "command and control", "command-and-control", "beacon", "callback")),
    ("botnet", ("botnet", "mirai", "bot ", "zombie")),
    ("spam", ("spam", "phish")),
    ("sandbox", ("sandbox", "virtual analyzer")),
    ("machine_learning", ("machine learning", "predictive")),
    ("malware", ("malware", "trojan", "virus", "worm", "exploit kit", "dropper")),
    ("web_reputation", ("reputation", "web_client", "drop ", "compromised", "dshield", "cins", "et tor")),
    ("suspicious_object", ("suspicious object", "ioc")),
)


def utm_category(text: str) -> str:
    text = text.lower()
    for key, needles in _RULES:
        if any(n in text for n in needles):
            return key
    return "ips"


@lru_cache(maxsize=65536)
def is_internal(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_private
    except ValueError:
        return False


def internal_host(src: str, dst: str) -> str:
    """The company's own machine in a flow: the private address, source first."""
    if src and is_internal(src):
        return src
    if dst and is_internal(dst):
        return dst
    return src or dst


class SuricataEve:
    source = "suricata"
    kind = "utm"
    _decoder = msgspec.json.Decoder(EveRecord)

    def normalise(self, line: bytes) -> dict[str, Any]:
        ev = self._decoder.decode(line)
        rec: dict[str, Any] = {
            TS: parse_time(ev.timestamp, "timestamp"),
            "event_type": ev.event_type,
            "src_ip": ev.src_ip,
            "src_port": ev.src_port,
            "dst_ip": ev.dest_ip,
            "dst_port": ev.dest_port,
            "proto": ev.proto,
            "app_proto": ev.app_proto,
            HOST: internal_host(ev.src_ip, ev.dest_ip),
            CATEGORY: None,
        }
        if ev.alert is not None:
            a = ev.alert
            rec.update(
                signature=a.signature, signature_id=a.signature_id, vendor_category=a.category,
                vendor_severity=a.severity, action=a.action,
            )
            rec[CATEGORY] = utm_category(f"{a.signature} | {a.category}")
        elif ev.event_type == "alert":
            raise msgspec.ValidationError("Object missing required field `alert` - at `$.alert`")
        if ev.http is not None:
            rec.update(url=ev.http.url, url_host=ev.http.hostname, user_agent=ev.http.http_user_agent)
        if ev.fileinfo is not None:
            rec.update(file_name=ev.fileinfo.filename, file_hash=ev.fileinfo.sha256)
        if ev.dns is not None:
            rec["query"] = ev.dns.get("rrname") or ""
        return rec


register(SuricataEve())

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
import pyarrow as pa
import pyarrow.compute as pc
from msgspec.structs import astuple

from . import CATEGORY, HOST, TS, as_text, parse_time, register

TS_TYPE = pa.timestamp("us", tz="UTC")
# What Arrow's cast and Python's datetime.fromisoformat read alike; anything else goes through parse_time.
_ISO_UTC = (r"^\d{4}-\d{2}-\d{2}T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?"
            r"(Z|[+-]([01]\d|2[0-3]):?[0-5]\d)$")
_NO_ALERT = (None,) * 7


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

    def normalise_lines(self, lines: list[bytes]) -> dict[str, pa.Array] | None:
        """The whole batch column-wise: the same columns and values as ``normalise`` per line."""
        decode = self._decoder.decode
        recs = [decode(line) for line in lines]
        (stamps, event_type, src, dst, src_port, dst_port, proto, app_proto,
         alert, http, fileinfo, dns) = zip(*map(astuple, recs))
        n = len(recs)
        event_type_a = pa.array(event_type, pa.string())
        has_alert = pa.array([a is not None for a in alert], pa.bool_())
        if pc.any(pc.and_(pc.equal(event_type_a, "alert"), pc.invert(has_alert))).as_py():
            return None  # an alert without its `alert` object: the per-line path words the refusal
        stamps_a = pa.array(stamps, pa.string())
        if pc.all(pc.match_substring_regex(stamps_a, _ISO_UTC)).as_py():
            ts = pc.cast(stamps_a, TS_TYPE)
        else:
            ts = pa.array([parse_time(v, "timestamp") for v in stamps], TS_TYPE)
        src_a, dst_a = pa.array(src, pa.string()), pa.array(dst, pa.string())
        private = pa.array([ip for ip in set(src) | set(dst) if ip and is_internal(ip)], pa.string())
        # internal_host(): the private address, source first; else whichever is given.
        host = pc.if_else(pc.is_in(src_a, value_set=private), src_a,
                          pc.if_else(pc.is_in(dst_a, value_set=private), dst_a,
                                     pc.if_else(pc.not_equal(src_a, ""), src_a, dst_a)))
        cols: dict[str, pa.Array] = {
            TS: ts, "event_type": event_type_a, "src_ip": src_a,
            "src_port": pa.array(src_port, pa.int64()).cast(pa.string()), "dst_ip": dst_a,
            "dst_port": pa.array(dst_port, pa.int64()).cast(pa.string()),
            "proto": pa.array(proto, pa.string()), "app_proto": pa.array(app_proto, pa.string()),
            HOST: host, CATEGORY: pa.nulls(n, pa.string()),
        }
        if pc.any(has_alert).as_py():
            sig, sig_id, vcat, sev, action, _gid, _rev = zip(*[_NO_ALERT if a is None else astuple(a) for a in alert])
            sig_a, vcat_a = pa.array(sig, pa.string()), pa.array(vcat, pa.string())
            keys = pc.binary_join_element_wise(sig_a, vcat_a, " | ").dictionary_encode()
            names = pa.array([utm_category(k) for k in keys.dictionary.to_pylist()], pa.string())
            cols[CATEGORY] = pc.take(names, keys.indices)
            cols.update(signature=sig_a, signature_id=pa.array(sig_id, pa.int64()).cast(pa.string()),
                        vendor_category=vcat_a, vendor_severity=pa.array(sev, pa.int64()).cast(pa.string()),
                        action=pa.array(action, pa.string()))
        if http.count(None) != n:
            cols.update(
                url=pa.array([None if h is None else h.url for h in http], pa.string()),
                url_host=pa.array([None if h is None else h.hostname for h in http], pa.string()),
                user_agent=pa.array([None if h is None else h.http_user_agent for h in http], pa.string()),
            )
        if fileinfo.count(None) != n:
            cols.update(
                file_name=pa.array([None if f is None else f.filename for f in fileinfo], pa.string()),
                file_hash=pa.array([None if f is None else f.sha256 for f in fileinfo], pa.string()),
            )
        if dns.count(None) != n:
            cols["query"] = pa.array([None if d is None else as_text(d.get("rrname") or "") for d in dns], pa.string())
        return cols


register(SuricataEve())

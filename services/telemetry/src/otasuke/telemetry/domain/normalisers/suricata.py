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
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import CATEGORY, HOST, TS, as_text, parse_time, register

TS_TYPE = pa.timestamp("us", tz="UTC")
# What Arrow's cast and Python's datetime.fromisoformat read alike; anything else goes through parse_time.
_ISO_UTC = (r"^\d{4}-\d{2}-\d{2}T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?"
            r"(Z|[+-]([01]\d|2[0-3]):?[0-5]\d)$")


# gc=False: decoded records hold no cycles, and a batch of thousands of GC-tracked
# objects would make the collector rescan the whole process heap.
class EveAlert(msgspec.Struct, kw_only=True, gc=False):
    signature: str
    signature_id: int
    category: str = ""
    severity: int = 3
    action: str = "allowed"
    gid: int = 1
    rev: int = 0


class EveHttp(msgspec.Struct, kw_only=True, gc=False):
    hostname: str = ""
    url: str = ""
    http_user_agent: str = ""


class EveFile(msgspec.Struct, kw_only=True, gc=False):
    filename: str = ""
    sha256: str = ""


class EveRecord(msgspec.Struct, kw_only=True, gc=False):
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
        n = len(recs)
        event_type = pa.array([r.event_type for r in recs], pa.string())
        alert_rows = [i for i, r in enumerate(recs) if r.alert is not None]
        expected = pc.sum(pc.equal(event_type, "alert")).as_py() or 0
        if expected and expected > sum(1 for i in alert_rows if recs[i].event_type == "alert"):
            return None  # an alert without its `alert` object: the per-line path words the refusal
        stamps = pa.array([r.timestamp for r in recs], pa.string())
        if pc.all(pc.match_substring_regex(stamps, _ISO_UTC)).as_py():
            ts = pc.cast(stamps, TS_TYPE)
        else:
            ts = pa.array([parse_time(r.timestamp, "timestamp") for r in recs], TS_TYPE)
        src, dst = [r.src_ip for r in recs], [r.dest_ip for r in recs]
        src_a, dst_a = pa.array(src, pa.string()), pa.array(dst, pa.string())
        private = pa.array([ip for ip in set(src) | set(dst) if ip and is_internal(ip)], pa.string())
        # internal_host(): the private address, source first; else whichever is given.
        host = pc.if_else(pc.is_in(src_a, value_set=private), src_a,
                          pc.if_else(pc.is_in(dst_a, value_set=private), dst_a,
                                     pc.if_else(pc.not_equal(src_a, ""), src_a, dst_a)))
        cols: dict[str, pa.Array] = {
            TS: ts, "event_type": event_type, "src_ip": src_a,
            "src_port": pa.array([r.src_port for r in recs], pa.int64()).cast(pa.string()), "dst_ip": dst_a,
            "dst_port": pa.array([r.dest_port for r in recs], pa.int64()).cast(pa.string()),
            "proto": pa.array([r.proto for r in recs], pa.string()),
            "app_proto": pa.array([r.app_proto for r in recs], pa.string()),
            HOST: host, CATEGORY: pa.nulls(n, pa.string()),
        }
        if alert_rows:
            spread = _spreader(alert_rows, n)
            alerts = [recs[i].alert for i in alert_rows]
            sig = pa.array([a.signature for a in alerts], pa.string())
            vcat = pa.array([a.category for a in alerts], pa.string())
            keys = pc.binary_join_element_wise(sig, vcat, " | ").dictionary_encode()
            names = pa.array([utm_category(k) for k in keys.dictionary.to_pylist()], pa.string())
            cols[CATEGORY] = spread(pc.take(names, keys.indices))
            cols.update(
                signature=spread(sig),
                signature_id=spread(pa.array([a.signature_id for a in alerts], pa.int64()).cast(pa.string())),
                vendor_category=spread(vcat),
                vendor_severity=spread(pa.array([a.severity for a in alerts], pa.int64()).cast(pa.string())),
                action=spread(pa.array([a.action for a in alerts], pa.string())),
            )
        http_rows = [i for i, r in enumerate(recs) if r.http is not None]
        if http_rows:
            spread, http = _spreader(http_rows, n), [recs[i].http for i in http_rows]
            cols.update(url=spread(pa.array([h.url for h in http], pa.string())),
                        url_host=spread(pa.array([h.hostname for h in http], pa.string())),
                        user_agent=spread(pa.array([h.http_user_agent for h in http], pa.string())))
        file_rows = [i for i, r in enumerate(recs) if r.fileinfo is not None]
        if file_rows:
            spread, files = _spreader(file_rows, n), [recs[i].fileinfo for i in file_rows]
            cols.update(file_name=spread(pa.array([f.filename for f in files], pa.string())),
                        file_hash=spread(pa.array([f.sha256 for f in files], pa.string())))
        dns_rows = [i for i, r in enumerate(recs) if r.dns is not None]
        if dns_rows:
            cols["query"] = _spreader(dns_rows, n)(
                pa.array([as_text(recs[i].dns.get("rrname") or "") for i in dns_rows], pa.string()))
        return cols


def _spreader(rows: list[int], n: int):
    """Values for some rows → a column of n rows, null elsewhere."""
    idx = np.full(n, -1, dtype=np.int64)
    idx[rows] = np.arange(len(rows), dtype=np.int64)
    take = pa.array(idx, mask=idx < 0)
    return lambda values: values.take(take)


register(SuricataEve())

"""CEF over syslog, the threat-event export of most commercial UTMs.

A line is either the raw syslog text (``<134>Jan 10 10:00:00 utm CEF:0|Vendor|
Product|1.0|100|C&C Callback|8|src=… dst=… act=blocked cat=C&C Callback``) or a
JSON object from a syslog relay with the text in ``message``. The category
comes from ``cat`` (or the event name) mapped onto the report's UTM categories.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import msgspec

from . import CATEGORY, HOST, TS, LineError, parse_time, register
from .suricata import internal_host, utm_category


class RelayedLine(msgspec.Struct):
    message: str
    timestamp: str | None = None


# Keys are word characters; a value runs until the next " key=" (CEF escapes
# '=' inside values as '\='). Hand-written: the few PyPI CEF parsers are
# unmaintained and this is the whole grammar.
_EXT = re.compile(r"(\w+(?:\.\w+)*)=((?:\\=|[^=])*?)(?=\s+\w+(?:\.\w+)*=|\s*$)")
_HEADER_SPLIT = re.compile(r"(?<!\\)\|")

_CEF_TO_FIELD = {
    "src": "src_ip", "dst": "dst_ip", "spt": "src_port", "dpt": "dst_port", "proto": "proto",
    "act": "action", "request": "url", "fname": "file_name", "fileHash": "file_hash",
    "shost": "src_host", "dhost": "dst_host", "suser": "user", "duser": "recipient", "msg": "message",
}


def _unescape(value: str) -> str:
    return value.replace("\\=", "=").replace("\\|", "|").replace("\\n", "\n").replace("\\\\", "\\").strip()


class CefSyslog:
    source = "cef"
    kind = "utm"
    _relay = msgspec.json.Decoder(RelayedLine)

    def normalise(self, line: bytes) -> dict[str, Any]:
        relayed_ts = None
        if line[:1] == b"{":
            rl = self._relay.decode(line)
            text, relayed_ts = rl.message, rl.timestamp
        else:
            text = line.decode("utf-8")
        start = text.find("CEF:")
        if start < 0:
            raise LineError("no `CEF:` header found", "message")
        parts = _HEADER_SPLIT.split(text[start:], maxsplit=7)
        if len(parts) < 8:
            raise LineError(f"a CEF header has 7 '|'-separated fields, found {len(parts) - 1}", "header")
        _, vendor, product, _version, sig_id, name, severity, ext = parts
        fields = {k: _unescape(v) for k, v in _EXT.findall(ext)}
        rec: dict[str, Any] = {
            "vendor": _unescape(vendor), "product": _unescape(product), "signature_id": _unescape(sig_id),
            "signature": _unescape(name), "vendor_severity": _unescape(severity),
            "vendor_category": fields.get("cat", ""),
        }
        for key, value in fields.items():
            rec[_CEF_TO_FIELD.get(key, key)] = value
        for port in ("src_port", "dst_port"):
            if port in rec and not str(rec[port]).isdigit():
                raise LineError(f"port must be a number, got {rec[port]!r}", {"src_port": "spt", "dst_port": "dpt"}[port])
        when = fields.get("rt") or relayed_ts
        rec[TS] = parse_time(when, "rt") if when else datetime.now(UTC)
        rec[HOST] = rec.get("src_host") or internal_host(rec.get("src_ip", ""), rec.get("dst_ip", ""))
        rec[CATEGORY] = utm_category(f"{rec['vendor_category']} | {rec['signature']}")
        return rec


register(CefSyslog())

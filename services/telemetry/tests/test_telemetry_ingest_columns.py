"""The column-wise ingest path gives exactly what the per-line path gives, and refusals still name line and field."""
from __future__ import annotations

import json

import pyarrow as pa
import pytest

from otasuke.telemetry.adapters.arrow_batches import batch_to_table, records_to_table
from otasuke.telemetry.domain.normalisers import BatchRejected, as_text, normalise_batch, split_lines


def eve(i: int, **extra) -> dict:
    return {"timestamp": f"2025-01-10T10:00:{i % 60:02d}.{i:06d}+0900", "event_type": "flow",
            "src_ip": f"192.168.0.{i % 7}", "dest_ip": "198.51.100.7", "src_port": 50000 + i, "dest_port": 443,
            "proto": "TCP", **extra}


VARIED = [
    eve(0),
    eve(1, event_type="alert", alert={"signature": "ET MALWARE Win32/Agent CnC Beacon", "signature_id": 2024897,
                                      "category": "A Network Trojan was detected", "severity": 1, "action": "blocked"}),
    eve(2, event_type="alert", alert={"signature": "ET POLICY LockBit ransom note", "signature_id": 7}),
    eve(3, src_ip="203.0.113.5", dest_ip="10.0.0.9", src_port=None),           # internal host is the destination
    eve(4, src_ip="203.0.113.5", dest_ip="198.51.100.1"),                     # neither internal
    eve(5, src_ip="", dest_ip="198.51.100.1"),
    eve(6, event_type="http", app_proto="http", http={"hostname": "example.jp", "url": "/a?b=1", "http_user_agent": "curl"}),
    eve(7, event_type="fileinfo", fileinfo={"filename": "請求書.exe", "sha256": "ab" * 32}),
    eve(8, event_type="dns", dns={"rrname": "evil.example", "type": "query"}),
    eve(9, event_type="dns", dns={"type": "answer"}),
    eve(10, event_type="dns", dns={"rrname": 12345}),
    eve(11, timestamp="2025-01-10T01:00:00Z"),
    eve(12, timestamp="2025-01-10T01:00:00"),                                  # no zone: read as UTC
    eve(13, timestamp="1736470800"),                                           # epoch seconds
    eve(14, event_type="alert", alert={"signature": "Suspicious object found", "signature_id": 3, "category": "ioc"}),
]


def body_of(records: list[dict]) -> bytes:
    return ("\n\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n").encode()


def as_rows(table: pa.Table) -> dict:
    return {name: table.column(name).to_pylist() for name in sorted(table.column_names)}


@pytest.mark.parametrize("records", [VARIED, VARIED[:1], [eve(i) for i in range(50)], list(reversed(VARIED))])
def test_column_path_equals_line_path(records):
    body = body_of(records)
    fast = normalise_batch("suricata", body, "utm-01")
    slow = normalise_batch("suricata", split_lines(body), "utm-01")
    assert fast.columns is not None and slow.records is not None
    assert fast.raw_lines == slow.raw_lines and fast.first_host == slow.first_host
    assert as_rows(batch_to_table(fast)) == as_rows(batch_to_table(slow))


def test_refusals_name_line_and_field_on_the_column_path():
    records = [eve(i) for i in range(5)]
    records[3]["alert"] = {"signature": "x", "signature_id": "not-a-number"}
    with pytest.raises(BatchRejected) as exc:
        normalise_batch("suricata", body_of(records), "utm-01")
    assert (exc.value.line, exc.value.field) == (7, "alert.signature_id")  # blank lines count as lines
    records = [eve(0), eve(1, event_type="alert")]
    with pytest.raises(BatchRejected) as exc:
        normalise_batch("suricata", body_of(records), "utm-01")
    assert (exc.value.line, exc.value.field) == (3, "alert")
    records = [eve(0), eve(1, timestamp="yesterday")]
    with pytest.raises(BatchRejected) as exc:
        normalise_batch("suricata", body_of(records), "utm-01")
    assert (exc.value.line, exc.value.field) == (3, "timestamp")
    # Two objects on one line are two lines to nobody: refused, not silently split.
    with pytest.raises(BatchRejected) as exc:
        normalise_batch("suricata", json.dumps(eve(0)).encode() + b" " + json.dumps(eve(1)).encode(), "utm-01")
    assert exc.value.line == 1


def test_record_columns_keep_the_text_sigma_compares():
    records = [{"EventID": 1, "Flag": True, "Ratio": 1.5, "Data": {"a": [1, 2]}, "Big": 2**70, "Mixed": 1},
               {"EventID": 4688, "Flag": False, "Ratio": 2, "Data": None, "Big": 1, "Mixed": "x"}]
    table = records_to_table(records)
    assert as_rows(table) == {k: [as_text(r.get(k)) for r in records] for k in sorted(records[0])}


def sysmon(i: int, **extra) -> dict:
    return {"EventID": [1, 3, 11, 13, 99][i % 5], "Channel": "Microsoft-Windows-Sysmon/Operational",
            "Computer": f"PC-{i % 3:02d}", "UtcTime": f"2025-01-10 10:00:{i % 60:02d}.{i:03d}", "ProcessId": 4000 + i,
            "Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": f"cmd.exe /c echo {i}", **extra}


def evtx(i: int) -> dict:
    return {"Event": {"System": {"Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon", "Guid": "{5770}"}},
                                 "EventID": 13, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "PC-09",
                                 "TimeCreated": {"#attributes": {"SystemTime": f"2019-03-19T23:40:{i % 60:02d}.4387600Z"}},
                                 "Execution": {"#attributes": {"ProcessID": 2200, "ThreadID": 3000}}},
                      "EventData": {"TargetObject": "HKU\\S-1-5-21\\Software\\Run\\x", "Details": "DWORD (0x00000001)"}}}


WINDOWS = [
    sysmon(0), sysmon(1), sysmon(2, Ratio=1.5), sysmon(3, Flags={"a": [1, 2]}), sysmon(4, Elevated=True),
    evtx(5),
    {"EventID": 4688, "Channel": "Security", "Hostname": "PC-07", "NewProcessName": "C:\\x\\mimikatz.exe",
     "@timestamp": "2025-01-10T01:00:00+09:00"},
    {"EventID": 4104, "Computer": "", "host": "PC-08"},                     # no time: received now
    sysmon(8, Channel=None, UtcTime="2025-01-10T10:00:00.1234567"),        # 7 digits: read by Python
]


MIXED = [*WINDOWS, sysmon(9, EventID="4688"), sysmon(10, Computer=7)]


@pytest.mark.parametrize("source", ["windows", "sysmon", "security"])
@pytest.mark.parametrize("records", [WINDOWS[:5], WINDOWS[:7], WINDOWS, [sysmon(i) for i in range(40)], MIXED])
def test_windows_column_path_equals_line_path(source, records):
    body = body_of(records)
    fast = normalise_batch(source, body, "pc-01")
    slow = normalise_batch(source, split_lines(body), "pc-01")
    # A field with mixed types (EventID 1 and "4688") is left to the per-line path.
    assert (fast.columns is None) == (records is MIXED)
    a, b = as_rows(batch_to_table(fast)), as_rows(batch_to_table(slow))
    now_rows = [i for i, r in enumerate(records) if not any(k in r for k in ("UtcTime", "@timestamp", "Event"))]
    for i in now_rows:  # "now" is a moment later on the second path
        assert abs((a["otasuke_ts"][i] - b["otasuke_ts"][i]).total_seconds()) < 60
        a["otasuke_ts"][i] = b["otasuke_ts"][i]
    assert a == b


def test_windows_refusals_name_line_and_field_on_the_column_path():
    for bad, field in (({"Channel": "Security", "Computer": "PC"}, "EventID"),
                       ({"EventID": "x", "Computer": "PC"}, "EventID"),
                       ({"EventID": 1, "Channel": "Security"}, "Computer"),
                       ({"EventID": 1, "Computer": "PC", "UtcTime": "soon"}, "UtcTime")):
        with pytest.raises(BatchRejected) as exc:
            normalise_batch("windows", body_of([sysmon(0), bad, sysmon(1)]), "pc-01")
        assert (exc.value.line, exc.value.field) == (3, field)

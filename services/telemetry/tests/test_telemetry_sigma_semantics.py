"""Sigma semantics of the detection core on small hand-written rules and events."""
from __future__ import annotations

import base64
import json

from otasuke.telemetry.detection import Engine, RuleSet, events_to_table, flatten_evtx_record

SYSMON = "Microsoft-Windows-Sysmon/Operational"


def rule(rid: str, detection: str, logsource: str = "    category: process_creation\n    product: windows") -> str:
    return f"title: {rid}\nid: {rid}\nlogsource:\n{logsource}\ndetection:\n{detection}\nlevel: high\n"


def proc(**fields) -> dict:
    return {"EventID": 1, "Channel": SYSMON, **fields}


def matched(rules_yaml: list[str], events: list[dict]) -> set[tuple[str, int]]:
    rs = RuleSet.from_yaml(*rules_yaml)
    assert rs.skipped == []
    return {(m.rule_id, m.row) for m in Engine(rs).evaluate(events_to_table(events))}


def test_string_modifiers_are_case_insensitive_and_anchored():
    rules = [
        rule("11111111-0000-0000-0000-000000000001", "    sel:\n        Image|endswith: '\\CMD.exe'\n    condition: sel"),
        rule("11111111-0000-0000-0000-000000000002", "    sel:\n        CommandLine|startswith: 'whoami'\n    condition: sel"),
        rule("11111111-0000-0000-0000-000000000003", "    sel:\n        CommandLine|contains|all:\n            - ' /c '\n            - 'vssadmin'\n    condition: sel"),
        rule("11111111-0000-0000-0000-000000000004", "    sel:\n        Image: 'C:\\Windows\\Sys*\\rundll32.exe'\n    condition: sel"),
    ]
    events = [
        proc(Image="C:\\Windows\\System32\\cmd.exe", CommandLine="cmd.exe /c VSSADMIN delete shadows"),
        proc(Image="C:\\Windows\\SysWOW64\\rundll32.exe", CommandLine="WHOAMI /all"),
        proc(Image="C:\\tools\\notcmd.exe.bak", CommandLine="x whoami"),
    ]
    assert matched(rules, events) == {
        ("11111111-0000-0000-0000-000000000001", 0),
        ("11111111-0000-0000-0000-000000000003", 0),
        ("11111111-0000-0000-0000-000000000002", 1),
        ("11111111-0000-0000-0000-000000000004", 1),
    }


def test_conditions_not_one_of_all_of_and_absent_fields():
    rules = [
        rule(
            "22222222-0000-0000-0000-000000000001",
            "    sel_img:\n        Image|endswith: '\\powershell.exe'\n    sel_cli:\n        CommandLine|contains: '-enc'\n"
            "    filter:\n        ParentImage|endswith: '\\trusted.exe'\n    condition: all of sel_* and not filter",
        ),
        rule(
            "22222222-0000-0000-0000-000000000002",
            "    sel_a:\n        CommandLine|contains: 'mimikatz'\n    sel_b:\n        CommandLine|contains: 'sekurlsa'\n    condition: 1 of sel_*",
        ),
    ]
    events = [
        proc(Image="C:\\x\\powershell.exe", CommandLine="powershell -enc AAAA"),  # no ParentImage: filter is false
        proc(Image="C:\\x\\powershell.exe", CommandLine="powershell -enc AAAA", ParentImage="C:\\trusted.exe"),
        proc(Image="C:\\x\\powershell.exe", CommandLine="sekurlsa::logonpasswords"),
    ]
    assert matched(rules, events) == {("22222222-0000-0000-0000-000000000001", 0), ("22222222-0000-0000-0000-000000000002", 2)}


def test_null_exists_numeric_cidr_regex_and_fieldref():
    ns = "    product: windows\n    category: network_connection"
    rules = [
        rule("33333333-0000-0000-0000-000000000001", "    sel:\n        DestinationIp|cidr: '10.0.0.0/8'\n    condition: sel", ns),
        rule("33333333-0000-0000-0000-000000000002", "    sel:\n        DestinationPort|gte: 4444\n        DestinationPort|lt: 5000\n    condition: sel", ns),
        rule("33333333-0000-0000-0000-000000000003", "    sel:\n        DestinationHostname: null\n        User|exists: true\n    condition: sel", ns),
        rule("33333333-0000-0000-0000-000000000004", "    sel:\n        Image|re: '(?i)\\\\TEMP\\\\[a-z]{3}\\.exe$'\n    condition: sel", ns),
        rule("33333333-0000-0000-0000-000000000005", "    sel:\n        SourceIp|fieldref: DestinationIp\n    condition: sel", ns),
        rule("33333333-0000-0000-0000-000000000006", "    sel:\n        Image|re: '\\\\TEMP\\\\'\n    condition: sel", ns),
    ]
    net = {"EventID": 3, "Channel": SYSMON}
    events = [
        {**net, "DestinationIp": "10.1.2.3", "DestinationPort": 4444, "User": "a", "Image": "C:\\temp\\abc.exe", "SourceIp": "10.1.2.3"},
        {**net, "DestinationIp": "192.168.1.1", "DestinationPort": 5000, "DestinationHostname": "x", "Image": "C:\\Temp\\abcd.exe"},
        {"EventID": 3, "Channel": "Security", "DestinationIp": "10.9.9.9"},  # wrong log source
    ]
    got = matched(rules, events)
    assert got == {
        ("33333333-0000-0000-0000-000000000001", 0),
        ("33333333-0000-0000-0000-000000000002", 0),
        ("33333333-0000-0000-0000-000000000003", 0),
        ("33333333-0000-0000-0000-000000000004", 0),
        ("33333333-0000-0000-0000-000000000005", 0),
    }  # |re is case-sensitive unless (?i)/|i: rule 6 matches neither spelling


def test_base64offset_windash_keywords_and_security_service():
    rules = [
        rule("44444444-0000-0000-0000-000000000001", "    sel:\n        CommandLine|base64offset|contains: 'IEX ('\n    condition: sel"),
        rule("44444444-0000-0000-0000-000000000002", "    sel:\n        CommandLine|windash|contains: ' -exec bypass'\n    condition: sel"),
        rule("44444444-0000-0000-0000-000000000003", "    keywords:\n        - 'dpapi::masterkey'\n    condition: keywords", "    product: windows"),
        rule("44444444-0000-0000-0000-000000000004", "    sel:\n        EventID: 4624\n        LogonType: 10\n    condition: sel", "    product: windows\n    service: security"),
    ]
    encoded = base64.b64encode(b"xIEX (New-Object Net.WebClient)").decode()
    events = [
        proc(CommandLine=f"powershell -e {encoded}"),
        proc(CommandLine="powershell /exec bypass -f a.ps1"),
        {"EventID": 4104, "Channel": "Microsoft-Windows-PowerShell/Operational", "ScriptBlockText": "Invoke-Mimikatz dpapi::masterkey /in:x"},
        {"EventID": 4624, "Channel": "security", "LogonType": "10"},
        {"EventID": 4624, "Channel": "System", "LogonType": "10"},
    ]
    assert matched(rules, events) == {
        ("44444444-0000-0000-0000-000000000001", 0),
        ("44444444-0000-0000-0000-000000000002", 1),
        ("44444444-0000-0000-0000-000000000003", 2),
        ("44444444-0000-0000-0000-000000000004", 3),
    }


def test_unloadable_rules_are_listed_with_a_reason_and_the_rest_loads():
    good = rule("55555555-0000-0000-0000-000000000001", "    sel:\n        Image|endswith: '\\a.exe'\n    condition: sel")
    bad = rule("55555555-0000-0000-0000-000000000002", "    sel:\n        Image|nosuchmodifier: 'x'\n    condition: sel")
    rs = RuleSet.from_yaml(good, bad, "title: [unclosed")
    assert [r.meta.id for r in rs.rules] == ["55555555-0000-0000-0000-000000000001"]
    assert len(rs.skipped) == 2 and all(reason for _, reason in rs.skipped)


def test_flatten_evtx_record_lifts_system_and_event_data():
    record = {"Event": {"System": {"EventID": 1, "Channel": SYSMON, "Computer": "pc1", "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}},
                                   "TimeCreated": {"#attributes": {"SystemTime": "2024-01-01T00:00:00Z"}}},
                        "EventData": {"Image": "C:\\a.exe", "CommandLine": "a"}}}
    flat = flatten_evtx_record(record)
    assert flat["EventID"] == 1 and flat["Channel"] == SYSMON and flat["Computer"] == "pc1"
    assert flat["Image"] == "C:\\a.exe" and flat["Provider_Name"] == "Microsoft-Windows-Sysmon"
    table = events_to_table([flat, {"Other": True}])
    assert table.column("Image").to_pylist() == ["C:\\a.exe", None]
    assert table.column("Other").to_pylist() == [None, "true"]


CORR = """
title: Many failed logons
id: 66666666-0000-0000-0000-000000000001
name: failed_logon
logsource:
    product: windows
    service: security
detection:
    sel:
        EventID: 4625
    condition: sel
level: low
---
title: Brute force
id: 66666666-0000-0000-0000-000000000002
correlation:
    type: event_count
    rules:
        - failed_logon
    group-by:
        - TargetUserName
    timespan: 5m
    condition:
        gte: 3
level: high
"""


def _failed(user: str, t: str) -> dict:
    return {"EventID": 4625, "Channel": "Security", "TargetUserName": user, "UtcTime": t}


def test_event_count_correlation_fires_once_per_burst_and_survives_restart():
    rs = RuleSet.from_yaml(CORR)
    assert rs.skipped == [] and len(rs.correlations) == 1
    engine = Engine(rs)
    first = events_to_table([_failed("alice", "2024-01-01 10:00:00"), _failed("alice", "2024-01-01 10:01:00"), _failed("bob", "2024-01-01 10:01:00")])
    assert engine.correlate(engine.evaluate(first), first) == []
    state = json.loads(json.dumps(engine.correlation_state()))  # as a service would persist it

    restarted = Engine(RuleSet.from_yaml(CORR), state=state)
    second = events_to_table([_failed("alice", "2024-01-01 10:02:00"), _failed("alice", "2024-01-01 10:20:00")])
    fired = restarted.correlate(restarted.evaluate(second), second)
    assert [(c.rule_id, c.group, c.count, c.rows) for c in fired] == [
        ("66666666-0000-0000-0000-000000000002", {"TargetUserName": "alice"}, 3, (0,))
    ]
    assert fired[0].rule.title == "Brute force"


def test_long_distinct_values_and_literals_never_match_across_two_events():
    # 600 events with long, all-different command lines are read row by row (not
    # dictionary-encoded); the short Image values are encoded. Both must give the same
    # answers, and a literal must never be found across the boundary of two events.
    rules = [
        rule("33333333-0000-0000-0000-000000000001", "    sel:\n        CommandLine|contains: 'Invoke-Mimikatz'\n    condition: sel"),
        rule("33333333-0000-0000-0000-000000000002", "    sel:\n        CommandLine|startswith: 'powershell -nop'\n    condition: sel"),
        rule("33333333-0000-0000-0000-000000000003", "    sel:\n        CommandLine|endswith: 'ENDMARK'\n    condition: sel"),
        rule("33333333-0000-0000-0000-000000000004", "    sel:\n        CommandLine|re: 'token=[0-9]{3}7\\b'\n    condition: sel"),
        rule("33333333-0000-0000-0000-000000000005", "    sel:\n        Image|endswith: '\\evil.exe'\n    condition: sel"),
        rule("33333333-0000-0000-0000-000000000006", "    sel:\n        CommandLine|contains: 'ENDMARKcmd /c'\n    condition: sel"),
        rule("33333333-0000-0000-0000-000000000007", "    keywords:\n        - 'sekurlsa::logonpasswords'\n    condition: keywords", "    product: windows"),
    ]
    events = []
    for i in range(600):
        cmd = f"cmd /c powershell -NoP -w hidden token={i:04d} " + "x" * 300
        if i == 10:
            cmd = "POWERSHELL -NOP " + cmd + " invoke-MIMIKATZ"
        if i == 20:
            cmd += " endmark"
        if i == 30:
            cmd += " sekurlsa::LogonPasswords"
        events.append(proc(Image="C:\\x\\evil.exe" if i == 40 else "C:\\Windows\\System32\\cmd.exe", CommandLine=cmd))
    got = matched(rules, events)
    assert {r for r in got if r[0].endswith("1")} == {("33333333-0000-0000-0000-000000000001", 10)}
    assert {r for r in got if r[0].endswith("2")} == {("33333333-0000-0000-0000-000000000002", 10)}
    assert {r for r in got if r[0].endswith("3")} == {("33333333-0000-0000-0000-000000000003", 20)}
    assert {r for r in got if r[0].endswith("4")} == {("33333333-0000-0000-0000-000000000004", i) for i in range(7, 600, 10)}
    assert {r for r in got if r[0].endswith("5")} == {("33333333-0000-0000-0000-000000000005", 40)}
    assert not {r for r in got if r[0].endswith("6")}  # "…endmark" + the next event's "cmd /c…"
    assert {r for r in got if r[0].endswith("7")} == {("33333333-0000-0000-0000-000000000007", 30)}

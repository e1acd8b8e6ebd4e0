"""Ingest: every format accepted, bad batches refused with line and field, redelivery not counted twice."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import nats
import pyarrow.parquet as pq

from otasuke.telemetry.adapters.parquet_archive import read_archive


CEF_LINE = ("<134>Jan 10 10:00:00 utm01 CEF:0|Trend Micro|CloudEdge|5.6|1001|Ransomware blocked|9|"
            "src=192.168.10.7 dst=198.51.100.4 spt=50000 dpt=80 act=blocked cat=Ransomware fname=invoice.exe "
            "rt=1704848400000")


async def test_each_format_is_accepted_archived_and_detected(telemetry):
    utm = await telemetry.device("utm-01", "utm")
    edr = await telemetry.device("pc-01", "edr")
    r = await telemetry.send("suricata", utm, telemetry.suricata_c2(3))
    assert r.status_code == 202, r.text
    assert r.json()["events"] == 3
    r = await telemetry.send("cef", utm, [CEF_LINE, json.dumps({"message": CEF_LINE.replace("1001", "1002")})])
    assert r.status_code == 202, r.text
    flat = telemetry.sysmon_process("C:\\Windows\\System32\\vssadmin.exe", "vssadmin.exe delete shadows /all /quiet",
                          "C:\\Windows\\System32\\cmd.exe")
    nested = {"Event": {"System": {"Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}}, "EventID": 13,
                                   "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "PC-01",
                                   "TimeCreated": {"#attributes": {"SystemTime": datetime.now(UTC).isoformat()}}},
                        "EventData": {"TargetObject": "HKU\\S-1-5-21\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\updater",
                                      "Details": "C:\\Users\\taro\\AppData\\Local\\Temp\\upd.exe",
                                      "Image": "C:\\Users\\taro\\AppData\\Local\\Temp\\upd.exe", "EventType": "SetValue"}}}
    r = await telemetry.send("windows", edr, [flat, nested], gzip=True)
    assert r.status_code == 202, r.text
    security = {"EventID": 4688, "Channel": "Security", "Computer": "PC-01", "NewProcessName": "C:\\x\\mimikatz.exe",
                "CommandLine": "mimikatz.exe privilege::debug sekurlsa::logonpasswords", "ParentProcessName": "C:\\x\\cmd.exe",
                "@timestamp": datetime.now(UTC).isoformat()}
    r = await telemetry.send("security", edr, [security])
    assert r.status_code == 202, r.text

    alerts = await telemetry.wait_alerts(lambda a: len({x["category"] for x in a}) >= 5)
    by_cat = {a["category"]: a for a in alerts}
    assert by_cat["c2_callback"]["category_ja"] == "C&C コールバック"
    assert by_cat["c2_callback"]["count"] == 3
    assert by_cat["ransomware"]["severity"] == "critical"
    assert "command_execution" in by_cat and "resident_program" in by_cat and "tool_execution" in by_cat
    assert all(a["title_ja"] and a["action_ja"] for a in alerts)

    archive = read_archive(telemetry.runtime.settings.data_dir, "p1", "acme")
    assert archive.num_rows == 3 + 2 + 2 + 1
    assert set(archive.column("source").to_pylist()) == {"suricata", "cef", "windows", "security"}


async def test_bad_batch_names_line_and_field_and_neighbours_are_kept(telemetry):
    utm = await telemetry.device("utm-01", "utm")
    good = telemetry.suricata_c2(2)
    bad = telemetry.suricata_c2(3)
    bad[1]["alert"]["signature_id"] = "not-a-number"
    assert (await telemetry.send("suricata", utm, good, batch_id="b1")).status_code == 202
    r = await telemetry.send("suricata", utm, bad, batch_id="b2")
    assert r.status_code == 422
    body = r.json()
    assert body["line"] == 2 and body["field"] == "alert.signature_id"
    assert "line 2" in body["detail"] and "nothing was stored" in body["detail"]
    r = await telemetry.send("windows", utm, [{"Channel": "Security", "Computer": "PC"}])
    assert r.status_code == 422 and r.json()["field"] == "EventID"
    assert (await telemetry.send("suricata", utm, telemetry.suricata_c2(4), batch_id="b3")).status_code == 202

    await telemetry.settle()
    [alert] = await telemetry.alerts()
    assert alert["count"] == 6  # 2 + 4: nothing from the refused batch
    archive = read_archive(telemetry.runtime.settings.data_dir, "p1", "acme")
    assert sorted(set(archive.column("batch_id").to_pylist())) == ["b1", "b3"]
    devices = (await telemetry.client.get("/api/v1/devices", headers=telemetry.company_headers())).json()
    assert "line 1" in devices[0]["last_rejection"]


async def test_redelivered_batch_is_not_counted_twice(telemetry):
    utm = await telemetry.device("utm-01", "utm")
    events = telemetry.suricata_c2(50)
    first = await telemetry.send("suricata", utm, events, batch_id="batch-42")
    again = await telemetry.send("suricata", utm, events, batch_id="batch-42")
    assert first.status_code == 202 and again.status_code == 200 and again.json()["duplicate"] is True
    # Without a batch id the content hash identifies the batch.
    assert (await telemetry.send("suricata", utm, events[:10])).status_code == 202
    assert (await telemetry.send("suricata", utm, events[:10])).json()["duplicate"] is True
    await telemetry.settle()
    [alert] = await telemetry.alerts()
    assert alert["count"] == 60
    files = list(telemetry.runtime.settings.data_dir.rglob("*.parquet"))
    assert len(files) == 2 and sum(pq.read_metadata(f).num_rows for f in files) == 60


async def test_device_publishes_over_nats_with_its_token(telemetry, nats_url):
    token = await telemetry.device("utm-nats", "utm")
    nc = await nats.connect(nats_url)
    try:
        body = "\n".join(json.dumps(e) for e in telemetry.suricata_c2(5, src="192.168.20.9")).encode()
        subject = f"ingest.{telemetry.A[0]}.{telemetry.A[1]}.suricata.utm-nats"
        batch = str(uuid.uuid4())
        for _ in range(2):  # a redelivered publish is dropped by the stream
            await nc.jetstream().publish(subject, body, headers={"Nats-Msg-Id": batch, "Otasuke-Device-Token": token})
        # A forged message (no token) for the same subject is refused.
        await nc.jetstream().publish(subject, body, headers={"Nats-Msg-Id": "forged"})
    finally:
        await nc.close()
    alerts = await telemetry.wait_alerts(lambda a: a and a[0]["count"] >= 5)
    await telemetry.settle()
    alerts = await telemetry.alerts()
    assert [a["count"] for a in alerts] == [5] and alerts[0]["host"] == "192.168.20.9"

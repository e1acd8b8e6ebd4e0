"""Learning period, monthly report (HTML and PDF, in Japanese), and state that survives a restart."""
from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from pypdf import PdfReader

AGENT = "C:\\Program Files\\Agent\\agent.exe"
PS = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
WORD = "C:\\Program Files\\Microsoft Office\\WINWORD.EXE"
CMD = "C:\\Windows\\System32\\cmd.exe"


async def test_learning_period_records_quietly_then_baseline_adjusts_severity(telemetry):
    edr = await telemetry.device("pc-01", "edr", learning_days=30)
    now = datetime.now(UTC)
    sp = telemetry.sysmon_process
    learning = [sp(PS, f"powershell.exe -enc SQBFAFgA{i}", AGENT, at=now + timedelta(seconds=i)) for i in range(5)]
    assert (await telemetry.send("windows", edr, learning)).status_code == 202
    [quiet] = await telemetry.wait_alerts(lambda a: len(a) == 1)
    assert quiet["in_learning_period"] is True and quiet["severity"] == "medium"
    assert await telemetry.alerts(include_learning="false") == []
    devices = (await telemetry.client.get("/api/v1/devices", headers=telemetry.company_headers())).json()
    assert devices[0]["in_learning_period"] is True
    await telemetry.settle()
    pairs = await telemetry.runtime.pool.fetchval(
        "SELECT count FROM baseline WHERE device_id='pc-01' AND item_type='pair' AND item='agent.exe>powershell.exe'")
    assert pairs == 5

    after = now + timedelta(days=31)
    await telemetry.send("windows", edr, [
        sp(PS, "powershell.exe -enc SQBFAFgA9", AGENT, at=after),          # what the agent always does
        sp(CMD, "cmd.exe /c whoami", WORD, at=after + timedelta(seconds=1)),  # never seen: Word starting a shell
    ])
    alerts = await telemetry.wait_alerts(lambda a: len([x for x in a if not x["in_learning_period"]]) == 2,
                                         include_learning="false")
    by_rule = {a["rule_title"]: a for a in alerts}
    known = by_rule["PowerShell started with a hidden (encoded) command"]
    rare = by_rule["Office document started a command shell"]
    assert (known["baseline"], known["rule_severity"], known["severity"]) == ("known", "medium", "low")
    assert (rare["baseline"], rare["rule_severity"], rare["severity"]) == ("rare", "high", "critical")


async def test_monthly_report_in_japanese_as_html_and_pdf(telemetry):
    utm = await telemetry.device("utm-01", "utm")
    edr = await telemetry.device("pc-01", "edr")
    await telemetry.send("suricata", utm, telemetry.suricata_c2(150))
    await telemetry.send("windows", edr, [telemetry.sysmon_process(
        "C:\\Windows\\System32\\vssadmin.exe", "vssadmin delete shadows /all /quiet", CMD)])
    await telemetry.wait_alerts(lambda a: len(a) >= 3)
    await telemetry.settle()
    month = datetime.now(UTC).strftime("%Y-%m")
    base = f"/api/v1/companies/acme/reports/{month}"
    h = telemetry.company_headers()
    data = (await telemetry.client.get(base, headers=h)).json()
    c2 = next(r for r in data["utm"] if r["key"] == "c2_callback")
    assert c2["label"] == "C&C コールバック" and c2["counts"][-1] >= 150
    assert len(data["months"]) == 4 and any("重要な検知" in s for s in data["summary_ja"])
    html = (await telemetry.client.get(base + "/html", headers=h)).text
    for text in ("月次報告", "株式会社アクメ製作所", "C&amp;C コールバック", "不審なコマンド実行", "何が起きたか",
                 "お願いしたいこと", "監視している機器", "data:image/png;base64"):
        assert text in html, text
    r = await telemetry.client.get(base + "/pdf", headers=h)
    assert r.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
    assert "月次報告" in text and "C&C" in text


async def test_restart_keeps_grouping_and_monitoring_state(telemetry):
    utm = await telemetry.device("utm-01", "utm")
    start = datetime.now(UTC)
    await telemetry.send("suricata", utm, telemetry.suricata_c2(10, start=start))
    await telemetry.wait_alerts(lambda a: len(a) == 1)
    await telemetry.settle()
    restarted = await telemetry.restart()
    await restarted.send("suricata", utm, telemetry.suricata_c2(7, start=start + timedelta(seconds=30)))
    await restarted.settle()
    alerts = await restarted.alerts()
    assert [a["count"] for a in alerts] == [17]  # grouped into the alert raised before the restart
    monitored = await restarted.runtime.pool.fetch("SELECT service FROM monitoring WHERE company_id='acme' AND active")
    assert sorted(r["service"] for r in monitored) == ["edr", "utm"]


async def test_restart_keeps_the_burst_window_of_each_company(telemetry):
    """60 callbacks before a restart and 50 after are one burst of more than 100 in the hour."""
    utm = await telemetry.device("utm-01", "utm")
    start = datetime.now(UTC)
    await telemetry.send("suricata", utm, telemetry.suricata_c2(60, start=start))
    await telemetry.settle()
    restarted = await telemetry.restart()
    await restarted.send("suricata", utm, telemetry.suricata_c2(50, start=start + timedelta(seconds=60)))
    await restarted.settle()
    alerts = await restarted.alerts()
    assert any(a["severity"] == "critical" for a in alerts), alerts

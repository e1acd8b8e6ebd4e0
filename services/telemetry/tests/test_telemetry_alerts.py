"""Alerts: thousands of repeats are one alert, life cycle, allow-list with expiry, tenant isolation."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

C2_RULE = "f9985bf5-0dee-5c98-b36a-1a4296925187"


async def test_thousands_of_c2_callbacks_from_one_xp_machine_are_one_alert(telemetry):
    utm = await telemetry.device("utm-01", "utm")
    start = datetime.now(UTC)
    for i in range(3):
        r = await telemetry.send("suricata", utm, telemetry.suricata_c2(1000, start=start + timedelta(seconds=1000 * i)))
        assert r.status_code == 202
    await telemetry.settle()
    alerts = await telemetry.alerts()
    base = [a for a in alerts if a["rule_id"] == C2_RULE]
    assert len(base) == 1 and base[0]["count"] == 3000
    # The burst correlation (>100 callbacks in an hour) adds one critical alert, also grouped.
    burst = [a for a in alerts if a["rule_id"] != C2_RULE]
    assert len(burst) == 1 and burst[0]["severity"] == "critical"
    detail = (await telemetry.client.get(f"/api/v1/alerts/{base[0]['alert_id']}", headers=telemetry.company_headers())).json()
    assert detail["evidence"][0]["dst_ip"] == "203.0.113.9"
    events = [r.envelope.type async for r in telemetry.store.read("TELEMETRY", "telemetry.p1.acme.alert.>")]
    assert events.count("telemetry.alert_raised") == 2 and "telemetry.alert_grouped" in events


async def test_acknowledge_escalate_resolve_with_reason(telemetry):
    utm = await telemetry.device("utm-01", "utm")
    await telemetry.send("suricata", utm, telemetry.suricata_c2(2))
    [alert] = await telemetry.wait_alerts(lambda a: len(a) == 1)
    url = f"/api/v1/alerts/{alert['alert_id']}"
    h = telemetry.company_headers()
    assert (await telemetry.client.post(url + "/acknowledge", headers=h)).json()["status"] == "acknowledged"
    r = await telemetry.client.post(url + "/escalate", headers=telemetry.operator_headers(), json={"reason": "XP 端末の入れ替え相談"})
    assert r.json()["status"] == "escalated"
    r = await telemetry.client.post(url + "/resolve", headers=h, json={"reason": ""})
    assert r.status_code == 422 and "reason" in r.text
    r = await telemetry.client.post(url + "/resolve", headers=h, json={"reason": "端末を買い替えました"})
    body = r.json()
    assert body["status"] == "resolved" and body["resolution"] == "端末を買い替えました"
    assert [x["action"] for x in body["history"]] == ["raised", "acknowledged", "escalated", "resolved"]
    # After resolution a new callback opens a new alert instead of hiding in the closed one.
    await telemetry.send("suricata", utm, telemetry.suricata_c2(1, start=datetime.now(UTC) + timedelta(minutes=5)))
    alerts = await telemetry.wait_alerts(lambda a: len(a) == 2)
    assert {a["status"] for a in alerts} == {"open", "resolved"}


async def test_allow_list_entry_suppresses_until_it_expires(telemetry):
    utm = await telemetry.device("utm-01", "utm")
    expires = datetime.now(UTC) + timedelta(hours=1)
    r = await telemetry.client.post("/api/v1/companies/acme/allowlist", headers=telemetry.company_headers(), json={
        "value": "203.0.113.0/24", "reason": "業務で使う取引先のシステム", "requested_by": "総務 山田",
        "expires_at": expires.isoformat()})
    assert r.status_code == 201, r.text
    assert r.json()["active"] and "山田" in r.json()["added_by"]
    bad = await telemetry.client.post("/api/v1/companies/acme/allowlist", headers=telemetry.company_headers(),
                                      json={"value": "not an ip!", "reason": "x"})
    assert bad.status_code == 422
    await telemetry.send("suricata", utm, telemetry.suricata_c2(20))  # before expiry: excluded
    await telemetry.settle()
    assert await telemetry.alerts() == []
    await telemetry.send("suricata", utm, telemetry.suricata_c2(5, start=expires + timedelta(minutes=1)))
    [alert] = await telemetry.wait_alerts(lambda a: len(a) == 1)
    assert alert["count"] == 5


async def test_tenants_never_see_each_other(telemetry):
    utm = await telemetry.device("utm-01", "utm")
    await telemetry.send("suricata", utm, telemetry.suricata_c2(2))
    [alert] = await telemetry.wait_alerts(lambda a: len(a) == 1)
    other_company = telemetry.company_headers(telemetry.B)
    other_partner = telemetry.operator_headers("p2")
    for h in (other_company, other_partner):
        assert (await telemetry.client.get(f"/api/v1/alerts/{alert['alert_id']}", headers=h)).status_code == 404
        assert (await telemetry.client.post(f"/api/v1/alerts/{alert['alert_id']}/acknowledge", headers=h)).status_code == 404
        assert (await telemetry.client.get("/api/v1/alerts", headers=h)).json() == []
        assert (await telemetry.client.get("/api/v1/devices", headers=h)).json() == []
        assert (await telemetry.client.get("/api/v1/companies/acme/allowlist", headers=h)).status_code == 404
        assert (await telemetry.client.get("/api/v1/companies/acme/reports/2025-01/html", headers=h)).status_code == 404
    # A device token cannot read alerts, and a company admin cannot ingest.
    assert (await telemetry.client.get(f"/api/v1/alerts/{alert['alert_id']}", headers={"Authorization": f"Bearer {utm}"})).status_code == 403
    r = await telemetry.client.post("/api/v1/ingest/suricata", headers=telemetry.company_headers(), content=b"{}")
    assert r.status_code == 403


async def test_burst_windows_are_per_company_even_for_the_same_private_address(telemetry):
    """Two companies' 192.168.10.5 are different machines: 60 + 60 callbacks are no burst of 120."""
    utm_a = await telemetry.device("utm-a", "utm")
    utm_b = await telemetry.device("utm-b", "utm", tenant=telemetry.B)
    start = datetime.now(UTC)
    for i in range(2):
        for token in (utm_a, utm_b):
            r = await telemetry.send("suricata", token, telemetry.suricata_c2(30, start=start + timedelta(seconds=30 * i)))
            assert r.status_code == 202
    await telemetry.settle()
    for tenant in (telemetry.A, telemetry.B):
        alerts = await telemetry.alerts(tenant)
        assert [(a["rule_id"], a["count"]) for a in alerts] == [(C2_RULE, 60)]
    # One more company-A batch crosses the threshold for company A only.
    await telemetry.send("suricata", utm_a, telemetry.suricata_c2(50, start=start + timedelta(seconds=60)))
    await telemetry.settle()
    assert any(a["severity"] == "critical" for a in await telemetry.alerts(telemetry.A))
    assert all(a["severity"] != "critical" for a in await telemetry.alerts(telemetry.B))


async def test_batches_waiting_together_are_detected_together_and_each_counted_once(telemetry):
    """Detection was down while a UTM sent 5 batches: they are evaluated as one lot, yet each is its own event."""
    from otasuke.telemetry.application.detection_worker import DetectionWorker

    utm = await telemetry.device("utm-01", "utm")
    rt = telemetry.runtime
    await rt.extras["detection"].stop()
    start = datetime.now(UTC)
    for i in range(5):
        r = await telemetry.send("suricata", utm, telemetry.suricata_c2(10, start=start + timedelta(seconds=10 * i)),
                                 batch_id=f"lot-{i}")
        assert r.status_code == 202
    rt.extras["detection"] = worker = DetectionWorker(rt)
    await worker.start()
    await telemetry.settle()
    [alert] = await telemetry.alerts()
    assert alert["count"] == 50
    events = [r.envelope async for r in telemetry.store.read("TELEMETRY", "telemetry.p1.acme.alert.>")]
    assert sorted(e.correlation_id for e in events) == [f"lot-{i}" for i in range(5)]
    assert (worker.lots, worker.batches, worker.alert_events) == (1, 5, 5)

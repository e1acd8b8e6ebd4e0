"""Detection in a process of its own: the service ingests, the detection process raises the alerts."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta


async def test_alerts_come_from_the_detection_process(telemetry_with_detection_process):
    t = telemetry_with_detection_process
    utm = await t.device("utm-01", "utm")
    start = datetime.now(UTC)
    for i in range(3):
        r = await t.send("suricata", utm, t.suricata_c2(40, start=start + timedelta(seconds=40 * i)))
        assert r.status_code == 202
    alerts = await t.wait_alerts(lambda a: any(x["count"] == 120 for x in a), timeout=60)
    assert {a["severity"] for a in alerts} >= {"critical"}  # the burst correlation fired there too
    assert t.runtime.extras["detection"].batches == 0  # nothing was detected in the ingesting process
    [proc] = t.runtime.extras["detection_processes"]
    assert proc.poll() is None

"""Backpressure: while detection is far behind, HTTP ingest answers 429 + Retry-After and loses nothing it accepted."""
from __future__ import annotations

import asyncio


def host(i: int) -> str:
    return f"192.168.20.{i + 1}"


async def test_ingest_answers_429_while_detection_is_behind_and_detects_every_accepted_batch(telemetry_small_backlog):
    t = telemetry_small_backlog
    utm = await t.device("utm-01", "utm")
    accepted, refused = [], None
    async with t.runtime.extras["detection"].paused():  # detection falls behind the devices
        for i in range(60):
            r = await t.send("suricata", utm, t.suricata_c2(2, src=host(i)), batch_id=f"burst-{i}")
            if r.status_code == 429:
                refused = (i, r)
                break
            assert r.status_code == 202, r.text
            accepted.append(i)
        assert refused is not None, "ingest never pushed back"
        i, r = refused
        assert int(r.headers["retry-after"]) > 0
        assert "detection is behind" in r.json()["detail"] and "limit 2" in r.json()["detail"]
        assert len(accepted) >= 3  # refused only once more than the bound was waiting

    # Detection catches up: every accepted batch has its alert, and the device's retry is accepted.
    await t.settle()
    for _ in range(100):  # the device sends the refused batch again until it is taken
        retry = await t.send("suricata", utm, t.suricata_c2(2, src=host(i)), batch_id=f"burst-{i}")
        if retry.status_code != 429:
            break
        await asyncio.sleep(0.1)
    assert retry.status_code == 202, retry.text
    wanted = {host(n) for n in [*accepted, i]}
    alerts = await t.wait_alerts(lambda a: wanted <= {x["host"] for x in a if x["category"] == "c2_callback"})
    c2 = [a for a in alerts if a["category"] == "c2_callback"]
    assert {a["host"] for a in c2} == wanted  # nothing lost, nothing extra
    assert all(a["count"] == 2 for a in c2)  # each batch counted once

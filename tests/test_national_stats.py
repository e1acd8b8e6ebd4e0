"""The national view gets anonymised counts: no company ids, no names, no double counting."""
import asyncio

import msgspec

from otasuke.events import AggregateRef, EventStore, Tenant
from otasuke.events.schemas.diagnosis import DiagnosisCompleted
from otasuke.events.streams import STATS


async def test_a_completed_diagnosis_is_counted_once_without_the_company(start_service, nc):
    await start_service("diagnosis")
    store = EventStore(nc)
    ref = AggregateRef("diagnosis", Tenant("chubu", "gifu-seiki"), "diagnosis", "d1")
    completed = DiagnosisCompleted(diagnosis_id="d1", questionnaire_version="2025.1", industry="manufacturing",
                                   score=280, band="urgent")
    rec = (await store.append(ref, [completed], expected_seq=0))[0]
    # The same event delivered again (a producer retry or a replay) must not count twice.
    await nc.jetstream().publish(rec.subject, msgspec.json.encode(rec.envelope), stream="DIAGNOSIS",
                                 headers={"Otasuke-Type": "diagnosis.completed"})

    js = nc.jetstream()
    for _ in range(200):
        info = await js.stream_info(STATS.name)
        if info.state.messages:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # give the redelivered copy its chance to be counted
    messages = [m async for m in store.read(STATS.name, decode=False)]
    assert len(messages) == 1
    body = msgspec.json.decode(messages[0].data)
    assert messages[0].subject == "stats.chubu.diagnosis_completed"
    assert body["value"] == 1 and body["labels"] == {"band": "urgent"}
    raw = messages[0].data.decode()
    assert "gifu-seiki" not in raw and "d1" not in raw

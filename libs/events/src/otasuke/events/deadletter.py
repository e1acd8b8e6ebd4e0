"""The dead-letter stream: where a message goes when a consumer gives up on it.

The original bytes are kept unchanged; headers say where it came from and why
it failed, so ops can inspect it (``otasuke events replay --stream DEADLETTER``)
and, once the bug is fixed, republish it.
"""
from __future__ import annotations

from nats.js import JetStreamContext

from .streams import DEADLETTER

H_REASON = "Otasuke-Dead-Reason"
H_CONSUMER = "Otasuke-Dead-Consumer"
H_ORIGINAL_SUBJECT = "Otasuke-Original-Subject"
H_ORIGINAL_STREAM = "Otasuke-Original-Stream"
H_ORIGINAL_SEQ = "Otasuke-Original-Seq"
H_DELIVERIES = "Otasuke-Deliveries"


async def dead_letter(js: JetStreamContext, msg, consumer: str, reason: str) -> None:
    md = msg.metadata
    original = dict(msg.headers or {})
    headers = {
        **{k: v for k, v in original.items() if not k.startswith("Nats-")},
        "Nats-Msg-Id": f"{md.stream}:{md.sequence.stream}:{consumer}",
        H_REASON: reason[:1000].replace("\r", " ").replace("\n", " "),
        H_CONSUMER: consumer,
        H_ORIGINAL_SUBJECT: msg.subject,
        H_ORIGINAL_STREAM: md.stream,
        H_ORIGINAL_SEQ: str(md.sequence.stream),
        H_DELIVERIES: str(md.num_delivered),
    }
    await js.publish(f"{DEADLETTER.context}.{consumer}", msg.data, stream=DEADLETTER.name, headers=headers)

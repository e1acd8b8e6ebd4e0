"""What tracing costs the detection hot path, per alert event appended.

    .venv/bin/python benchmarks/tracing/run.py [--events 20000] [--lot 20]

Replays what the detection worker does for each alert event it appends — the
trace headers put into the envelope and the message, and a ``publish`` span —
without NATS or PostgreSQL, so only tracing's CPU time is measured
(``time.process_time``, one core, best of 3):

* ``span per publish``: each append its own recorded trace (before sampling);
* ``lot, ratio 1.0``: one ``detect lot`` trace per lot, everything recorded;
* ``lot, ratio 0.01``: the default ``OTASUKE_TRACE_SAMPLE_RATIO``.

The exporter is ``none`` (spans are made and dropped), as in the default deployment.
"""
from __future__ import annotations

import argparse
import os
import time

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased

from otasuke.events import tracing


def append_like_the_store(i: int) -> None:
    tracing.current_trace_headers()  # make_envelope
    tracing.current_trace_headers()  # EventStore._publish headers
    with tracing.span("publish telemetry.alert_raised", kind="producer", subject=f"telemetry.p.c.alert.k{i}"):
        pass


def run(events: int, lot: int, sampler, with_lot: bool) -> float:
    tracing._tracer = TracerProvider(sampler=sampler).get_tracer("bench")  # noqa: SLF001 - a private provider
    best = float("inf")
    for _ in range(3):
        t0 = time.process_time()
        for start in range(0, events, lot):
            if with_lot:
                with tracing.span("detect lot", kind="consumer", hot_path=True, messages=lot):
                    for i in range(start, start + lot):
                        append_like_the_store(i)
            else:
                for i in range(start, start + lot):
                    append_like_the_store(i)
        best = min(best, time.process_time() - t0)
    return best / events * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--lot", type=int, default=20, help="alert events appended per detection lot")
    a = ap.parse_args()
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    except (AttributeError, OSError):
        pass
    print(f"load average {os.getloadavg()[0]:.2f}; {a.events:,} alert events in lots of {a.lot}")
    for label, sampler, with_lot in (
        ("span per publish (before)", ParentBased(ALWAYS_ON), False),
        ("lot, ratio 1.0", ParentBased(root=tracing.PipelineSampler(1.0)), True),
        ("lot, ratio 0.01 (default)", ParentBased(root=tracing.PipelineSampler(0.01)), True),
    ):
        print(f"{label:28s} {run(a.events, a.lot, sampler, with_lot):6.1f} µs CPU per alert event")


if __name__ == "__main__":
    main()

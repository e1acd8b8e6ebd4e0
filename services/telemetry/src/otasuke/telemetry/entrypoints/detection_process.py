"""Detection alone, in a process of its own, next to the service that ingests.

With ``OTASUKE_TELEMETRY_DETECTION_PROCESSES=N`` (N ≥ 1) the service starts N
of these (``python -m otasuke.telemetry.entrypoints.detection_process``) and
stops them with itself; it then only ingests, and normalising and detection
run on different cores instead of sharing one interpreter lock. They bind the
same durable consumer as any other detection worker. A detection process
whose parent has gone stops by itself.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal

from otasuke.platform.service import ServiceSpec, start_runtime, stop_runtime
from otasuke.platform.settings import Settings

from ..application.detection_worker import DetectionWorker

log = logging.getLogger(__name__)


async def _start(rt) -> None:
    rt.extras["detection"] = worker = DetectionWorker(rt, workers=1)
    await worker.start()


async def _stop(rt) -> None:
    worker = rt.extras.get("detection")
    if worker is not None:
        await worker.stop()


SPEC = ServiceSpec(name="telemetry", title="Telemetry detection", on_startup=[_start], on_shutdown=[_stop])


async def main() -> None:
    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s telemetry-detection %(levelname)s %(name)s: %(message)s")
    parent = os.getppid()
    rt = await start_runtime(SPEC, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            if os.getppid() != parent:
                log.warning("the telemetry service is gone; stopping detection")
                break
    await stop_runtime(SPEC, rt)


if __name__ == "__main__":
    asyncio.run(main())

"""The Telemetry service process: ingest (HTTP and NATS), detection workers, alerts, reports."""
import asyncio
import logging
import os
import subprocess
import sys

from otasuke.platform.companies import CompanyDirectory
from otasuke.platform.service import Runtime, ServiceSpec
from otasuke.platform.settings import env

from ..adapters.nats_ingest import NatsIngest
from ..application import national_stats
from ..application.detection_worker import DetectionWorker
from ..application.ingest_backlog import DEFAULT_MAX_PENDING, IngestBacklog
from ..application.ingest_batch import Ingestor
from ..application.monitoring import ServiceActivation
from ..application.read_model import TelemetryReadModel
from .api.alerts import AlertController
from .api.allowlist import AllowlistController
from .api.devices import DeviceController
from .api.ingest import IngestController
from .api.reports import ReportController


log = logging.getLogger(__name__)


async def start_pipeline(rt: Runtime) -> None:
    ingestor = Ingestor(rt)
    rt.extras["ingestor"] = ingestor
    rt.extras["ingest_backlog"] = IngestBacklog(rt.js, int(env("TELEMETRY_INGEST_MAX_PENDING", str(DEFAULT_MAX_PENDING))))
    rt.extras["nats_ingest"] = nats_ingest = NatsIngest(rt, ingestor)
    processes = int(env("TELEMETRY_DETECTION_PROCESSES", "0"))
    # With detection processes of its own, this process only ingests.
    rt.extras["detection"] = worker = DetectionWorker(rt, workers=0 if processes else None)
    await nats_ingest.start()
    await worker.start()
    child_env = {**os.environ, **rt.settings.as_env()}
    rt.extras["detection_processes"] = [
        subprocess.Popen([sys.executable, "-m", "otasuke.telemetry.entrypoints.detection_process"], env=child_env)
        for _ in range(processes)
    ]


async def stop_pipeline(rt: Runtime) -> None:
    for name in ("nats_ingest", "detection"):
        part = rt.extras.get(name)
        if part is not None:
            await part.stop()
    for proc in rt.extras.get("detection_processes", []):
        proc.terminate()
        try:
            await asyncio.to_thread(proc.wait, 30)
        except subprocess.TimeoutExpired:
            log.warning("detection process %s did not stop; killing it", proc.pid)
            proc.kill()


spec = ServiceSpec(
    name="telemetry",
    title="Telemetry",
    route_handlers=[IngestController, DeviceController, AlertController, AllowlistController, ReportController],
    projections=[CompanyDirectory("telemetry"), TelemetryReadModel()],
    reactors=lambda rt: [ServiceActivation(rt.store), national_stats.publisher(rt)],
    on_startup=[start_pipeline],
    on_shutdown=[stop_pipeline],
)

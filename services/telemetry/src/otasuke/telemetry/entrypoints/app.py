"""The Telemetry service process: ingest (HTTP and NATS), detection workers, alerts, reports."""
from otasuke.platform.companies import CompanyDirectory
from otasuke.platform.service import Runtime, ServiceSpec

from ..adapters.nats_ingest import NatsIngest
from ..application import national_stats
from ..application.detection_worker import DetectionWorker
from ..application.ingest_batch import Ingestor
from ..application.monitoring import ServiceActivation
from ..application.read_model import TelemetryReadModel
from .api.alerts import AlertController
from .api.allowlist import AllowlistController
from .api.devices import DeviceController
from .api.ingest import IngestController
from .api.reports import ReportController


async def start_pipeline(rt: Runtime) -> None:
    ingestor = Ingestor(rt)
    rt.extras["ingestor"] = ingestor
    rt.extras["nats_ingest"] = nats_ingest = NatsIngest(rt, ingestor)
    rt.extras["detection"] = worker = DetectionWorker(rt)
    await nats_ingest.start()
    await worker.start()


async def stop_pipeline(rt: Runtime) -> None:
    for name in ("nats_ingest", "detection"):
        part = rt.extras.get(name)
        if part is not None:
            await part.stop()


spec = ServiceSpec(
    name="telemetry",
    title="Telemetry",
    route_handlers=[IngestController, DeviceController, AlertController, AllowlistController, ReportController],
    projections=[CompanyDirectory("telemetry"), TelemetryReadModel()],
    reactors=lambda rt: [ServiceActivation(rt.store), national_stats.publisher(rt)],
    on_startup=[start_pipeline],
    on_shutdown=[stop_pipeline],
)

"""The Telemetry service process: routes, projections and reactors."""
from otasuke.platform.companies import CompanyDirectory
from otasuke.platform.service import ServiceSpec

spec = ServiceSpec(
    name="telemetry",
    title="Telemetry",
    route_handlers=[],
    projections=[CompanyDirectory("telemetry")],
)

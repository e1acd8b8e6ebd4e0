"""The Diagnosis service process: routes, projections and reactors."""
from otasuke.platform.companies import CompanyDirectory
from otasuke.platform.service import ServiceSpec

spec = ServiceSpec(
    name="diagnosis",
    title="Diagnosis",
    route_handlers=[],
    projections=[CompanyDirectory("diagnosis")],
)

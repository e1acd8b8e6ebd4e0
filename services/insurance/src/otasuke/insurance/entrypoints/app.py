"""The Insurance service process: routes, projections and reactors."""
from otasuke.platform.companies import CompanyDirectory
from otasuke.platform.service import ServiceSpec

spec = ServiceSpec(
    name="insurance",
    title="Insurance",
    route_handlers=[],
    projections=[CompanyDirectory("insurance")],
)

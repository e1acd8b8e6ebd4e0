"""The Phishing training service process: routes, projections and reactors."""
from otasuke.platform.companies import CompanyDirectory
from otasuke.platform.service import ServiceSpec

spec = ServiceSpec(
    name="training",
    title="Phishing training",
    route_handlers=[],
    projections=[CompanyDirectory("training")],
)

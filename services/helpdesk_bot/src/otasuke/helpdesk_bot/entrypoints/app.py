"""The help desk process: the single front door (chat, enrolment, tickets)."""
from otasuke.platform.companies import CompanyDirectory
from otasuke.platform.service import ServiceSpec

from .api.companies import CompanyController

spec = ServiceSpec(
    name="helpdesk_bot",
    title="Help desk",
    route_handlers=[CompanyController],
    projections=[CompanyDirectory("helpdesk_bot")],
)

"""The Diagnosis service process: routes, projections and reactors."""
from otasuke.platform.companies import CompanyDirectory
from otasuke.platform.service import ServiceSpec

from ..application import national_stats
from ..application.read_model import DiagnosesReadModel
from .api.diagnoses import DiagnosisController, FormLinkController, QuestionnaireController, StatisticsController
from .report_link import PUBLIC_PATHS as REPORT_PATHS
from .report_link import routes as report_link_routes
from .web_form import FORM_PATH, diagnosis_form

spec = ServiceSpec(
    name="diagnosis",
    title="Diagnosis",
    route_handlers=[QuestionnaireController, DiagnosisController, StatisticsController, FormLinkController, diagnosis_form,
                    *report_link_routes],
    projections=[CompanyDirectory("diagnosis"), DiagnosesReadModel()],
    reactors=lambda rt: [national_stats.publisher(rt)],
    public_paths=[f"^{FORM_PATH}$", *REPORT_PATHS],
)

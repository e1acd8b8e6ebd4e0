"""Which of a company's services are monitored (from enrolment's service activations)."""
from __future__ import annotations

AGGREGATE_TYPE = "monitoring"
MONITORED_SERVICES = ("utm", "edr")

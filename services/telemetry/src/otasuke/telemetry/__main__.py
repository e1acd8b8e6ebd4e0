"""`python -m otasuke.telemetry`: run the Telemetry service."""
from otasuke.platform.service import serve

serve("telemetry")

"""`python -m otasuke.diagnosis`: run the Diagnosis service."""
from otasuke.platform.service import serve

serve("diagnosis")

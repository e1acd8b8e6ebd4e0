"""`python -m otasuke.training`: run the Phishing training service."""
from otasuke.platform.service import serve

serve("training")

"""`python -m otasuke.helpdesk_bot`: run the Help desk service."""
from otasuke.platform.service import serve

serve("helpdesk_bot")

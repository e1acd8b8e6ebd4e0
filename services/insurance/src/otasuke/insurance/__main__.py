"""`python -m otasuke.insurance`: run the Insurance service."""
from otasuke.platform.service import serve

serve("insurance")

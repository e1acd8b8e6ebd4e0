"""Rasa-side extensions of the Otasuke help-desk bot (run inside the Python 3.10 Rasa env)."""

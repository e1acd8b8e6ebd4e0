"""Otasuke Help desk service."""

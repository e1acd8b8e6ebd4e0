"""Otasuke Phishing training service."""

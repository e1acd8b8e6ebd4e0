"""Otasuke Telemetry service."""

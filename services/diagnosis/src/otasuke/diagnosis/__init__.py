"""Otasuke Diagnosis service."""

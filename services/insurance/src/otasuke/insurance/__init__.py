"""Otasuke Insurance service."""

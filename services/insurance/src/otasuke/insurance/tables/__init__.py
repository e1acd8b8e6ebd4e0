"""Versioned pricing tables shipped with the service (``pricing_<version>.toml``)."""
from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources

from ..domain.pricing_tables import PricingTables, parse_tables

CURRENT_VERSION = "2025.1"


def _file_for(version: str) -> str:
    return f"pricing_{version.replace('.', '_')}.toml"


@cache
def load_tables(version: str = CURRENT_VERSION) -> PricingTables:
    """The tables of one version; a past quote is recomputed with the version it names."""
    path = resources.files(__package__) / _file_for(version)
    if not path.is_file():
        raise LookupError(f"no pricing tables of version {version!r}")
    tables = parse_tables(tomllib.loads(path.read_text(encoding="utf-8")))
    if tables.version != version:
        raise ValueError(f"{_file_for(version)} declares version {tables.version!r}")
    return tables


def current_tables() -> PricingTables:
    return load_tables(CURRENT_VERSION)


@cache
def coverage_texts():
    """Plain-Japanese cover explanations (``coverage_ja.toml``)."""
    import msgspec

    from ..domain.coverage import CoverageTexts

    path = resources.files(__package__) / "coverage_ja.toml"
    return msgspec.convert(tomllib.loads(path.read_text(encoding="utf-8")), CoverageTexts)

"""Readable documents for SME owners: HTML pages and PDFs with an embedded Japanese font.

Every service renders its reports the same way: a Jinja2 template (HTML),
charts drawn with matplotlib and inlined as PNG, and the same HTML turned into
a PDF by WeasyPrint with IPAexGothic embedded (the font ships inside the
``japanize-matplotlib`` wheel, so no system font is needed).
"""
from __future__ import annotations

import base64
import importlib.util
import io
from functools import cache
from pathlib import Path

import jinja2

BASE_CSS = """
@font-face { font-family: "IPAexGothic"; src: url("%(font)s"); }
body { font-family: "IPAexGothic", "Noto Sans CJK JP", sans-serif; line-height: 1.6; color: #222; }
@page { size: A4; margin: 16mm; }
"""


@cache
def japanese_font_path() -> Path:
    """IPAexGothic from the japanize-matplotlib wheel (found without importing it)."""
    spec = importlib.util.find_spec("japanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("japanize-matplotlib is not installed; it provides the Japanese font")
    path = Path(list(spec.submodule_search_locations)[0]) / "fonts" / "ipaexg.ttf"
    if not path.exists():
        raise RuntimeError(f"Japanese font missing at {path}")
    return path


def base_css() -> str:
    return BASE_CSS % {"font": japanese_font_path().as_uri()}


def template_env(package: str, folder: str = "templates") -> jinja2.Environment:
    """A Jinja2 environment over ``<package>/<folder>`` with autoescaping on."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(package, folder),
        autoescape=jinja2.select_autoescape(["html", "xml"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["base_css"] = base_css
    env.filters["yen"] = lambda v: f"{int(v):,}円"
    return env


@cache
def _matplotlib():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager, pyplot

    font_manager.fontManager.addfont(str(japanese_font_path()))
    matplotlib.rcParams["font.family"] = "IPAexGothic"
    matplotlib.rcParams["axes.unicode_minus"] = False
    return pyplot


def pyplot():
    """matplotlib's pyplot, headless and set up for Japanese labels."""
    return _matplotlib()


def figure_data_uri(fig, dpi: int = 110) -> str:
    """Render a matplotlib figure as an inline PNG (``<img src=...>``) and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    pyplot().close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def html_to_pdf(html: str, base_url: str | None = None) -> bytes:
    """The same page as a PDF, with the Japanese font embedded."""
    import weasyprint

    return weasyprint.HTML(string=html, base_url=base_url).write_pdf()

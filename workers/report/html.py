"""The report as one self-contained HTML file: a jinja2 template, figures inlined as PNG data URLs."""

from __future__ import annotations

import base64
from typing import Any

from workers.report.figures import png


def _num(v: Any, digits: int = 2) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def render_html(facts: dict[str, Any], overview: list[dict[str, Any]], tracks: list[dict[str, Any]],
                figs: dict[int, dict[str, Any]]) -> str:
    """The HTML document (see :func:`workers.report.write_report` for what the arguments hold)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("workers.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _num
    images = {tid: {k: None if f is None else "data:image/png;base64," + base64.b64encode(png(f())).decode()
                    for k, f in fs.items()} for tid, fs in figs.items()}
    return env.get_template("report.html.j2").render(facts=facts, overview=overview, tracks=tracks, images=images)

"""Rendering shared by the views: number formatting, Markdown tables and the Jinja2 templates.

The templates live in ``bench/views/templates/`` (package data): ``*.html.j2`` are rendered with
autoescaping (every value is HTML-escaped unless marked safe), ``*.md.j2`` as plain text. The
formatters are template filters (``num``, ``pm``, ``ci``, ``gain``, ``dv``), so a number reads
the same in the Markdown and in the HTML.
"""

from __future__ import annotations

import math
from typing import Any

import jinja2
import numpy as np
import pandas as pd

__all__ = [
    "fmt_ci",
    "fmt_gain",
    "fmt_num",
    "fmt_pm",
    "is_finite",
    "markdown_table",
    "render",
    "sort_key",
]


def markdown_table(df: pd.DataFrame, floatfmt: str = ".3f") -> str:
    """A GitHub Markdown table of ``df``.

    Args:
        df: any table; its column names are the header.
        floatfmt: format of float cells (NaN and inf as ``–``); other cells as ``str``, with
            ``|`` escaped.

    Returns:
        The table, one line per row, ending in a newline.
    """

    def cell(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return "–" if not math.isfinite(float(v)) else format(float(v), floatfmt)
        return str(v).replace("|", "\\|")

    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def is_finite(v: Any) -> bool:
    """Whether ``v`` is a finite number (or text that parses as one)."""
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def fmt_num(v: Any, spec: str = ".3f") -> str:
    """``v`` formatted with ``spec``; ``–`` when it is not a finite number."""
    return format(float(v), spec) if is_finite(v) else "–"


def fmt_pm(m: Any, s: Any, spec: str = ".3f") -> str:
    """``mean ± std`` (``mean`` alone without a finite std; ``–`` without a finite mean)."""
    if not is_finite(m):
        return "–"
    return f"{float(m):{spec}} ± {float(s):{spec}}" if is_finite(s) else f"{float(m):{spec}}"


def fmt_ci(lo: Any, hi: Any, spec: str = ".3f") -> str:
    """``[lo, hi]``; ``–`` unless both ends are finite."""
    return f"[{float(lo):{spec}}, {float(hi):{spec}}]" if is_finite(lo) and is_finite(hi) else "–"


def fmt_gain(m: Any, lo: Any, hi: Any, spec: str = ".3f") -> str:
    """A signed gain and its CI, ``+0.123 [0.050, 0.200]``; ``–`` without a finite gain."""
    return f"{float(m):+{spec}} {fmt_ci(lo, hi, spec)}" if is_finite(m) else "–"


def sort_key(v: Any) -> str:
    """The ``data-v`` sort key of a numeric table cell: ``repr`` of the float, empty for NaN
    (the pages' script sorts empty cells last)."""
    return repr(float(v)) if is_finite(v) else ""


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("spf_bench.bench.views", "templates"),
    autoescape=jinja2.select_autoescape(("html", "html.j2")),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)
_ENV.filters.update(num=fmt_num, pm=fmt_pm, ci=fmt_ci, gain=fmt_gain, dv=sort_key)


def render(template: str, **context: Any) -> str:
    """Render one template of ``bench/views/templates/``.

    Args:
        template: its file name, e.g. ``"report.html.j2"``.
        **context: the template's variables.

    Returns:
        The rendered text.

    Raises:
        jinja2.TemplateNotFound: no such template.
        jinja2.UndefinedError: the template uses a variable the context lacks.
    """
    return _ENV.get_template(template).render(**context)

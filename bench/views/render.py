"""Rendering shared by the views: one number formatter set, Markdown tables and the Jinja2
templates of ``bench/views/templates/`` (``*.html.j2`` autoescaped, ``*.md.j2`` plain text).
The formatters are also template filters (``num``, ``pm``, ``ci``, ``gain``, ``dv``), so a number
reads the same in the Markdown and in the HTML.
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
    "suffixed",
]


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
    """The ``data-v`` sort key of a numeric HTML cell: ``repr`` of the float, ``""`` for NaN."""
    return repr(float(v)) if is_finite(v) else ""


def markdown_table(df: pd.DataFrame, floatfmt: str = ".3f") -> str:
    """A GitHub Markdown table of ``df`` (header = its columns), ending in a newline.

    Float cells use ``floatfmt`` (NaN and inf as ``–``); other cells ``str`` with ``|`` escaped.
    """

    def cell(v: Any) -> str:
        isfloat = isinstance(v, (float, np.floating))
        return fmt_num(v, floatfmt) if isfloat else str(v).replace("|", "\\|")

    lines = [
        "| " + " | ".join(map(str, df.columns)) + " |",
        "|" + "|".join(["---"] * df.shape[1]) + "|",
    ]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def suffixed(df: pd.DataFrame, prefix: str, suffix: str) -> list[str]:
    """Sorted ``<name>`` of the columns ``<prefix><name><suffix>`` of ``df``."""
    cols = (str(c) for c in df.columns)
    return sorted(
        c[len(prefix) : -len(suffix)] for c in cols if c.startswith(prefix) and c.endswith(suffix)
    )


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("spf_bench.bench.views", "templates"),
    autoescape=jinja2.select_autoescape(("html", "html.j2")),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)
_ENV.filters.update(num=fmt_num, pm=fmt_pm, ci=fmt_ci, gain=fmt_gain, dv=sort_key)
_ENV.filters["md"] = lambda v: str(v).replace("|", "\\|")  # a Markdown table cell
_ENV.tests["finite"] = is_finite


def render(template: str, **context: Any) -> str:
    """Render ``bench/views/templates/<template>`` with ``context``.

    Raises:
        jinja2.TemplateNotFound: no such template.
        jinja2.UndefinedError: the template uses a variable the context lacks.
    """
    return _ENV.get_template(template).render(**context)

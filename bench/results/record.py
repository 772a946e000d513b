"""The typed record of a run: one video at one ReTime iteration, and its table form.

A run writes one :class:`Record` per (item, iteration) to ``<run_dir>/records/`` as soon as
that iteration finishes (:meth:`spf_bench.bench.results.rundir.RunDir.write_record`), so a
killed run loses at most the iteration in flight; the run-wide tables ``records.parquet`` and
``records.csv`` are rebuilt from them (:func:`to_frame`).

Record file (``records/<item_id>__it<iteration>.json``, version :data:`RECORD_VERSION`)
    A JSON object with every column below, ``heldout`` as a nested object
    ``{embedder: {linearity_score, max_deviation, ...}}`` and ``record_version``.
    :meth:`Record.from_dict` reads every older file too:

    - version 2 (no ``record_version``): ``heldout`` is JSON *text* inside the JSON;
    - older files without ``heldout``, ``linearity_ci_low/high`` or ``progress_statistic``
      (read as ``{}`` and NaN);
    - ``gt_rms_error``, the old name of ``rms_s_vs_designed``;
    - files and tables without ``estimator`` (written before ``spf.estimator`` existed): the
      authors' estimator, ``paper``.

Table form (``records.parquet`` and ``records.csv``), the one flattening
    One row per record with exactly :data:`COLUMNS`, typed (missing numbers NaN, missing
    integers -1, missing text ``""``); the only nested field, ``heldout``, is stored as its JSON
    text (sorted embedders) in both files. :func:`from_frame` reads such a table back.

Columns (stable; documented for users and the leaderboard):

=====================  ==========  ===============================================================
column                 dtype       meaning
=====================  ==========  ===============================================================
model                  str         generator name (``morph``, ``footage``, ``wan22`` ...)
retime                 str         ``none``, ``warped``, ``resample`` or ``segmented``
embedder               str         frame embedder of the SPF
pacing                 str         target pacing curve of the retime
estimator              str         SPF estimator that made every score of the record
                                   (``spf.estimator``: ``link`` or ``paper``; docs/method.md,
                                   Sec. 1, *Estimators*); records written before the key read
                                   as ``paper``, the only estimator there was
item_id                str         benchmark item
seed                   int         seed of the item
iteration              int         0 = baseline, 1..N = ReTime refinements
n_frames               int         frames in the video
fps                    float       frames per second
linearity_score        float       ``clip(1 - RMS(S - L) / |S_T - S_1|, 0, 1)``; NaN if degenerate
max_deviation          float       ``max |S - L|``, fraction of total change
max_jump               float       largest single-frame rise of S, fraction of total change
max_jump_frame         int         frame where that rise lands (-1 if degenerate)
total_change           float       total semantic change, radians
degenerate             bool        no semantic change above numerical noise
target_deviation       float       RMS of S minus the target pacing curve
linearity_ci_low       float       95% bootstrap interval of linearity_score (resampled pair
linearity_ci_high      float       residuals, spf.bootstrap times; docs/method.md Sec. 2), or NaN
progress_statistic     float       no-progress statistic G, radians (far minus near pair angle;
                                   degenerate when below spf.progress_threshold; docs/method.md 1.7)
keyframes              str         semantic keyframes, frames, space-separated, placed on the
                                   paper estimator's S under either estimator (docs/method.md,
                                   1 "Default" and 5)
heldout                str         (table) JSON ``{embedder: {linearity_score, max_deviation,
                                   max_jump, max_jump_frame, total_change, degenerate,
                                   target_deviation}}``: the same video scored by each held-out
                                   embedder (``eval_embedders``); ``{}`` when none. In a
                                   :class:`Record`, a mapping to :class:`HeldoutScores`.
rms_s_vs_designed      float       RMS of S minus the designed progress (synthetic items), or NaN
video_path             str         mp4 of this iteration, relative to the run directory
spf_path               str         npz with progress, raw S, embeddings, positions, tau
config_hash            str         hash of the resolved config (items, model, SPF, embedder...)
git_sha                str         commit of spf-bench (``-dirty`` suffix with local changes)
status                 str         ``ok`` or ``failed``
error                  str         failure message, or the reason iterating stopped; ``""`` if none
metadata               str         JSON of the generator's metadata (model ids, RoPE diagnostics...)
=====================  ==========  ===============================================================
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from spf_bench.metrics.atomic_io import json_default
from spf_bench.metrics.spf import SPFScores

__all__ = [
    "COLUMNS",
    "LEGACY_ESTIMATOR",
    "RECORD_VERSION",
    "HeldoutScores",
    "Record",
    "from_frame",
    "metadata_json",
    "parse_heldout",
    "parse_keyframes",
    "to_frame",
]

#: Version of the record file written now (3: ``heldout`` nested, ``record_version`` field).
#: Files without the field are version 2 or older; :meth:`Record.from_dict` reads them all.
RECORD_VERSION = 3

#: The estimator of a record or table without the ``estimator`` key (written before it existed).
LEGACY_ESTIMATOR = "paper"

#: Old column names -> current ones (read side only).
_RENAMED = {"gt_rms_error": "rms_s_vs_designed"}


def _float(v: Any) -> float:
    try:
        return math.nan if v is None else float(v)
    except (TypeError, ValueError):
        return math.nan


def _int(v: Any, default: int = -1) -> int:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return default
    return int(f) if math.isfinite(f) else default


def _bool(v: Any) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in ("1", "true", "yes")
    try:
        return bool(v) if v is not None and not (isinstance(v, float) and math.isnan(v)) else False
    except (TypeError, ValueError):
        return False


def _str(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return ""
    return str(v)


#: Field annotation -> reader of a stored value (missing or unreadable: NaN, -1, False, "").
_READERS = {"float": _float, "int": _int, "bool": _bool}


def _typed(cls: type, d: Mapping[str, Any]) -> dict[str, Any]:
    """Every field of dataclass ``cls`` read from ``d`` by its annotation (text otherwise)."""
    return {f.name: _READERS.get(f.type, _str)(d.get(f.name)) for f in dataclasses.fields(cls)}


@dataclass(frozen=True)
class HeldoutScores:
    """The scores of one video by one held-out embedder (same SPF settings and pacing as the
    guiding embedder, no bootstrap interval; docs/method.md, Sec. 2).

    Attributes:
        linearity_score: Linearity Score in [0, 1]; NaN when degenerate.
        max_deviation: ``max |S - L|``, fraction of the total change.
        max_jump: largest single-frame rise of ``S``, fraction of the total change.
        max_jump_frame: frame where that rise lands; -1 when degenerate or unknown.
        total_change: total semantic change, radians.
        degenerate: no semantic change above numerical noise.
        target_deviation: RMS of ``S`` minus the target pacing curve.
    """

    linearity_score: float = math.nan
    max_deviation: float = math.nan
    max_jump: float = math.nan
    max_jump_frame: int = -1
    total_change: float = math.nan
    degenerate: bool = False
    target_deviation: float = math.nan

    @classmethod
    def from_scores(cls, scores: SPFScores) -> HeldoutScores:
        """From the measurement kernel's scores (:class:`spf_bench.metrics.spf.SPFScores`)."""
        return cls(**dataclasses.asdict(scores))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> HeldoutScores:
        """From a stored ``{score: value}`` object; missing or non-numeric values are NaN (-1
        for ``max_jump_frame``, False for ``degenerate``); unknown keys are ignored."""
        return cls(**_typed(cls, d))

    def as_dict(self) -> dict[str, Any]:
        """The scores as a plain dict (the stored form)."""
        return dataclasses.asdict(self)


def parse_heldout(value: Any) -> dict[str, HeldoutScores]:
    """The held-out scores of any stored form: a mapping (record version 3), JSON text
    (version 2 and the table form), or nothing (older files).

    Args:
        value: ``{embedder: {score: value}}``, its JSON text, ``""``, ``None`` or NaN.

    Returns:
        ``{embedder: HeldoutScores}`` sorted by embedder; ``{}`` when there is none, or when
        the text is not JSON or not an object of objects (an unreadable cell scores nothing).
    """
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError:
            return {}
    if not isinstance(value, Mapping):
        return {}
    return {
        str(k): v if isinstance(v, HeldoutScores) else HeldoutScores.from_dict(v)
        for k, v in sorted(value.items())
        if isinstance(v, (Mapping, HeldoutScores))
    }


def parse_keyframes(value: Any) -> list[int]:
    """The semantic keyframes of a record's ``keyframes`` cell, frames.

    Args:
        value: space-separated frame numbers (the stored form), a sequence or array of them,
            ``""``, ``None`` or NaN.

    Returns:
        The frames as ints, in stored order; ``[]`` when there are none (tokens that are not
        integers are skipped).
    """
    if isinstance(value, (list, tuple, np.ndarray)):
        return [int(x) for x in value]
    if not isinstance(value, str):
        return []
    return [int(x) for x in value.split() if x.lstrip("-").isdigit()]


def metadata_json(metadata: Mapping[str, Any]) -> str:
    """The ``metadata`` field's JSON text (numpy scalars and arrays, paths made plain)."""
    return json.dumps(dict(metadata), default=json_default)


@dataclass(frozen=True)
class Record:
    """One video at one ReTime iteration (module docs give each field's meaning and unit).

    Build one with :meth:`from_dict` (any stored version), :meth:`failed` (an iteration that
    raised) or the constructor; store it with :meth:`as_dict` (the record file) or
    :meth:`as_row` (the table form).
    """

    model: str
    retime: str
    embedder: str
    pacing: str
    item_id: str
    seed: int
    iteration: int
    config_hash: str = ""
    git_sha: str = ""
    estimator: str = LEGACY_ESTIMATOR
    status: str = "ok"
    error: str = ""
    n_frames: int = -1
    fps: float = math.nan
    linearity_score: float = math.nan
    max_deviation: float = math.nan
    max_jump: float = math.nan
    max_jump_frame: int = -1
    total_change: float = math.nan
    degenerate: bool = False
    target_deviation: float = math.nan
    linearity_ci_low: float = math.nan
    linearity_ci_high: float = math.nan
    progress_statistic: float = math.nan
    keyframes: str = ""
    heldout: Mapping[str, HeldoutScores] = field(default_factory=dict)
    rms_s_vs_designed: float = math.nan
    video_path: str = ""
    spf_path: str = ""
    metadata: str = ""

    @property
    def ok(self) -> bool:
        """The iteration finished (``status == "ok"``)."""
        return self.status == "ok"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Record:
        """A record from a stored object of any version (module docs), or a table row.

        Args:
            d: the record file's object, or one row of the records table as a dict.

        Returns:
            The record; absent numbers are NaN, absent integers -1, absent text ``""``, an
            absent ``status`` is ``"failed"``.

        Raises:
            ValueError: if ``item_id`` or ``iteration`` is missing (not a record).
        """
        d = {_RENAMED.get(k, k): v for k, v in d.items()}
        if _str(d.get("item_id")) == "" or _int(d.get("iteration"), -1) < 0:
            raise ValueError(f"not a spf-bench record (no item_id / iteration): {sorted(d)[:8]}")
        kw = _typed(cls, d)
        kw["heldout"] = parse_heldout(d.get("heldout"))
        if isinstance(d.get("metadata"), Mapping):
            kw["metadata"] = json.dumps(d["metadata"], default=json_default)
        if _str(d.get("status")) == "":
            kw["status"] = "failed"
        kw["estimator"] = kw["estimator"] or LEGACY_ESTIMATOR
        return cls(**kw)

    @classmethod
    def failed(cls, base: Mapping[str, Any], error: str, metadata: str = "") -> Record:
        """The record of an iteration that raised: ``status="failed"``, no scores.

        Args:
            base: the identifying fields (model, retime, embedder, pacing, item_id, seed,
                iteration, config_hash, git_sha, estimator).
            error: ``"<ExceptionType>: <message>"``.
            metadata: JSON text (e.g. the traceback).
        """
        return cls(**base, status="failed", error=error, metadata=metadata)

    def as_dict(self) -> dict[str, Any]:
        """The record file's object (version :data:`RECORD_VERSION`): every column,
        ``heldout`` nested, plus ``record_version``."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["heldout"] = {k: self.heldout[k].as_dict() for k in sorted(self.heldout)}
        out["record_version"] = RECORD_VERSION
        return out

    def as_row(self) -> dict[str, Any]:
        """The table row: exactly :data:`COLUMNS`, ``heldout`` as JSON text (embedders sorted,
        ``"{}"`` when none)."""
        held = {k: self.heldout[k].as_dict() for k in sorted(self.heldout)}
        row = {c: getattr(self, c) for c in COLUMNS if c != "heldout"}
        row["heldout"] = json.dumps(held, default=json_default, allow_nan=True)
        return {c: row[c] for c in COLUMNS}


#: Table column -> pandas dtype, in table order (module docs give the meaning of each): the
#: :class:`Record` fields, typed by their annotation (text, and ``heldout`` as JSON text).
COLUMNS: dict[str, str] = {
    c: {"int": "int64", "float": "float64", "bool": "bool"}.get(Record.__annotations__[c], "string")
    for c in """model retime embedder pacing estimator item_id seed iteration n_frames fps
    linearity_score max_deviation max_jump max_jump_frame total_change degenerate target_deviation
    linearity_ci_low linearity_ci_high progress_statistic keyframes heldout rms_s_vs_designed
    video_path spf_path config_hash git_sha status error metadata""".split()
}


def to_frame(records: Iterable[Record | Mapping[str, Any]]) -> pd.DataFrame:
    """Records as the typed table (module docs, "Table form").

    Args:
        records: the records, in table order; a mapping is read by :meth:`Record.from_dict`.

    Returns:
        ``pandas.DataFrame`` with exactly :data:`COLUMNS` (``int64``, ``float64``, ``bool``,
        ``object`` text), one row per record; empty with those columns when there is none.
    """
    rows = [(r if isinstance(r, Record) else Record.from_dict(r)).as_row() for r in records]
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    for col, dtype in COLUMNS.items():
        if dtype == "int64":
            df[col] = pd.to_numeric(df[col], errors="coerce").fillna(-1).astype("int64")
        elif dtype == "float64":
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
        elif dtype == "bool":
            df[col] = df[col].fillna(False).astype(bool)
        else:
            df[col] = df[col].fillna("").astype(str)
    return df


def from_frame(df: pd.DataFrame) -> list[Record]:
    """Records from a records table of any version (``records.parquet`` / ``.csv``; columns
    missing in old tables take the defaults of :meth:`Record.from_dict`).

    Raises:
        ValueError: if a row has no ``item_id`` or ``iteration``.
    """
    return [Record.from_dict(row) for row in df.to_dict("records")]

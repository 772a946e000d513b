"""Stages run once on a finished run: plots, W&B, VBench and the HTML report.

Callbacks on a finished run, as lightning-hydra-template runs its callbacks after training: the
pipeline (or a merge) builds a :class:`FinishedRun` (tables written, summary computed in memory),
then :func:`run_stages` calls every configured :class:`Stage` in order, puts what each returns
under its name in the summary, writes ``summary.json`` **once**, and last runs the stages that
read ``summary.json`` from disk (the report). :func:`stages_from_settings` builds the list from
the run's config (``plots``, ``logger``, ``vbench.enabled``, ``report``).

A stage is a small object with a ``name`` (its key in the summary), ``after_summary`` (it
reads ``summary.json``) and ``__call__(run)`` returning its summary entry; a stage that runs
after the summary says beforehand what it will write (``entry(run)``).

:func:`merge_run` rebuilds a run directory from *every* record of its identity under the run
directory's lock: shards of a sweep write only their own per-(item, iteration) record files, and
whoever finishes (a shard, the sweep driver, ``spf-bench merge``) merges; it is idempotent, so
the last one to finish sees every finished record.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from spf_bench.bench.plots import plot_run
from spf_bench.bench.results.record import Record
from spf_bench.bench.results.rundir import RunDir
from spf_bench.bench.results.stats import summarise
from spf_bench.bench.vbench_run import score_run
from spf_bench.bench.views.report import write_report
from spf_bench.bench.wandb_log import log_to_wandb
from spf_bench.metrics.vbench.payload import brief

__all__ = [
    "FinishedRun",
    "PlotsStage",
    "ReportStage",
    "Stage",
    "VBenchStage",
    "WandbStage",
    "finish_run",
    "merge_run",
    "run_stages",
    "stages_from_settings",
]


@dataclass
class FinishedRun:
    """A run whose records are final, handed to the stages.

    Attributes:
        rundir: the run directory (records, videos, SPF files).
        out: where this job's tables and summary go (the run directory, or a sweep job's own
            folder).
        records: the run's records (one identity), sorted by (item_id, iteration).
        table: the same records as the table (:func:`spf_bench.bench.results.record.to_frame`).
        summary: the summary (:func:`spf_bench.bench.results.stats.summarise` plus run info);
            stages add their entries before the one write.
        config: the resolved config (plain containers), for loggers.
    """

    rundir: RunDir
    out: RunDir
    records: list[Record]
    table: pd.DataFrame
    summary: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)


class Stage(Protocol):
    """One callback on a finished run."""

    name: str
    after_summary: bool

    def __call__(self, run: FinishedRun) -> Any: ...


@dataclass(frozen=True)
class PlotsStage:
    """``plots/<item>.png`` and ``plots/summary.png`` (:func:`spf_bench.bench.plots.plot_run`);
    entry: the paths, relative to the run directory."""

    name: str = "plots"
    after_summary: bool = False

    def __call__(self, run: FinishedRun) -> list[str]:
        if not len(run.table):
            return []
        paths = plot_run(run.rundir, run.table)
        return [str(p.relative_to(run.rundir.path)) for p in paths]


@dataclass(frozen=True)
class WandbStage:
    """Weights & Biases logging (:func:`spf_bench.bench.wandb_log.log_to_wandb`); entry: the
    W&B run's mode, id and folder, or its error (a W&B failure loses nothing)."""

    settings: Mapping[str, Any] = field(default_factory=dict)
    name: str = "wandb"
    after_summary: bool = False

    def __call__(self, run: FinishedRun) -> dict[str, Any]:
        return log_to_wandb(run.out, run.table, run.summary, run.config, dict(self.settings))


@dataclass(frozen=True)
class VBenchStage:
    """VBench fidelity scores (:func:`spf_bench.bench.vbench_run.score_run`: ``vbench.json``,
    ``records_vbench.parquet``); entry: the brief of ``vbench.json``."""

    settings: Any  # spf_bench.metrics.vbench.VBenchSettings
    name: str = "vbench"
    after_summary: bool = False

    def __call__(self, run: FinishedRun) -> dict[str, Any]:
        return brief(score_run(run.rundir.path, self.settings, out_dir=run.out.path))


@dataclass(frozen=True)
class ReportStage:
    """The HTML report (:func:`spf_bench.bench.views.report.write_report`), which reads
    ``summary.json``: runs after the write; entry: the path of ``report.html``."""

    name: str = "report"
    after_summary: bool = True

    def entry(self, run: FinishedRun) -> str:
        """What the summary records before the report is written."""
        return str(run.rundir.report_path)

    def __call__(self, run: FinishedRun) -> str:
        return str(write_report(run.rundir.path))


def stages_from_settings(
    *,
    plots: bool,
    logger: Mapping[str, Any] | None = None,
    vbench: Any | None = None,
    report: bool = False,
) -> list[Stage]:
    """The stages a run's config asks for, in their order (plots before W&B, which logs them).

    Args:
        plots: config ``plots``.
        logger: config ``logger`` (W&B when its ``name`` is ``wandb``).
        vbench: checked :class:`spf_bench.metrics.vbench.VBenchSettings` when
            ``vbench.enabled``, else ``None``.
        report: config ``report`` (a sweep job leaves it to the sweep's merge).
    """
    out: list[Stage] = []
    if plots:
        out.append(PlotsStage())
    if logger and logger.get("name") == "wandb":
        out.append(WandbStage(settings=dict(logger)))
    if vbench is not None:
        out.append(VBenchStage(settings=vbench))
    if report:
        out.append(ReportStage())
    return out


def run_stages(run: FinishedRun, stages: Sequence[Stage]) -> dict[str, Any]:
    """Run the stages on a finished run and write ``summary.json`` once.

    Stages with ``after_summary`` False run first, in order, each entry stored under its name
    in ``run.summary``; then ``summary.json`` is written (atomically) to ``run.out``; then the
    ``after_summary`` stages run (their entries were recorded beforehand).

    Returns:
        ``run.summary``.
    """
    for st in stages:
        run.summary[st.name] = st.entry(run) if st.after_summary else st(run)
    run.out.write_summary(run.summary)
    for st in stages:
        if st.after_summary:
            st(run)
    return run.summary


def finish_run(
    rundir: RunDir,
    records: list[Record],
    stages: Sequence[Stage] = (),
    *,
    out: RunDir | None = None,
    info: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    wall_s: float = math.nan,
) -> FinishedRun:
    """Aggregate a run's records and run its stages: tables, summary, stages, one write.

    Args:
        rundir: the run directory.
        records: the run's records (one identity); the pipeline hands its in-memory records.
        stages: the stages (:func:`stages_from_settings`).
        out: where tables and summary go (default: ``rundir``).
        info: run facts added to the summary (model, retime, embedder, pacing, shard,
            ``n_items_expected``...).
        config: the resolved config, for the loggers.
        wall_s: wall time, seconds (NaN when unknown, e.g. a merge after the fact).

    Returns:
        The finished run (table and summary as written). The summary also has ``run_dir``,
        ``out_dir`` and, when ``info`` gives ``n_items_expected``, ``complete``.
    """
    out = out or rundir
    records = sorted(records, key=lambda r: (r.item_id, r.iteration))
    table = out.write_tables(records)
    summary = summarise(table, wall_s)
    summary.update(info or {})
    summary.update(run_dir=str(rundir.path), out_dir=str(out.path))
    if "n_items_expected" in summary:
        summary["complete"] = summary["n_items"] >= int(summary["n_items_expected"])
    run = FinishedRun(rundir, out, records, table, summary, dict(config or {}))
    run_stages(run, stages)
    return run


def merge_run(
    run_dir: str | os.PathLike | RunDir,
    config_hash: str | None = None,
    *,
    plots: bool = True,
    extra: Mapping[str, Any] | None = None,
    wall_s: float = math.nan,
    stages: Sequence[Stage] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """:func:`finish_run` on every record of one identity, under the run directory's lock
    (:meth:`spf_bench.bench.results.rundir.RunDir.lock`; module docs).

    Args:
        run_dir: the run directory.
        config_hash: the identity hash to merge; ``None`` = the run directory's
            (:meth:`RunDir.config_hash`).
        plots: also redraw ``plots/`` (when ``stages`` is not given).
        extra: fields added to the summary (model, retime, embedder, n_items_expected...).
        wall_s: wall time to report (NaN: unknown, e.g. a merge after the fact).
        stages: the stages to run (default: plots when ``plots``).

    Returns:
        ``(records DataFrame, summary dict)`` as :func:`finish_run` wrote them.

    Raises:
        spf_bench.bench.results.rundir.RunDirError: no ``config_hash`` given and the directory
            has no identity or config file.
    """
    rd = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    config_hash = rd.config_hash() if config_hash is None else str(config_hash)
    stages = ([PlotsStage()] if plots else []) if stages is None else stages
    info = {**(extra or {}), "config_hash": config_hash}
    with rd.lock():
        run = finish_run(rd, rd.records(config_hash), stages, info=info, wall_s=wall_s)
    return run.table, run.summary

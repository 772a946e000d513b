"""Hydra sweeps (multirun) on SLURM or locally: per-job status, sweep summary, merged tables.

A sweep is ``python bench/run.py -m hydra/launcher=slurm|local <axes>``: one Hydra job per
point of ``model x retime x embedder x ... x shard.index``. Each job runs
:func:`spf_bench.bench.pipeline.run_benchmark` on its shard of the items and writes:

* records, SPF files and videos into the configuration's cache directory ``run_dir``
  (``runs/<model>-<retime>-<embedder>-<pacing>-<config hash>/``), one file per
  (item, iteration), so re-running the sweep skips finished items and a requeued job resumes;
* its own tables, summary and W&B run into its Hydra job directory ``<sweep dir>/<job num>/``
  (``out_dir``), which no other job shares.

:class:`SweepCallback` (registered as ``hydra.callbacks.sweep`` in ``conf/config.yaml``):

1. ``on_multirun_start`` (driver): resolves ``hydra.sweep.dir`` once and pins it as a Hydra
   override. Without the pin every SLURM job re-resolves ``${oc.env:SLURM_JOB_ID,local}`` to
   its own job id and writes into a directory of its own (seen with hydra-submitit-launcher
   1.2.0). Registers an ``atexit`` hook so that the sweep summary is written (by
   ``python -m spf_bench.slurm.sweep`` in a fresh interpreter) even when Hydra re-raises a job's
   exception
   at the end of the sweep, or submitit raises for a job that died hard.
2. ``on_job_start`` / ``on_job_end`` (in the job, also on SLURM): ``<job dir>/job_status.json``
   with status ``running`` -> ``completed`` | ``failed``, the error and full traceback, host,
   SLURM job id, attempts (requeues) and wall time. An exception that does not survive pickling
   is replaced, for the driver only, by a :class:`JobFailedError` carrying its text. A job
   that died hard (killed, out of memory, preempted and not yet resumed) stays ``running``.
   Hydra catches a job's exception inside the job, so SLURM reports COMPLETED and only this
   file tells what happened.
3. ``on_multirun_end`` / exit: :func:`summarise_sweep` writes ``<sweep dir>/sweep_summary.json``
   listing every job, every failure (job exceptions and failed records) and, per
   configuration, how many items are finished; it merges each configuration's records into
   ``run_dir/records.parquet``, ``records.csv`` and ``summary.json`` (plus plots when the
   config asks for them).

Command line (any time, also while jobs still run)::

    python -m spf_bench.slurm.sweep runs/.hydra/multirun_2026-01-31_12-00-00_local \
        [--no-merge] [--plots]

prints the summary and exits 0 when every job completed with no failed record and every
configuration is complete, 1 otherwise.
"""

from __future__ import annotations

import argparse
import atexit
import copy
import itertools
import json
import logging
import os
import pickle
import socket
import subprocess
import sys
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from spf_bench.bench.config import shard_size
from spf_bench.bench.results.record import Record
from spf_bench.bench.results.rundir import RunDir
from spf_bench.bench.stages import PlotsStage, ReportStage, merge_run
from spf_bench.metrics.atomic_io import atomic_write_json

log = logging.getLogger("spf_bench")

__all__ = [
    "STATUS_FILE",
    "SUMMARY_FILE",
    "JobFailedError",
    "SweepCallback",
    "expected_jobs",
    "main",
    "summarise_sweep",
    "sweep_job_settings",
]

STATUS_FILE = "job_status.json"
SUMMARY_FILE = "sweep_summary.json"
#: Failed-record rows kept per job in ``job_status.json`` (all of them are in the records).
_MAX_LISTED = 50
#: ``job_status.json`` fields copied into the sweep summary's job rows.
_JOB_KEYS = (
    "slurm_job_id host slurm_restart_count attempts wall_s started_unix ended_unix run_dir "
    "config_hash shard_index shard_count n_items_expected n_items n_records n_failed_records error"
).split()


# -------------------------------------------------------------------------------- helpers
class JobFailedError(RuntimeError):
    """Stand-in for a job's exception that cannot be pickled back to the sweep driver."""


def _round_trips(err: BaseException) -> bool:
    try:
        pickle.loads(pickle.dumps(err))
    except Exception:  # noqa: BLE001 - any pickling failure means "no"
        return False
    return True


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _quote(value: str) -> str:
    """A Hydra override value in single quotes (backslash and quote escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _task_config(config: DictConfig) -> DictConfig:
    """The job's config without the ``hydra`` node (what the task function receives)."""
    cfg = copy.deepcopy(config)
    with read_write(cfg), open_dict(cfg):
        cfg.pop("hydra", None)
    return cfg


def _job_info(config: DictConfig) -> dict[str, Any]:
    """run_dir, config hash, items and shard of a job, or ``{"config_error": ...}``."""
    from spf_bench.bench.config import settings_from_config

    try:
        s = settings_from_config(_task_config(config))
    except Exception as err:  # noqa: BLE001 - an invalid config fails the job; recorded there
        return {"config_error": f"{type(err).__name__}: {err}"}
    return {
        "run_dir": str(Path(s.run_dir).absolute()),
        "config_hash": s.config_hash,
        "model": s.model_name,
        "retime": s.retime.name,
        "embedder": s.embedder_name,
        "pacing": s.pacing.name,
        "n_videos": s.n_videos,
        "iterations": s.retime.iterations,
        "shard_index": s.shard_index,
        "shard_count": s.shard_count,
        "n_items_expected": shard_size(s.n_videos, s.shard_index, s.shard_count),
        "plots": s.plots,
    }


def _hydra_job() -> dict[str, Any] | None:
    """``{"out_dir", "sweep_dir", "sweep_id", "job_num"}`` inside a multirun job, else None."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return None
    hc = HydraConfig.get()
    if hc.mode != RunMode.MULTIRUN:
        return None
    sweep_dir = Path(str(hc.sweep.dir)).absolute()
    return {
        "out_dir": str(Path(hc.runtime.output_dir).absolute()),
        "sweep_dir": str(sweep_dir),
        "sweep_id": sweep_dir.name,
        "job_num": int(hc.job.num),
    }


def sweep_job_settings(settings: Any) -> Any:
    """Adapt :class:`spf_bench.bench.config.BenchSettings` to the multirun job running it, if any.

    In a multirun job: ``out_dir`` becomes the Hydra job directory (its tables, summary and
    W&B run never collide with another job's; records stay in the shared ``run_dir`` cache),
    and the W&B run is named after the configuration, shard and job number and grouped by
    sweep id (the sweep directory's name) unless ``logger.group`` is set. Outside a multirun
    the settings are returned unchanged.
    """
    job = _hydra_job()
    if job is None:
        return settings
    logger = dict(settings.logger)
    logger["group"] = logger.get("group") or job["sweep_id"]
    logger["run_name"] = (
        f"{Path(settings.run_dir).name}-shard{settings.shard_index}of{settings.shard_count}"
        f"-job{job['job_num']}"
    )
    return replace(settings, out_dir=Path(job["out_dir"]), logger=logger)


# -------------------------------------------------------------------------------- callback
class SweepCallback(Callback):
    """Hydra callback: pinned sweep directory, per-job status files, the sweep summary."""

    def __init__(self) -> None:
        self._sweep_dir: Path | None = None
        self._t0 = 0.0
        self._done = False
        self._job_t0 = 0.0

    # ---- driver
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir)).absolute()
        given = any(str(o).startswith("hydra.sweep.dir=") for o in config.hydra.overrides.hydra)
        if not given and (sweep_dir / "multirun.yaml").exists():
            # The time-stamped default of another sweep started in the same second.
            sweep_dir = sweep_dir.with_name(f"{sweep_dir.name}-{os.getpid()}")
        with read_write(config.hydra), open_dict(config.hydra):
            config.hydra.sweep.dir = str(sweep_dir)
            config.hydra.overrides.hydra.append(f"hydra.sweep.dir={_quote(str(sweep_dir))}")
        self._sweep_dir, self._t0, self._done = sweep_dir, time.time(), False
        atexit.register(self._finish_at_exit)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self._done or self._sweep_dir is None:
            return
        self._done = True
        try:
            summary = summarise_sweep(
                self._sweep_dir, merge=True, driver_wall_s=time.time() - self._t0
            )
            print(format_summary(summary), file=sys.stderr)
        except Exception as err:  # noqa: BLE001 - never hide the sweep's own outcome
            log.error("sweep summary of %s failed: %s", self._sweep_dir, err)

    def _finish_at_exit(self) -> None:
        """Hydra re-raised a job's failure (on_multirun_end never ran): summarise in a fresh
        interpreter, since at exit this one refuses new threads (pandas, pyarrow imports)."""
        if self._done or self._sweep_dir is None:
            return
        self._done = True
        cmd = [sys.executable, "-m", "spf_bench.slurm.sweep", str(self._sweep_dir)]
        cmd += ["--driver-wall-s", f"{time.time() - self._t0:.3f}"]
        try:
            subprocess.run(cmd, stdout=sys.stderr, check=False, timeout=3600)
        except (OSError, subprocess.SubprocessError) as err:
            print(
                f"sweep summary failed ({err}); run: {' '.join(cmd[1:3])} {cmd[3]}", file=sys.stderr
            )

    # ---- job (runs where the job runs: a SLURM node, a local subprocess, in-process)
    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._job_t0 = time.time()
        out = Path(str(config.hydra.runtime.output_dir))
        previous = read_record(out / STATUS_FILE) or {}
        attempts = list(previous.get("attempts", []))
        if previous.get("status") == "running":  # the last attempt never reached on_job_end
            attempts.append({k: previous.get(k) for k in ("started", "host", "slurm_job_id")})
        status = {
            "status": "running",
            "job_num": int(config.hydra.job.get("num", 0) or 0),
            "overrides": list(OmegaConf.to_container(config.hydra.overrides.task)),
            "started": _now(),
            "started_unix": self._job_t0,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
            "submitit_job_id": str(config.hydra.job.get("id", "")),
            "slurm_restart_count": int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0),
            "attempts": attempts,
            "out_dir": str(out.absolute()),
            **_job_info(config),
        }
        atomic_write_json(out / STATUS_FILE, status)

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        from hydra.core.utils import JobStatus

        out = Path(str(config.hydra.runtime.output_dir))
        status = read_record(out / STATUS_FILE) or {}
        value = getattr(job_return, "_return_value", None)
        status.update(ended=_now(), ended_unix=time.time(), wall_s=time.time() - self._job_t0)
        if job_return.status == JobStatus.COMPLETED:
            status["status"] = "completed"
            if isinstance(value, dict):
                fails = list(value.get("failures", []))
                status.update(
                    n_items=value.get("n_items"),
                    n_records=value.get("n_records"),
                    n_failed_records=value.get("n_failed"),
                    failed_records=fails[:_MAX_LISTED],
                    wandb=value.get("wandb"),
                )
        else:
            status["status"] = "failed"
            if isinstance(value, BaseException):
                status["error"] = f"{type(value).__name__}: {value}"
                status["traceback"] = "".join(
                    traceback.format_exception(type(value), value, value.__traceback__)
                )
                if not _round_trips(value):
                    # submitit pickles the JobReturn back to the driver, which would die on
                    # unpickling (e.g. an exception with keyword-only __init__ arguments).
                    job_return.return_value = JobFailedError(
                        f"{status['error']}\n{status['traceback']}"
                    )
            else:
                status["error"] = f"job status {job_return.status}"
        atomic_write_json(out / STATUS_FILE, status)


def read_record(path: Path) -> dict[str, Any] | None:
    """A sweep bookkeeping file (job status, sweep summary): its JSON object, or ``None`` when
    it is missing or unreadable (a job killed before its first status write)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# -------------------------------------------------------------------------------- summary
def expected_jobs(sweep_dir: str | os.PathLike) -> list[list[str]] | None:
    """Every job's overrides, in job-number order, expanded from ``multirun.yaml`` the way
    Hydra's basic sweeper does (``hydra.sweeper.params`` then the command-line overrides);
    None when the file is missing or the sweep cannot be expanded here (e.g. ``glob``)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    path = Path(sweep_dir) / "multirun.yaml"
    if not path.exists():
        return None
    try:
        cfg = OmegaConf.load(path)
        params = OmegaConf.select(cfg, "hydra.sweeper.params") or {}
        args = [f"{k}={v}" for k, v in params.items()]
        args += list(OmegaConf.to_container(cfg.hydra.overrides.task, resolve=False))
        overrides = OverridesParser.create().parse_overrides(args)
        axes = []
        for ov in overrides:
            key = ov.get_key_element()
            if ov.is_sweep_override():
                axes.append([f"{key}={v}" for v in ov.sweep_string_iterator()])
            else:
                axes.append([f"{key}={ov.get_value_element_as_str()}"])
        return [list(job) for job in itertools.product(*axes)]
    except Exception as err:  # noqa: BLE001 - fall back to the job directories found
        log.warning("cannot expand the sweep in %s: %s", path, err)
        return None


def _job_error(st: dict[str, Any] | None) -> str:
    if not st:
        return "no job_status.json: the job never started"
    if st.get("status") == "running":
        return "no end status: the job died hard, or is still running or requeued"
    return st.get("error") or st.get("config_error") or f"status {st.get('status')}"


def _finished_items(rows: list[Record], iterations: int) -> tuple[set, set]:
    """(items with a terminal record, items with a failed record)."""
    done, failed = set(), set()
    for r in rows:
        if not r.ok:
            failed.add(r.item_id)
            done.add(r.item_id)
        elif r.error or r.iteration >= iterations:
            done.add(r.item_id)
    return done, failed


def _merge_config(
    run_dir: Path, info: dict[str, Any], plots: bool, rows: list[Record]
) -> dict[str, Any]:
    """Merge every record of ``run_dir`` under the config hash into its tables and summary
    (:func:`spf_bench.bench.stages.merge_run`, under the run directory's lock, which reads the
    records again), with the plots and report stages the configuration asks for. ``rows``: the
    records of that hash the caller has already read (counted here; nothing is merged when
    there are none)."""
    out: dict[str, Any] = {"n_records": len(rows)}
    if not rows:
        return out
    rd = RunDir(run_dir)
    job_config = RunDir(info["out_dir"]).maybe_config()  # identical across shards but for shard
    want_report = False
    if job_config is not None:
        rd.write_config(job_config)
        want_report = bool(job_config.get("config", {}).get("report", False))
    extra = {k: info[k] for k in ("model", "retime", "embedder", "pacing")}
    stages = [*([PlotsStage()] if plots else []), *([ReportStage()] if want_report else [])]
    _, summary = merge_run(
        rd, info["config_hash"], stages=stages, extra={**extra, "merged_from": "sweep"}
    )
    if want_report:
        out["report"] = summary["report"]
    out["per_iteration"] = summary["per_iteration"]
    return out


def summarise_sweep(
    sweep_dir: str | os.PathLike,
    *,
    merge: bool = True,
    plots: bool | None = None,
    driver_wall_s: float | None = None,
) -> dict[str, Any]:
    """Summarise a multirun directory and write ``<sweep_dir>/sweep_summary.json``.

    Args:
        sweep_dir: the Hydra sweep directory (``multirun.yaml``, ``<job num>/``).
        merge: also write each configuration's merged ``records.parquet``, ``records.csv``
            and ``summary.json`` into its ``run_dir``.
        plots: with ``merge``, write ``run_dir/plots``; None = as the jobs' ``plots`` key.
        driver_wall_s: wall time of the sweep driver, seconds (recorded when given).

    Returns:
        ``{"sweep_dir", "sweep_id", "n_jobs", "n_completed", "n_failed", "n_unfinished",
        "jobs": [...], "failures": [...], "configs": [...], "complete", "jobs_span_s",
        "driver_wall_s"}``. ``failures`` holds one entry per failed or unfinished job
        (``kind`` = ``job``, with error and traceback), per failed record (``kind`` =
        ``record``) and per job whose ``run_dir`` another configuration also writes
        (``kind`` = ``config``); ``complete`` is true when every expected job completed, no
        failure is listed and every configuration has all its items finished.

    Raises:
        FileNotFoundError: if ``sweep_dir`` does not exist.
    """
    sweep_dir = Path(sweep_dir).absolute()
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"no sweep directory {sweep_dir}")
    expected = expected_jobs(sweep_dir)
    found = {int(p.name): p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit()}
    nums = sorted(set(range(len(expected or []))) | set(found))
    jobs, failures, statuses = [], [], {}
    for num in nums:
        st = read_record(found[num] / STATUS_FILE) if num in found else None
        statuses[num] = st or {}
        job = {
            "job_num": num,
            "overrides": (st or {}).get("overrides")
            or (expected[num] if expected and num < len(expected) else []),
            "status": (st or {}).get("status", "not started"),
            "dir": str(found.get(num, sweep_dir / str(num))),
        }
        job.update({k: st[k] for k in _JOB_KEYS if k in (st or {})})
        jobs.append(job)
        if job["status"] != "completed":
            failures.append(
                {
                    "kind": "job",
                    "job_num": num,
                    "overrides": job["overrides"],
                    "status": job["status"],
                    "error": _job_error(st),
                    "traceback": (st or {}).get("traceback", ""),
                }
            )
    # Per configuration (run_dir): completeness, failed records, merged tables.
    configs: dict[str, dict[str, Any]] = {}
    for job in jobs:
        st = statuses[job["job_num"]]
        if "run_dir" in st:
            c = configs.setdefault(
                st["run_dir"], {**st, "jobs": [], "n_videos": int(st["n_videos"])}
            )
            c["jobs"].append(job["job_num"])
            c["n_videos"] = max(c["n_videos"], int(st["n_videos"]))
            if st["config_hash"] != c["config_hash"]:
                # A run_dir override that does not vary with every swept key: records of
                # different configurations overwrite each other (same item, same file name).
                failures.append(
                    {
                        "kind": "config",
                        "job_num": job["job_num"],
                        "overrides": job["overrides"],
                        "run_dir": st["run_dir"],
                        "error": f"run_dir shared by configurations {c['config_hash']} and "
                        f"{st['config_hash']}: leave run_dir unset in sweeps (its default "
                        "name carries the config hash)",
                        "traceback": "",
                    }
                )
    config_rows = []
    for run_dir, c in configs.items():
        rows = RunDir(run_dir).records(c["config_hash"])
        done, failed = _finished_items(rows, int(c["iterations"]))
        for r in rows:
            if not r.ok:
                failures.append(
                    {
                        "kind": "record",
                        "run_dir": run_dir,
                        "item_id": r.item_id,
                        "iteration": r.iteration,
                        "error": r.error,
                        "traceback": json.loads(r.metadata or "{}").get("traceback", ""),
                    }
                )
        row = {
            "run_dir": run_dir,
            **{k: c[k] for k in ("config_hash", "model", "retime", "embedder", "pacing")},
            "jobs": c["jobs"],
            "n_videos": c["n_videos"],
            "n_items_finished": len(done),
            "n_items_failed": len(failed),
            "n_records": len(rows),
            "complete": len(done) >= c["n_videos"],
        }
        if merge:
            row.update(
                _merge_config(Path(run_dir), c, c["plots"] if plots is None else plots, rows)
            )
        config_rows.append(row)
    starts, ends = ([j[k] for j in jobs if k in j] for k in ("started_unix", "ended_unix"))
    summary = {
        "sweep_dir": str(sweep_dir),
        "sweep_id": sweep_dir.name,
        "written": _now(),
        "n_jobs": len(jobs),
        "n_completed": sum(j["status"] == "completed" for j in jobs),
        "n_failed": sum(j["status"] == "failed" for j in jobs),
        "n_unfinished": sum(j["status"] not in ("completed", "failed") for j in jobs),
        "n_failed_records": sum(f["kind"] == "record" for f in failures),
        "complete": not failures and all(c["complete"] for c in config_rows) and bool(jobs),
        "jobs_span_s": (max(ends) - min(starts)) if starts and ends else None,
        "driver_wall_s": driver_wall_s,
        "jobs": jobs,
        "failures": failures,
        "configs": config_rows,
    }
    if driver_wall_s is None:  # keep the driver's time from an earlier summary
        old = read_record(sweep_dir / SUMMARY_FILE) or {}
        summary["driver_wall_s"] = old.get("driver_wall_s")
    atomic_write_json(sweep_dir / SUMMARY_FILE, summary)
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    """A few human lines: counts, one line per job, every failure (first traceback lines)."""
    lines = [
        f"sweep {summary['sweep_id']}: {summary['n_jobs']} jobs, {summary['n_completed']} "
        f"completed, {summary['n_failed']} failed, {summary['n_unfinished']} unfinished; "
        f"{summary['n_failed_records']} failed records; "
        f"{'complete' if summary['complete'] else 'INCOMPLETE'}"
    ]
    for key, label in (("driver_wall_s", "driver wall"), ("jobs_span_s", "jobs span")):
        if summary.get(key) is not None:
            lines.append(f"  {label}: {summary[key]:.1f} s")
    for j in summary["jobs"]:
        wall = f"{j['wall_s']:.1f}s" if j.get("wall_s") is not None else "-"
        lines.append(
            f"  job {j['job_num']:>3} {j['status']:<11} slurm={j.get('slurm_job_id') or '-':<6}"
            f" {wall:>7}  {' '.join(j['overrides'])}"
        )
    for c in summary["configs"]:
        lines.append(
            f"  config {Path(c['run_dir']).name}: {c['n_items_finished']}/{c['n_videos']} items"
            f" finished, {c['n_items_failed']} failed, {c['n_records']} records"
        )
    for f in summary["failures"]:
        where = (
            f"record {f['item_id']} iteration {f['iteration']} in {Path(f['run_dir']).name}"
            if f["kind"] == "record"
            else f"{f['kind']} {f['job_num']} ({' '.join(f['overrides'])})"
        )
        lines.append(f"  FAILED {where}: {f['error']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m spf_bench.slurm.sweep SWEEP_DIR``: write and print the summary; 0 iff
    complete."""
    ap = argparse.ArgumentParser(
        prog="python -m spf_bench.slurm.sweep", description=__doc__.split("\n")[0]
    )
    ap.add_argument("sweep_dir", help="Hydra multirun directory (holds multirun.yaml)")
    ap.add_argument("--no-merge", action="store_true", help="do not write merged run_dir tables")
    ap.add_argument("--plots", action=argparse.BooleanOptionalAction, default=None)
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    ap.add_argument("--driver-wall-s", type=float, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    summary = summarise_sweep(
        args.sweep_dir,
        merge=not args.no_merge,
        plots=args.plots,
        driver_wall_s=args.driver_wall_s,
    )
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0 if summary["complete"] else 1


if __name__ == "__main__":
    sys.exit(main())

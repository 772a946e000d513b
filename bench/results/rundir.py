"""The run directory: the one owner of every path, read and write of a run's files.

Layout (every path below comes from :class:`RunDir`; no other module joins these names)::

    <run_dir>/
        identity.json        run identity (bench/config.py ``run_identity``); written first
        config.json          resolved config, config hash, identity, git sha, library versions
        records/             one record per (item, iteration): <item_id>__it<k>.json
        spf/                 <item_id>__it<k>.npz: progress, raw S, embeddings, positions, tau,
                             heldout_embeddings_<embedder> (the held-out judges' frame rows)
        videos/              <item_id>__it<k>.mp4
        plots/               <item_id>.png
        records.parquet      the records table of the run's identity (bench/results/record.py)
        records.csv          the same table as CSV
        summary.json         the run's summary (bench/results/stats.py ``summarise``), once
        report.html          the HTML report (bench/report.py)
        vbench.json          VBench scores (bench/vbench_run.py), optional
        .merge.lock          the advisory lock of :meth:`RunDir.lock`

Read policy (one for every file)
    A required read (:meth:`RunDir.config`, :meth:`RunDir.identity`, :meth:`RunDir.summary`,
    :meth:`RunDir.spf_settings`) of a file that is missing or unreadable raises
    :class:`RunDirError` naming the file and what to do. An optional read is an explicit
    ``maybe_*`` method: ``None`` when the file is missing, :class:`RunDirError` when it exists
    but is unreadable. Records are per-iteration checkpoints: an unreadable record file is
    skipped with a warning (:meth:`RunDir.records`) or read as absent
    (:meth:`RunDir.maybe_record`), so the run recomputes that iteration.

Writes are atomic (:mod:`spf_bench.metrics.atomic_io`): a reader sees the old file or the new
one, never a partial one. Many processes may write one run directory at once (the shards of a
sweep): each writes only its own record files; whoever rebuilds the run-wide tables holds
:meth:`RunDir.lock` (``fcntl.flock`` on ``.merge.lock``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from spf_bench.bench.config import identity_difference
from spf_bench.bench.results.record import Record, from_frame, to_frame
from spf_bench.metrics import atomic_io
from spf_bench.metrics.measure import SPFSettings
from spf_bench.metrics.video_io import write_video

log = logging.getLogger("spf_bench")

__all__ = [
    "CONFIG_FILE",
    "HELDOUT_EMBEDDINGS",
    "IDENTITY_FILE",
    "LOCK_FILE",
    "RunDir",
    "RunDirError",
    "RunIdentityError",
    "is_temp_file",
]

IDENTITY_FILE = "identity.json"
CONFIG_FILE = "config.json"
SUMMARY_FILE = "summary.json"
LOCK_FILE = ".merge.lock"
#: Prefix of the ``spf/*.npz`` arrays holding a held-out embedder's frame embeddings
#: (``(T, D)`` float32, unit rows): ``heldout_embeddings_<embedder name>``.
HELDOUT_EMBEDDINGS = "heldout_embeddings_"

#: Whether a path is an atomic write's temporary file (never a result).
is_temp_file = atomic_io.is_temp_file


class RunDirError(ValueError):
    """A file of a run directory is missing or unreadable (the message names it and says what
    to do), or the directory is not a spf-bench run directory."""


class RunIdentityError(RunDirError):
    """A run directory holds the results of another run identity (or any, for resume=never)."""


def _settings_from(block: Any, path: Path) -> SPFSettings:
    names = {f.name for f in dataclasses.fields(SPFSettings)}
    if not isinstance(block, Mapping):
        raise RunDirError(f"{path}: no config.spf block; not a spf-bench run's config.json?")
    unknown = sorted(set(block) - names)
    if unknown:
        raise RunDirError(
            f"{path}: config.spf has unknown key(s) {unknown} (made by a newer spf-bench?); "
            f"known: {sorted(names)}"
        )
    try:
        settings = SPFSettings(**dict(block))
        settings.check()
    except (TypeError, ValueError) as err:
        raise RunDirError(f"{path}: invalid config.spf ({err})") from err
    return settings


def _path(name: str, doc: str) -> property:
    """A read-only ``Path`` attribute: ``name`` under the run directory."""
    return property(lambda self: self.path / name, doc=doc)


class RunDir:
    """One run directory: its paths, reads (one policy, module docs) and atomic writes.

    Args:
        path: the run directory (need not exist yet for writing).

    Attributes:
        path: the directory, as given (``Path``).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    # ------------------------------------------------------------------------------- paths
    records_dir = _path("records", "``records/``: one JSON file per (item, iteration).")
    spf_dir = _path("spf", "``spf/``: one npz per (item, iteration).")
    videos_dir = _path("videos", "``videos/``: one mp4 per (item, iteration).")
    plots_dir = _path("plots", "``plots/``: one png per item.")
    summary_path = _path(SUMMARY_FILE, "``summary.json``.")
    config_path = _path(CONFIG_FILE, "``config.json``.")
    identity_path = _path(IDENTITY_FILE, "``identity.json``.")
    report_path = _path("report.html", "``report.html``.")
    parquet_path = _path("records.parquet", "``records.parquet``.")
    csv_path = _path("records.csv", "``records.csv``.")
    vbench_path = _path("vbench.json", "``vbench.json``.")
    lock_path = _path(LOCK_FILE, "``.merge.lock``.")

    @staticmethod
    def stem(item_id: str, iteration: int) -> str:
        """File stem of one (item, iteration): ``<item_id>__it<iteration>``."""
        return f"{item_id}__it{int(iteration)}"

    def record_path(self, item_id: str, iteration: int) -> Path:
        """Where the record of ``item_id`` at ``iteration`` lives."""
        return self.records_dir / f"{self.stem(item_id, iteration)}.json"

    def spf_rel(self, item_id: str, iteration: int) -> str:
        """The SPF file of one (item, iteration), relative to the run directory."""
        return f"spf/{self.stem(item_id, iteration)}.npz"

    def video_rel(self, item_id: str, iteration: int) -> str:
        """The video of one (item, iteration), relative to the run directory."""
        return f"videos/{self.stem(item_id, iteration)}.mp4"

    def has_records(self) -> bool:
        """Whether the directory holds a records table or at least one record file."""
        return self.parquet_path.is_file() or any(
            not is_temp_file(p) for p in self.records_dir.glob("*.json")
        )

    # ------------------------------------------------------------------------------- reads
    def _read_json(self, path: Path, what: str) -> Any:
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise RunDirError(
                f"{path}: missing; {self.path} is not a (finished) spf-bench run directory: {what}"
            ) from None
        except (OSError, ValueError) as err:
            raise RunDirError(f"{path}: unreadable ({type(err).__name__}: {err}); {what}") from err

    def _maybe_json(self, path: Path, what: str) -> Any | None:
        if not path.exists():
            return None
        return self._read_json(path, what)

    def config(self) -> dict[str, Any]:
        """``config.json`` (``{"config", "config_hash", "identity", "git_sha", "versions"}``);
        :class:`RunDirError` when missing or unreadable."""
        return self._read_json(self.config_path, "rerun the run, or point at its directory")

    def maybe_config(self) -> dict[str, Any] | None:
        """``config.json``, or ``None`` when absent (:class:`RunDirError` when unreadable)."""
        return self._maybe_json(self.config_path, "rerun the run to rewrite it")

    def identity(self) -> dict[str, Any]:
        """``identity.json`` (:func:`spf_bench.bench.config.run_identity`); :class:`RunDirError`
        when missing or unreadable."""
        return self._read_json(self.identity_path, "rerun into it (resume=force rewrites it)")

    def maybe_identity(self) -> dict[str, Any] | None:
        """``identity.json``, or ``None`` when absent (:class:`RunDirError` when unreadable)."""
        return self._maybe_json(self.identity_path, "rerun into it (resume=force rewrites it)")

    def summary(self) -> dict[str, Any]:
        """``summary.json``; :class:`RunDirError` when missing or unreadable."""
        return self._read_json(self.summary_path, "`spf-bench merge <run_dir>` rebuilds it")

    def maybe_summary(self) -> dict[str, Any] | None:
        """``summary.json``, or ``None`` when absent (:class:`RunDirError` when unreadable)."""
        return self._maybe_json(self.summary_path, "`spf-bench merge <run_dir>` rebuilds it")

    def maybe_vbench(self) -> dict[str, Any] | None:
        """``vbench.json``, or ``None`` when absent (:class:`RunDirError` when unreadable)."""
        return self._maybe_json(self.vbench_path, "rerun `spf-bench vbench <run_dir>`")

    def progress(self, spf_path: str | os.PathLike) -> np.ndarray:
        """``S`` of one SPF file (a record's ``spf_path``, relative to the run directory): the
        one reader of ``spf/*.npz``'s ``progress``, shape ``(T,)``, float64 in [0, 1].

        Raises:
            OSError, KeyError, ValueError: the file is missing, unreadable or has no ``progress``.
        """
        with np.load(self.path / spf_path) as npz:
            return np.asarray(npz["progress"], dtype=np.float64)

    def stored_embeddings(
        self, spf_path: str | os.PathLike
    ) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        """Every frame embedding one SPF file stores: the guiding embedder's (``embeddings``)
        and each held-out judge's (``heldout_embeddings_<name>``), ``(T, D)`` float64.

        Returns:
            ``(guide or None when not stored, {held-out embedder: embeddings})``.

        Raises:
            OSError, ValueError: the file is missing or unreadable.
        """
        with np.load(self.path / spf_path) as npz:
            guide = np.asarray(npz["embeddings"], dtype=np.float64) if "embeddings" in npz else None
            held = {
                key[len(HELDOUT_EMBEDDINGS) :]: np.asarray(npz[key], dtype=np.float64)
                for key in npz.files
                if key.startswith(HELDOUT_EMBEDDINGS)
            }
        return guide, held

    def maybe_heldout_embeddings(self, spf_path: str | os.PathLike, embedder: str) -> Any:
        """The frame embeddings ``(T, D)`` float64 a run's held-out judge ``embedder`` stored
        in one SPF file (``heldout_embeddings_<name>``), or ``None`` when absent or unreadable."""
        try:
            with np.load(self.path / spf_path) as npz:
                key = f"{HELDOUT_EMBEDDINGS}{embedder}"
                return np.asarray(npz[key], dtype=np.float64) if key in npz else None
        except (OSError, ValueError):
            return None

    def config_hash(self) -> str:
        """The run identity's hash: ``identity.json``'s ``hash``, else ``config.json``'s
        ``config_hash`` (runs made before identity files).

        Raises:
            RunDirError: neither file exists, or the one read is unreadable or has no hash.
        """
        ident = self.maybe_identity()
        if ident is not None and ident.get("hash"):
            return str(ident["hash"])
        cfg = self.maybe_config()
        if cfg is not None and cfg.get("config_hash"):
            return str(cfg["config_hash"])
        raise RunDirError(
            f"{self.path}: no {IDENTITY_FILE} or {CONFIG_FILE} with a hash; not a spf-bench run "
            "directory (or one whose run never started)"
        )

    def spf_settings(self) -> SPFSettings:
        """The run's SPF settings, from ``config.json``'s ``config.spf`` block: the one parser
        of a run's SPF settings.

        Strict on what is there, lenient on what is not: every field of
        :class:`spf_bench.metrics.measure.SPFSettings` that the block lacks (config files
        older than the field) takes the dataclass default; a key the dataclass does not know
        or an invalid value is an error. Generic over ``dataclasses.fields``: a new field
        needs no change here.

        Returns:
            The checked settings.

        Raises:
            RunDirError: ``config.json`` missing or unreadable, without a ``config.spf``
                block, with an unknown key or an invalid value.
        """
        cfg = self.config()
        block = (cfg.get("config") or {}).get("spf") if isinstance(cfg, Mapping) else None
        return _settings_from(block, self.config_path)

    def maybe_record(self, item_id: str, iteration: int) -> Record | None:
        """The record of ``item_id`` at ``iteration``; ``None`` when absent or unreadable (an
        unreadable record is recomputed by a resumed run)."""
        path = self.record_path(item_id, iteration)
        try:
            return Record.from_dict(json.loads(path.read_text()))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            log.warning("%s: unreadable record (%s); it is recomputed", path, err)
            return None

    def all_records(self) -> list[Record]:
        """Every readable record file of any identity, sorted by (item_id, iteration);
        unreadable ones are skipped with a warning."""
        out = []
        for p in sorted(self.records_dir.glob("*.json")):
            if is_temp_file(p):
                continue
            try:
                out.append(Record.from_dict(json.loads(p.read_text())))
            except (OSError, ValueError) as err:
                log.warning("%s: unreadable record (%s); skipped", p, err)
        return sorted(out, key=lambda r: (r.item_id, r.iteration))

    def records(self, config_hash: str | None = None) -> list[Record]:
        """The records of one run identity, sorted by (item_id, iteration).

        Args:
            config_hash: the identity; ``None`` = :meth:`config_hash`.

        Returns:
            The record files of that identity; when there are none, the rows of
            ``records.parquet`` of that identity (a copied run without ``records/``).

        Raises:
            RunDirError: ``config_hash`` is None and the directory has no identity or config
                file; or ``records.parquet`` is unreadable.
        """
        want = self.config_hash() if config_hash is None else str(config_hash)
        recs = [r for r in self.all_records() if r.config_hash == want]
        if not recs and self.parquet_path.is_file():
            recs = [r for r in self.table_records() if r.config_hash == want]
        return recs

    def table_records(self) -> list[Record]:
        """The rows of ``records.parquet`` (any version) as records.

        Raises:
            RunDirError: missing or unreadable.
        """
        try:
            df = pd.read_parquet(self.parquet_path)
        except FileNotFoundError:
            raise RunDirError(
                f"{self.parquet_path}: missing; `spf-bench merge` rebuilds it"
            ) from None
        except (OSError, ValueError) as err:
            raise RunDirError(
                f"{self.parquet_path}: unreadable ({err}); `spf-bench merge` rebuilds it"
            ) from err
        return from_frame(df)

    # ------------------------------------------------------------------------------ writes
    def write_json(self, path: str | os.PathLike, obj: Any) -> Path:
        """Write ``obj`` as standard JSON (NaN as null) at ``path`` (relative to the run
        directory, or absolute), atomically."""
        return atomic_io.atomic_write_json(self.path / path, obj)

    def write_text(self, path: str | os.PathLike, text: str) -> Path:
        """Write UTF-8 text at ``path`` (relative or absolute), atomically."""
        return atomic_io.atomic_write_text(self.path / path, text)

    def savez(self, path: str | os.PathLike, **arrays: np.ndarray) -> Path:
        """``np.savez_compressed`` at ``path`` (relative or absolute), atomically."""
        return atomic_io.atomic_savez(self.path / path, **arrays)

    def atomic_path(self, path: str | os.PathLike, **kwargs: Any) -> Any:
        """Context manager: a temporary path that is moved to ``path`` on success
        (:func:`spf_bench.metrics.atomic_io.atomic_path`)."""
        return atomic_io.atomic_path(self.path / path, **kwargs)

    def write_iteration(
        self, record: Record, arrays: Mapping[str, np.ndarray], video: Any | None = None
    ) -> Path:
        """Write one finished (item, iteration): its video, its SPF file, then its record.

        The record file is written last, so a record on disk always has its files (a resumed
        run trusts a record's files and recomputes an iteration without one).

        Args:
            record: the iteration's record; its ``spf_path`` and ``video_path``
                (:meth:`spf_rel`, :meth:`video_rel`; ``""``: no video) say where the files go.
            arrays: the SPF file's arrays (``progress``, ``raw``, ``embeddings``,
                ``positions``...; module docs).
            video: the rendered clip (``frames`` ``(T, H, W, 3)`` uint8, ``fps``, ``audio``,
                ``audio_rate``: :class:`spf_bench.generators.base.GeneratedVideo`), written
                as H.264 (:func:`spf_bench.metrics.video_io.write_video`) when given and
                ``record.video_path`` is set.

        Returns:
            The record file's path.
        """
        if video is not None and record.video_path:
            write_video(
                self.path / record.video_path,
                video.frames,
                video.fps,
                audio=video.audio,
                audio_rate=video.audio_rate,
            )
        self.savez(record.spf_path, **arrays)
        return self.write_record(record)

    def write_record(self, record: Record) -> Path:
        """Write one record file (version :data:`~spf_bench.bench.results.record.RECORD_VERSION`),
        atomically."""
        return atomic_io.atomic_write_json(
            self.record_path(record.item_id, record.iteration), record.as_dict()
        )

    def write_config(self, config: Mapping[str, Any]) -> Path:
        """Write ``config.json``, atomically."""
        return self.write_json(CONFIG_FILE, dict(config))

    def write_summary(self, summary: Mapping[str, Any]) -> Path:
        """Write ``summary.json``, atomically."""
        return self.write_json(SUMMARY_FILE, dict(summary))

    def write_tables(self, records: Iterable[Record | Mapping[str, Any]]) -> pd.DataFrame:
        """Write ``records.parquet`` and ``records.csv`` (the table form of
        :mod:`spf_bench.bench.results.record`), atomically.

        Returns:
            The table (``pandas.DataFrame`` with :data:`~spf_bench.bench.results.record.COLUMNS`).
        """
        df = to_frame(records)
        with atomic_io.atomic_path(self.parquet_path) as tmp:
            df.to_parquet(tmp, index=False)
        atomic_io.atomic_write_text(self.csv_path, df.to_csv(index=False))
        return df

    # ------------------------------------------------------------------------ lock, identity
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold an exclusive advisory lock on ``.merge.lock`` (``fcntl.flock``; works across
        processes on one machine and on NFS v4 / Lustre with flock support)."""
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a+") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def check_identity(self, identity: Mapping[str, Any], resume: str) -> None:
        """Refuse to mix runs: compare ``identity`` with the one the directory was made with.

        First use of a directory (no ``identity.json``) writes it. ``auto`` resumes an equal
        identity and refuses another; ``never`` refuses a directory that already holds
        records; ``force`` rewrites ``identity.json`` and runs (records of the old identity
        are recomputed as the run reaches them: they never enter the tables, which filter by
        identity).

        Args:
            identity: :func:`spf_bench.bench.config.run_identity` of this run.
            resume: ``auto``, ``never`` or ``force``.

        Raises:
            RunIdentityError: naming what differs and how to proceed.
        """
        identity = dict(identity)
        with self.lock():
            try:
                old = self.maybe_identity()
            except RunDirError:
                old = None  # unreadable: as on first use (rewritten below)
            has_records = any(self.records_dir.glob("*.json"))
            if resume == "never" and (has_records or old is not None):
                raise RunIdentityError(
                    f"resume=never: {self.path} already holds a run; choose another run_dir, "
                    "or resume=auto to resume it"
                )
            if old is not None and old.get("hash") != identity["hash"] and resume != "force":
                diff = identity_difference(old, identity)
                raise RunIdentityError(
                    f"{self.path} holds run {old.get('hash')}, not this run "
                    f"({identity['hash']}); what differs: {'; '.join(diff) or 'unknown'}. Use "
                    "another run_dir (or leave run_dir unset: each identity gets its own), or "
                    "resume=force to recompute in this directory"
                )
            if old is None or old.get("hash") != identity["hash"]:
                if old is None and has_records and resume != "force":
                    raise RunIdentityError(
                        f"{self.path} holds records but no {IDENTITY_FILE} (made before run "
                        "identities were recorded); use another run_dir, or resume=force"
                    )
                self.write_json(IDENTITY_FILE, identity)

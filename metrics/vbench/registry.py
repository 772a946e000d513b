"""VBench's dimensions, the weight files each reads, the settings and the pre-flight check.

The one source of truth for what spf-bench asks of VBench 0.1.5 (Huang et al., "VBench:
Comprehensive Benchmark Suite for Video Generative Models", CVPR 2024): :data:`DIMENSIONS` names
every supported dimension with the files it reads (path, cache root, source URL), the scale of
its per-video values and how VBench aggregates them. Everything else reads it: the pre-flight
check (:func:`preflight`, run before any video is generated or staged, because VBench would
otherwise shell out to ``wget`` for a missing file), the parser
(:mod:`spf_bench.metrics.vbench.parsing`), the provisioning script
(:func:`provisioning_script`) and ``docs/vbench.md``'s table.

No I/O happens at import; nothing here downloads. Pure standard library.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_VENV",
    "DIMENSIONS",
    "ROOT",
    "VBENCH_VERSION",
    "Dimension",
    "MissingVBenchWeightsError",
    "VBenchEnvError",
    "VBenchError",
    "VBenchOutputError",
    "VBenchSettings",
    "WeightFile",
    "check_dims",
    "check_weights",
    "missing_weights",
    "preflight",
    "provisioning_script",
    "venv_python",
    "weight_path",
]

#: The checkout (``metrics/``'s parent); ``make vbench-env`` builds the venv here. In a
#: non-editable install this is the installed package's folder: set ``vbench.venv`` or
#: ``$SPF_BENCH_VBENCH_VENV`` there.
ROOT = Path(__file__).resolve().parents[2]
#: The VBench virtual environment built by ``make vbench-env`` (``$SPF_BENCH_VBENCH_VENV``
#: overrides it when ``vbench.venv`` is null).
DEFAULT_VENV = ROOT / ".venv-vbench"
#: The VBench release this adapter is written against (``metrics/vbench-requirements.txt``).
VBENCH_VERSION = "0.1.5"


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------
class VBenchError(RuntimeError):
    """VBench could not score what was asked."""


class VBenchEnvError(VBenchError):
    """The VBench virtual environment is missing or broken (``make vbench-env``)."""


class MissingVBenchWeightsError(VBenchError):
    """Weight files the requested dimensions need are absent.

    The message lists every one, with where it comes from (``docs/vbench.md`` tells how to
    provision them).

    Attributes:
        missing: ``[(dimension, absolute path, WeightFile), ...]`` as returned by
            :func:`missing_weights`.
    """

    def __init__(self, missing: Sequence[tuple[str, Path, WeightFile]]):
        self.missing = list(missing)
        lines = [
            f"  - {path}  [{dim}] {wf.what}; from {wf.source}" for dim, path, wf in self.missing
        ]
        super().__init__(
            f"{len(self.missing)} VBench weight file(s) missing (nothing was run; VBench would "
            "try to download them with wget). Provision them on a connected machine as in "
            "docs/vbench.md, or drop those dimensions:\n" + "\n".join(lines)
        )


class VBenchOutputError(VBenchError):
    """VBench's result file does not have the shape or the values the parser expects."""


# --------------------------------------------------------------------------------------------
# The dimensions: one source of truth
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WeightFile:
    """A file (or a folder's marker file) a dimension reads.

    Attributes:
        path: path relative to ``root`` (POSIX separators).
        root: ``"cache"`` (``VBENCH_CACHE_DIR``) or ``"torch_home"`` (``TORCH_HOME``).
        what: what it is.
        source: where it comes from (URL, or repository and file); the first word is the URL
            :func:`provisioning_script` fetches.
    """

    path: str
    root: str
    what: str
    source: str


@dataclass(frozen=True)
class Dimension:
    """How VBench scores one dimension and how to read its output.

    Attributes:
        name: VBench's dimension name.
        weights: files that must exist before it runs.
        per_video_scale: factor bringing a per-video value to the aggregate's scale
            (``imaging_quality``: 1/100).
        per_video_kind: ``"float"`` or ``"bool"`` (``dynamic_degree``).
        aggregate: how VBench aggregates: ``"frame_weighted"`` (sum over videos of
            per-video score x (frames - 1), over total frames - 1) or ``"video_mean"``.
        measures: one line on what it measures.
    """

    name: str
    weights: tuple[WeightFile, ...]
    per_video_scale: float = 1.0
    per_video_kind: str = "float"
    aggregate: str = "video_mean"
    measures: str = ""


_DINO_SRC = "https://github.com/facebookresearch/dino (main branch: git clone)"
_CLIP_B32 = WeightFile(
    "clip_model/ViT-B-32.pt",
    "cache",
    "OpenAI CLIP ViT-B/32 (the original TorchScript file)",
    "https://openaipublic.azureedge.net/clip/models/"
    "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt",
)

DIMENSIONS: dict[str, Dimension] = {
    "subject_consistency": Dimension(
        "subject_consistency",
        (
            WeightFile(
                "dino_model/facebookresearch_dino_main/hubconf.py",
                "cache",
                "DINO torch.hub code (the whole repository folder)",
                _DINO_SRC,
            ),
            WeightFile(
                "dino_model/facebookresearch_dino_main/vision_transformer.py",
                "cache",
                "DINO torch.hub code (the whole repository folder)",
                _DINO_SRC,
            ),
            WeightFile(
                "dino_model/dino_vitbase16_pretrain.pth",
                "cache",
                "DINO ViT-B/16 weights (VBench checks this copy exists)",
                "https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/"
                "dino_vitbase16_pretrain.pth",
            ),
            WeightFile(
                "hub/checkpoints/dino_vitbase16_pretrain.pth",
                "torch_home",
                "DINO ViT-B/16 weights (the copy DINO's hubconf actually loads; same file)",
                "https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/"
                "dino_vitbase16_pretrain.pth",
            ),
        ),
        aggregate="frame_weighted",
        measures="DINO feature similarity of each frame to the first and previous frames",
    ),
    "background_consistency": Dimension(
        "background_consistency",
        (_CLIP_B32,),
        aggregate="frame_weighted",
        measures="CLIP feature similarity of each frame to the first and previous frames",
    ),
    "temporal_flickering": Dimension(
        "temporal_flickering",
        (),
        measures="(255 - mean absolute difference of consecutive frames) / 255",
    ),
    "motion_smoothness": Dimension(
        "motion_smoothness",
        (
            WeightFile(
                "amt_model/amt-s.pth",
                "cache",
                "AMT-S frame interpolation weights",
                "https://huggingface.co/lalala125/AMT/resolve/main/amt-s.pth",
            ),
        ),
        measures="(255 - MAE of AMT-S-interpolated odd frames vs the real ones) / 255",
    ),
    "dynamic_degree": Dimension(
        "dynamic_degree",
        (
            WeightFile(
                "raft_model/models/raft-things.pth",
                "cache",
                "RAFT optical flow weights (raft-things, from models.zip)",
                "https://dl.dropboxusercontent.com/s/4j4z58wuv8o0mfz/models.zip "
                "(unzip into raft_model/)",
            ),
        ),
        per_video_kind="bool",
        measures="fraction of videos whose RAFT flow says they move (per video: True/False)",
    ),
    "aesthetic_quality": Dimension(
        "aesthetic_quality",
        (
            WeightFile(
                "clip_model/ViT-L-14.pt",
                "cache",
                "OpenAI CLIP ViT-L/14 (the original TorchScript file)",
                "https://openaipublic.azureedge.net/clip/models/"
                "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836/ViT-L-14.pt",
            ),
            WeightFile(
                "aesthetic_model/emb_reader/sa_0_4_vit_l_14_linear.pth",
                "cache",
                "LAION aesthetic predictor linear head",
                "https://github.com/LAION-AI/aesthetic-predictor/blob/main/"
                "sa_0_4_vit_l_14_linear.pth?raw=true",
            ),
        ),
        measures="LAION aesthetic predictor on CLIP ViT-L/14 features, / 10, mean over frames",
    ),
    "imaging_quality": Dimension(
        "imaging_quality",
        (
            WeightFile(
                "pyiqa_model/musiq_spaq_ckpt-358bb6af.pth",
                "cache",
                "MUSIQ trained on SPAQ (pyiqa)",
                "https://github.com/chaofengc/IQA-PyTorch/releases/download/v0.1-weights/"
                "musiq_spaq_ckpt-358bb6af.pth",
            ),
        ),
        per_video_scale=0.01,
        measures="MUSIQ-SPAQ image quality, mean over frames (per video 0-100; scaled /100)",
    ),
}


# --------------------------------------------------------------------------------------------
# Settings, paths and the pre-flight check
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VBenchSettings:
    """Plain settings of a VBench scoring (from the ``vbench:`` config block or the CLI).

    Attributes:
        enabled: score the run's videos after its records are written.
        dims: VBench dimensions (keys of :data:`DIMENSIONS`).
        cache_dir: VBench's weight cache (``VBENCH_CACHE_DIR``); ``None`` -> the environment
            variable, else ``~/.cache/vbench`` (VBench's default).
        torch_home: ``TORCH_HOME`` for the DINO checkpoint; ``None`` -> the environment
            variable, else ``~/.cache/torch`` (torch's default).
        venv: the VBench venv; ``None`` -> ``<repo>/.venv-vbench``.
        device: ``"cpu"`` or ``"cuda"`` (``"cuda:N"``).
        threads: torch threads in the VBench process.
        drift: compute the long-video drift figures.
        drift_dims: VBench dimensions also scored on the first/last 15% of frames; ``None`` ->
            ``imaging_quality`` and ``aesthetic_quality`` among ``dims``.
        timeout_s: wall-clock limit of the VBench process, seconds (``None``: none).
    """

    enabled: bool = False
    dims: tuple[str, ...] = tuple(DIMENSIONS)
    cache_dir: str | None = None
    torch_home: str | None = None
    venv: str | None = None
    device: str = "cpu"
    threads: int = 1
    drift: bool = True
    drift_dims: tuple[str, ...] | None = None
    timeout_s: float | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> VBenchSettings:
        """Build from a plain dict (the resolved ``vbench:`` config block), validated.

        Args:
            d: the block; a string ``dims`` / ``drift_dims`` is one dimension.

        Returns:
            The settings.

        Raises:
            ValueError: on an unknown key, an unknown dimension, or a bad device/threads.
        """
        d = dict(d or {})
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown vbench setting(s) {unknown}; known: {sorted(known)}")
        if "dims" in d:
            d["dims"] = tuple([d["dims"]] if isinstance(d["dims"], str) else d["dims"])
        if d.get("drift_dims") is not None:
            dd = d["drift_dims"]
            d["drift_dims"] = tuple([dd] if isinstance(dd, str) else dd)
        s = cls(**d)
        s.check()
        return s

    def check(self) -> None:
        """Validate names and values.

        Raises:
            ValueError: naming the bad value and the allowed ones.
        """
        check_dims(self.dims)
        if self.drift_dims is not None:
            check_dims(self.drift_dims, allow_empty=True)
        if self.device not in ("cpu", "cuda") and not str(self.device).startswith("cuda:"):
            raise ValueError(f"vbench.device={self.device!r}: use 'cpu' or 'cuda'")
        if int(self.threads) < 1:
            raise ValueError(f"vbench.threads must be >= 1, got {self.threads}")

    def paths(self) -> tuple[Path, Path, Path]:
        """``(cache_dir, torch_home, venv)``, absolute, resolved as documented on the attributes."""
        cache = self.cache_dir or os.environ.get("VBENCH_CACHE_DIR") or "~/.cache/vbench"
        torch_home = self.torch_home or os.environ.get("TORCH_HOME") or "~/.cache/torch"
        venv = self.venv or os.environ.get("SPF_BENCH_VBENCH_VENV") or DEFAULT_VENV
        return (
            Path(cache).expanduser().absolute(),
            Path(torch_home).expanduser().absolute(),
            Path(venv).expanduser().absolute(),
        )

    def resolved_drift_dims(self) -> tuple[str, ...]:
        """VBench dimensions scored on the first/last 15% of frames (empty without drift)."""
        if not self.drift:
            return ()
        if self.drift_dims is not None:
            return tuple(self.drift_dims)
        return tuple(d for d in ("imaging_quality", "aesthetic_quality") if d in self.dims)


def check_dims(dims: Sequence[str], allow_empty: bool = False) -> None:
    """Check dimension names against :data:`DIMENSIONS`.

    Args:
        dims: dimension names (a list, not one string).
        allow_empty: accept an empty list.

    Raises:
        ValueError: a string instead of a list, no dimension (unless allowed), or an unknown
            name (the message lists the supported ones).
    """
    if isinstance(dims, str):
        raise ValueError(f"dimensions must be a list of names, got the string {dims!r}")
    if not dims and not allow_empty:
        raise ValueError(f"no VBench dimension given; choose from {list(DIMENSIONS)}")
    bad = [d for d in dims if d not in DIMENSIONS]
    if bad:
        raise ValueError(
            f"unsupported VBench dimension(s) {bad}; supported: {list(DIMENSIONS)} (the others "
            "need prompts or extra annotations that custom input does not give)"
        )


def weight_path(wf: WeightFile, cache_dir: Path, torch_home: Path) -> Path:
    """Where ``wf`` lives: under ``cache_dir`` or ``torch_home`` according to ``wf.root``."""
    return (cache_dir if wf.root == "cache" else torch_home) / wf.path


def missing_weights(
    dims: Iterable[str], cache_dir: str | os.PathLike, torch_home: str | os.PathLike
) -> list[tuple[str, Path, WeightFile]]:
    """Every weight file the dimensions need that is absent or empty.

    Args:
        dims: dimension names (keys of :data:`DIMENSIONS`).
        cache_dir: VBench's cache folder (``VBENCH_CACHE_DIR``).
        torch_home: ``TORCH_HOME``.

    Returns:
        ``[(dimension, absolute path, WeightFile), ...]`` in dimension order; empty when all
        files are there. A file two dimensions share is listed once, under the first.

    Raises:
        ValueError: on an unknown dimension.
    """
    dims = list(dict.fromkeys(dims))
    check_dims(dims, allow_empty=True)
    cache_dir, torch_home = Path(cache_dir), Path(torch_home)
    out, seen = [], set()
    for dim in dims:
        for wf in DIMENSIONS[dim].weights:
            p = weight_path(wf, cache_dir, torch_home)
            if p in seen:
                continue
            seen.add(p)
            if not p.is_file() or p.stat().st_size == 0:
                out.append((dim, p, wf))
    return out


def check_weights(
    dims: Iterable[str], cache_dir: str | os.PathLike, torch_home: str | os.PathLike
) -> None:
    """Raise unless every weight file of ``dims`` is present (:func:`missing_weights`).

    Raises:
        MissingVBenchWeightsError: listing every missing file and where it comes from.
        ValueError: on an unknown dimension.
    """
    missing = missing_weights(dims, cache_dir, torch_home)
    if missing:
        raise MissingVBenchWeightsError(missing)


def venv_python(venv: str | os.PathLike) -> Path:
    """The VBench venv's interpreter, ``<venv>/bin/python``.

    Args:
        venv: the venv folder; it is finished when ``make vbench-env`` wrote its stamp file
            ``<venv>/.installed``.

    Raises:
        VBenchEnvError: if the venv has not been built (``make vbench-env``).
    """
    py = Path(venv) / "bin" / "python"
    stamp = Path(venv) / ".installed"
    if not py.is_file() or not stamp.is_file():
        raise VBenchEnvError(
            f"the VBench environment {venv} is missing or unfinished (no {py} or {stamp}): "
            "build it with `make vbench-env` (about 1.5 min from local wheels, ~7 GB)"
        )
    return py


def preflight(settings: VBenchSettings) -> None:
    """Everything checkable before a run: names, the venv, every weight file (incl. drift).

    Raises:
        ValueError: on bad settings.
        VBenchEnvError: without the venv.
        MissingVBenchWeightsError: listing every missing weight file.
    """
    settings.check()
    cache, torch_home, venv = settings.paths()
    venv_python(venv)
    check_weights([*settings.dims, *settings.resolved_drift_dims()], cache, torch_home)


# --------------------------------------------------------------------------------------------
# Provisioning (a connected machine)
# --------------------------------------------------------------------------------------------
def provisioning_script(dims: Sequence[str] | None = None) -> str:
    """A bash script that downloads the weights of ``dims`` into VBench's cache layout.

    For a machine with internet access (docs/vbench.md): it fills ``$VBENCH_CACHE_DIR``
    (default ``./vbench_cache``) from the sources in :data:`DIMENSIONS` and puts the DINO
    checkpoint under ``$VBENCH_CACHE_DIR/torch_home`` too, so that folder can serve as
    ``TORCH_HOME``; copy the folder to the offline machine.

    Args:
        dims: dimensions (default: all of :data:`DIMENSIONS`).

    Returns:
        The script (bash, ``set -euo pipefail``; needs ``curl``, ``git`` and ``unzip``). It
        skips files already present, so it can be re-run after a failed download.

    Raises:
        ValueError: on an unknown dimension.
    """
    dims = list(dims or DIMENSIONS)
    check_dims(dims)
    files = {}
    for d in dims:
        for wf in DIMENSIONS[d].weights:
            files.setdefault((wf.root, wf.path), wf)
    lines = [
        "#!/usr/bin/env bash",
        "# Generated by `python -m spf_bench.metrics.vbench provision-script` (spf-bench, VBench "
        f"{VBENCH_VERSION}): dimensions {', '.join(dims)}.",
        "set -euo pipefail",
        'C="${VBENCH_CACHE_DIR:-$PWD/vbench_cache}"',
        'mkdir -p "$C"',
    ]
    done_dino_code = False
    fetched: dict[str, str] = {}
    for (root, rel), wf in files.items():
        dest = f'"$C/{rel}"' if root == "cache" else f'"$C/torch_home/{rel}"'
        if rel.startswith("dino_model/facebookresearch_dino_main/"):
            if not done_dino_code:
                lines.append(
                    '[ -f "$C/dino_model/facebookresearch_dino_main/hubconf.py" ] || git clone '
                    f"--depth 1 {_DINO_SRC.split()[0]} "
                    '"$C/dino_model/facebookresearch_dino_main"'
                )
                done_dino_code = True
            continue
        if rel == "raft_model/models/raft-things.pth":
            lines.append(
                f'[ -s {dest} ] || {{ mkdir -p "$C/raft_model" && curl -fL -o '
                f'"$C/raft_model/models.zip" {wf.source.split()[0]} && unzip -o -d '
                '"$C/raft_model" "$C/raft_model/models.zip" && rm "$C/raft_model/models.zip"; }'
            )
            continue
        url = wf.source.split(" ")[0]
        lines.append(f'mkdir -p "$(dirname {dest})"')
        if url in fetched:  # the same file twice (DINO: VBench's copy and TORCH_HOME's)
            lines.append(f"[ -s {dest} ] || cp {fetched[url]} {dest}")
        else:
            lines.append(f"[ -s {dest} ] || curl -fL -o {dest} '{url}'")
            fetched[url] = dest
    lines += [
        'echo "VBench weights in $C; on the offline machine pass --cache-dir <copy of it> '
        '--torch-home <copy of it>/torch_home (or vbench.cache_dir / vbench.torch_home)."',
        "",
    ]
    return "\n".join(lines)

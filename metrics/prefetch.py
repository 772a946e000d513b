"""``spf-bench prefetch``: put every weight a run needs into the caches spf-bench reads.

    spf-bench prefetch --embedder siglip dinov2 openclip --vbench-dims subject_consistency ...
    spf-bench prefetch ... --dry-run

Run it on a machine with internet access, then copy the caches to the offline node (or run it on
a node that shares them). It fetches into the caches spf-bench reads: the Hugging Face hub cache
(``HF_HUB_CACHE`` / ``HF_HOME``) for ``siglip`` / ``openclip`` / ``dinov2``, VBench's cache
(``--cache-dir`` / ``VBENCH_CACHE_DIR``) and ``TORCH_HOME`` (``--torch-home``; the DINO checkpoint
that ``torch.hub`` loads). ``efficientnet_lite0`` and ``pixel`` need nothing (packaged). Files
already present are skipped; URL downloads are written atomically
(:func:`spf_bench.metrics.atomic_io.atomic_path`). The DINO code folder comes from a ``git clone``,
whose command is printed (status ``manual``).

It prints a table (item, destination, size MB, status). Exit status: 0 when everything is there
(or only manual steps remain), 1 when a download failed, 2 when offline: it checks connectivity
first (``HF_HUB_OFFLINE=1`` or a host that does not answer within about a second) and fails at
once, with every planned item (destination and source) on stderr. ``--dry-run`` lists the plan and
exits 0 without touching the network.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import threading
import time
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import snapshot_download

from spf_bench.metrics.atomic_io import atomic_path
from spf_bench.metrics.embedders import EMBEDDERS, hf_hub_cache_dir, hub_files_present
from spf_bench.metrics.embedders import open_clip_backend as oc
from spf_bench.metrics.embedders import transformers_backend as tb
from spf_bench.metrics.vbench.registry import DIMENSIONS, VBenchSettings, check_dims

__all__ = [
    "EXIT_FAILED",
    "EXIT_OFFLINE",
    "EXIT_OK",
    "HUB_EMBEDDERS",
    "Item",
    "OfflineError",
    "ReportRow",
    "add_prefetch_parser",
    "check_online",
    "format_report",
    "plan_prefetch",
    "prefetch",
]

EXIT_OK, EXIT_FAILED, EXIT_OFFLINE = 0, 1, 2
#: Seconds the connectivity check waits for all hosts together (DNS included).
CONNECT_TIMEOUT_S = 1.5
#: Socket timeout of a URL download (per read, not for the whole file).
DOWNLOAD_TIMEOUT_S = 60.0
_DINO_GIT_URL = "https://github.com/facebookresearch/dino"
_DINO_CODE_DIR = "dino_model/facebookresearch_dino_main"
_RAFT_REL = "raft_model/models/raft-things.pth"


def _hub_embedders() -> dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """``name -> (repo id, required files, weight files (one of))``: the files the embedders'
    ``locate_*_weights`` check for in the cache."""
    return {
        "siglip": (oc.SIGLIP_HUB_ID, ("open_clip_config.json",), oc.OPEN_CLIP_WEIGHT_FILES),
        "openclip": (oc.OPENCLIP_HUB_ID, (), oc.OPEN_CLIP_WEIGHT_FILES),
        "dinov2": (tb.DINOV2_HUB_ID, ("config.json",), tb.HF_WEIGHT_FILES),
    }


HUB_EMBEDDERS = tuple(_hub_embedders())


@dataclass(frozen=True)
class Item:
    """One thing to fetch.

    Attributes:
        name: what it is (``"siglip"``, ``"vbench:subject_consistency dino_vitbase16..."``).
        kind: ``"hf"`` (a hub repository into the HF cache), ``"url"`` (one file), ``"zip"``
            (an archive unpacked into ``destination``'s folder tree; ``member`` is the file that
            must appear) or ``"git"`` (a clone; printed, not run).
        destination: the file (``url``), the folder (``git``), the file that must exist after
            unpacking (``zip``) or the repository's cache folder ``models--org--name`` (``hf``).
        source: URL, or the hub repository id for ``hf``.
        files: ``hf`` only: files that must all be fetched.
        any_of: ``hf`` only: weight files, tried in order until one exists in the repository.
        cache_dir: ``hf`` only: the hub cache directory.
        extract_to: ``zip`` only: the folder the archive is unpacked into.
        command: ``git`` only: the command to run.
    """

    name: str
    kind: str
    destination: Path
    source: str
    files: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    cache_dir: Path | None = None
    extract_to: Path | None = None
    command: str = ""

    def host(self) -> str | None:
        """The network host this item needs (``None`` for ``git``: printed, not fetched)."""
        if self.kind == "hf":
            endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
            return urllib.parse.urlsplit(endpoint).netloc
        if self.kind in ("url", "zip"):
            return urllib.parse.urlsplit(self.source).netloc
        return None


@dataclass
class ReportRow:
    """One line of the report.

    ``status`` is ``planned`` (dry run), ``present`` (already there), ``fetched``, ``manual`` (a
    command to run, in ``detail``) or ``failed`` (the error, in ``detail``).
    """

    item: str
    destination: str
    size_mb: float | None
    status: str
    detail: str = ""


class OfflineError(RuntimeError):
    """The network is unreachable (or the hub is switched off): nothing was fetched.

    Attributes:
        reason: what failed (the host and the error, or ``HF_HUB_OFFLINE``).
        items: the items that would have been fetched.
    """

    def __init__(self, reason: str, items: Sequence[Item] = ()) -> None:
        super().__init__(f"offline: {reason}")
        self.reason = reason
        self.items = list(items)


# ----------------------------------------------------------------------------------------- The plan
def _repo_folder(cache: Path, repo_id: str) -> Path:
    return cache / f"models--{repo_id.replace('/', '--')}"


def plan_prefetch(
    embedders: Iterable[str],
    vbench_dims: Iterable[str],
    *,
    hf_cache: str | os.PathLike | None = None,
    vbench_cache: str | os.PathLike | None = None,
    torch_home: str | os.PathLike | None = None,
) -> list[Item]:
    """Everything the embedders and VBench dimensions need, as a list of :class:`Item`.

    Args:
        embedders: embedder names (keys of ``spf_bench.metrics.embedders.EMBEDDERS``).
        vbench_dims: VBench dimension names (keys of ``spf_bench.metrics.vbench.DIMENSIONS``).
        hf_cache: the Hugging Face hub cache (default: resolved from the environment now).
        vbench_cache: VBench's cache (default: ``$VBENCH_CACHE_DIR`` or ``~/.cache/vbench``).
        torch_home: ``TORCH_HOME`` (default: ``$TORCH_HOME`` or ``~/.cache/torch``).

    Returns:
        The items, in the order given, each destination once (a file two dimensions share is
        planned once; the DINO checkpoint's ``TORCH_HOME`` copy has the same URL and is copied
        from the first download at fetch time).

    Raises:
        ValueError: on an unknown embedder or dimension.
    """
    embedders = list(dict.fromkeys(embedders))
    vbench_dims = list(dict.fromkeys(vbench_dims))
    bad = [e for e in embedders if e not in EMBEDDERS]
    if bad:
        raise ValueError(f"unknown embedder(s) {bad}; choose from {list(EMBEDDERS)}")
    check_dims(vbench_dims, allow_empty=True)

    items: list[Item] = []
    hub = _hub_embedders()
    cache = Path(hf_cache if hf_cache is not None else hf_hub_cache_dir()).expanduser()
    for name in embedders:
        if name not in hub:  # packaged weights (efficientnet_lite0, pixel)
            continue
        repo_id, required, any_of = hub[name]
        dest = _repo_folder(cache, repo_id)
        items.append(Item(name, "hf", dest, repo_id, required, any_of, cache_dir=cache))

    if not vbench_dims:
        return items
    settings = VBenchSettings(cache_dir=vbench_cache, torch_home=torch_home)
    vcache, thome, _ = settings.paths()
    seen: set[Path] = set()
    for dim in vbench_dims:
        for wf in DIMENSIONS[dim].weights:
            dest = (vcache if wf.root == "cache" else thome) / wf.path
            label = f"vbench:{dim} {Path(wf.path).name}"
            if wf.path.startswith(_DINO_CODE_DIR + "/"):
                folder = vcache / _DINO_CODE_DIR
                if folder in seen:
                    continue
                seen.add(folder)
                cmd = f"git clone --depth 1 {_DINO_GIT_URL} {folder}"
                items.append(
                    Item(f"vbench:{dim} DINO code", "git", folder, _DINO_GIT_URL, command=cmd)
                )
                continue
            if dest in seen:
                continue
            seen.add(dest)
            url = wf.source.split(" ")[0]
            if wf.path == _RAFT_REL:
                raft = {"extract_to": dest.parent.parent, "files": ("models/raft-things.pth",)}
                items.append(Item(label, "zip", dest, url, **raft))
            else:
                items.append(Item(label, "url", dest, url))
    return items


# ------------------------------------------------------------------------------------- Connectivity
def _hf_offline_env() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _host_port(netloc: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(f"//{netloc}")
    return parts.hostname or netloc, parts.port or 443


def check_online(items: Sequence[Item], timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Raise :class:`OfflineError` unless every host the items need answers within ``timeout``.

    ``HF_HUB_OFFLINE=1`` fails at once when a hub item is planned. Hosts are probed in parallel
    (a TCP connection, DNS included) by daemon threads, so a hanging resolver costs ``timeout``
    seconds, no more.
    """
    if _hf_offline_env() and any(i.kind == "hf" for i in items):
        raise OfflineError("HF_HUB_OFFLINE is set (the Hugging Face hub is off)", list(items))
    hosts = sorted({h for i in items if (h := i.host())})
    if not hosts:
        return
    results: dict[str, str | None] = {}

    def probe(netloc: str) -> None:
        host, port = _host_port(netloc)
        try:
            with socket.create_connection((host, port), timeout=timeout):
                results[netloc] = None
        except OSError as e:
            results[netloc] = f"{type(e).__name__}: {e}"

    threads = [threading.Thread(target=probe, args=(h,), daemon=True) for h in hosts]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    bad = {h: results.get(h, f"no answer within {timeout:g} s") for h in hosts}
    bad = {h: why for h, why in bad.items() if why is not None}
    if bad:
        why = "; ".join(f"{h}: {w}" for h, w in bad.items())
        raise OfflineError(f"cannot reach {why}", list(items))


# ----------------------------------------------------------------------------------------- Fetching
def _size_mb(path: Path) -> float | None:
    if path.is_file():
        return path.stat().st_size / 1e6
    if path.is_dir():
        total = sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
        return total / 1e6
    return None


def _download(url: str, dest: Path) -> None:
    """Stream ``url`` into ``dest`` atomically (a reader never sees a partial file)."""
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp:
        with atomic_path(dest) as tmp, open(tmp, "wb") as f:
            shutil.copyfileobj(resp, f, 1 << 20)
    if dest.stat().st_size == 0:
        dest.unlink()
        raise OSError(f"{url} sent an empty file")


def _copy(src: Path, dest: Path) -> None:
    with atomic_path(dest) as tmp:
        shutil.copyfile(src, tmp)


def _fetch_hf(item: Item) -> None:
    cache = str(item.cache_dir)
    for weight in item.any_of or (None,):
        patterns = [*item.files, *([weight] if weight else [])]
        snapshot_download(item.source, cache_dir=cache, allow_patterns=patterns)
        if hub_files_present(item.source, cache, item.files, (weight,) if weight else ()):
            return
    raise OSError(f"{item.source}: none of {list(item.any_of)} is in the repository")


def _fetch_zip(item: Item) -> None:
    assert item.extract_to is not None
    archive = item.extract_to / ".prefetch-download.zip"
    try:
        _download(item.source, archive)
        root = item.extract_to.resolve()
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                target = (root / info.filename).resolve()
                if root not in target.parents:  # no member escapes the folder
                    raise OSError(f"{item.source}: unsafe member {info.filename!r}")
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                with zf.open(info) as src, atomic_path(target) as tmp, open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    finally:
        archive.unlink(missing_ok=True)
    if not item.destination.is_file():
        raise OSError(f"{item.source}: the archive has no {item.destination.name}")


def _present(item: Item) -> bool:
    if item.kind == "hf":
        return hub_files_present(item.source, str(item.cache_dir), item.files, item.any_of)
    if item.kind == "git":
        return (item.destination / "hubconf.py").is_file()
    return item.destination.is_file() and item.destination.stat().st_size > 0


def prefetch(items: Sequence[Item], *, dry_run: bool = False) -> list[ReportRow]:
    """Fetch ``items`` (or, with ``dry_run``, only list them).

    Args:
        items: the plan (:func:`plan_prefetch`).
        dry_run: list the plan (status ``planned``, or ``present`` for what is already there);
            no network.

    Returns:
        One :class:`ReportRow` per item, in order. A failed download is a ``failed`` row (the
        others are still fetched); a ``git`` item is a ``manual`` row with its command.

    Raises:
        OfflineError: before anything is fetched, when a needed host is unreachable or
            ``HF_HUB_OFFLINE`` is set (only for items not already present).
    """
    rows: list[ReportRow] = []
    todo = [i for i in items if not _present(i)]
    if not dry_run:
        try:
            check_online([i for i in todo if i.kind != "git"])
        except OfflineError as e:  # list the whole plan, not only the network items
            raise OfflineError(e.reason, items) from None
    fetched_urls: dict[str, Path] = {}
    for item in items:
        dest = str(item.destination)
        if item not in todo:
            rows.append(ReportRow(item.name, dest, _size_mb(item.destination), "present"))
            if item.kind == "url":
                fetched_urls.setdefault(item.source, item.destination)
            continue
        if item.kind == "git":
            rows.append(ReportRow(item.name, dest, None, "manual", item.command))
            continue
        if dry_run:
            rows.append(ReportRow(item.name, dest, None, "planned", item.source))
            continue
        try:
            if item.kind == "hf":
                _fetch_hf(item)
            elif item.kind == "zip":
                _fetch_zip(item)
            elif item.source in fetched_urls:  # the same file again (DINO: TORCH_HOME's copy)
                _copy(fetched_urls[item.source], item.destination)
            else:
                _download(item.source, item.destination)
                fetched_urls[item.source] = item.destination
        except Exception as e:  # noqa: BLE001 - reported per item; the others go on
            rows.append(ReportRow(item.name, dest, None, "failed", f"{type(e).__name__}: {e}"))
            continue
        rows.append(ReportRow(item.name, dest, _size_mb(item.destination), "fetched"))
    return rows


# ---------------------------------------------------------------------- Output and the command line
def format_report(rows: Sequence[ReportRow]) -> str:
    """The report as a plain-text table (item, destination, size MB, status), then one line per
    ``manual`` / ``failed`` row with its command or error."""
    head = ("item", "destination", "size MB", "status")
    body = [
        (r.item, r.destination, "-" if r.size_mb is None else f"{r.size_mb:.1f}", r.status)
        for r in rows
    ]
    widths = [max(len(str(x[c])) for x in [head, *body]) for c in range(4)]
    lines = [
        "  ".join(str(x[c]).ljust(widths[c]) for c in range(4)).rstrip() for x in [head, *body]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    total = sum(r.size_mb or 0.0 for r in rows if r.status in ("fetched", "present"))
    lines.append(f"total on disk: {total:.1f} MB")
    for r in rows:
        if r.status == "manual":
            lines.append(f"manual: {r.item}: run `{r.detail}`")
        elif r.status == "failed":
            lines.append(f"FAILED: {r.item}: {r.detail}")
    return "\n".join(lines)


def format_plan(items: Sequence[Item]) -> str:
    """One line per item: name, destination and source (the offline message)."""
    lines = []
    for i in items:
        hf = (
            f" (files: {', '.join(i.files)}; one of {', '.join(i.any_of)})"
            if i.kind == "hf"
            else ""
        )
        lines.append(f"  {i.name}: {i.destination} <- {i.command or i.source}{hf}")
    return "\n".join(lines)


def _cmd_prefetch(args: argparse.Namespace) -> int:
    try:
        items = plan_prefetch(
            args.embedder,
            args.vbench_dims,
            hf_cache=args.hf_cache,
            vbench_cache=args.cache_dir,
            torch_home=args.torch_home,
        )
    except ValueError as e:
        print(f"spf-bench prefetch: {e}", file=sys.stderr)
        return EXIT_OFFLINE
    if not items:
        print("nothing to fetch (packaged embedders, weight-free dimensions)")
        return EXIT_OK
    try:
        rows = prefetch(items, dry_run=args.dry_run)
    except OfflineError as e:
        print(
            f"spf-bench prefetch: {e}; nothing was fetched. On a connected machine it would "
            f"fetch {len(e.items)} item(s):\n{format_plan(e.items)}",
            file=sys.stderr,
        )
        return EXIT_OFFLINE
    if args.dry_run:
        print(f"dry run: {len(items)} item(s), nothing fetched")
    print(format_report(rows))
    return EXIT_FAILED if any(r.status == "failed" for r in rows) else EXIT_OK


def add_prefetch_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``prefetch`` sub-command on ``spf-bench``'s sub-parsers."""
    p = sub.add_parser(
        "prefetch",
        help="download every weight a run needs into the caches (for offline nodes)",
        description=__doc__.split("\n\n")[1],
    )
    for flag, names, meta, note in (
        ("--embedder", EMBEDDERS, "NAME", "; efficientnet_lite0 and pixel need nothing"),
        ("--vbench-dims", DIMENSIONS, "DIM", ""),
    ):
        what = "embedders" if meta == "NAME" else "VBench dimensions"
        kw = dict(nargs="+", default=[], choices=list(names), metavar=meta)
        p.add_argument(flag, **kw, help=f"{what} ({', '.join(names)}){note}")
    p.add_argument("--hf-cache", help="HF hub cache (default: HF_HUB_CACHE/HF_HOME)")
    p.add_argument(
        "--cache-dir", help="VBench cache (default: $VBENCH_CACHE_DIR or ~/.cache/vbench)"
    )
    p.add_argument("--torch-home", help="TORCH_HOME (default: $TORCH_HOME or ~/.cache/torch)")
    p.add_argument("--dry-run", action="store_true", help="list the plan; no network")
    p.set_defaults(func=_cmd_prefetch)
    return p


def main(argv: list[str] | None = None) -> int:
    """``python -m spf_bench.metrics.prefetch ...`` (the same as ``spf-bench prefetch ...``)."""
    parser = argparse.ArgumentParser(prog="spf-bench")
    add_prefetch_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["prefetch", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())

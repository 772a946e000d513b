"""Outside configs and code: how a model or embedder that is not part of spf-bench gets in.

docs/extending.md is the guide; this module is the mechanism: extra config folders for
``hydra.searchpath`` (:func:`config_search_path`, from :data:`CONFIG_PATH_ENV` and the
:data:`CONFIG_ENTRY_POINTS` entry points) and generator classes registered by entry point
(:func:`plugin_generators`), each a typed model family
(:func:`spf_bench.conf.schema.model_schema`). Embedder entry points are read by the embedder
registry (:func:`spf_bench.metrics.embedders.plugin_embedders`). Listing imports nothing.
"""

from __future__ import annotations

import os
from importlib.metadata import entry_points
from pathlib import Path

from omegaconf import OmegaConf

__all__ = [
    "CONFIG_ENTRY_POINTS",
    "CONFIG_PATH_ENV",
    "CONFIG_PATH_RESOLVER",
    "GENERATOR_ENTRY_POINTS",
    "config_search_path",
    "plugin_generators",
    "register_config_path_resolver",
]

#: Environment variable naming extra config folders (``os.pathsep``-separated).
CONFIG_PATH_ENV = "SPF_BENCH_CONFIG_PATH"
#: Entry-point group: ``name = "package.conf"`` adds ``pkg://package.conf`` to the search path.
CONFIG_ENTRY_POINTS = "spf_bench.configs"
#: Entry-point group: ``name = "package.module:GeneratorClass"`` registers a model family.
GENERATOR_ENTRY_POINTS = "spf_bench.generators"
#: OmegaConf resolver used by ``hydra.searchpath`` in ``conf/config.yaml``.
CONFIG_PATH_RESOLVER = "spf_bench_config_path"


def config_search_path(environ: dict[str, str] | None = None) -> list[str]:
    """The extra config folders of this process, as Hydra search-path entries.

    Args:
        environ: environment to read :data:`CONFIG_PATH_ENV` from (default ``os.environ``).

    Returns:
        ``file://<absolute folder>`` for each folder of the variable, in its order, then
        ``pkg://<module>`` for each entry point of :data:`CONFIG_ENTRY_POINTS`, sorted by name.

    Raises:
        ValueError: a folder named by the variable does not exist (naming it and the variable).
    """
    env = os.environ if environ is None else environ
    out = []
    for part in env.get(CONFIG_PATH_ENV, "").split(os.pathsep):
        if not part.strip():
            continue
        folder = Path(part).expanduser().resolve()
        if not folder.is_dir():
            raise ValueError(f"{CONFIG_PATH_ENV} names {part!r}, which is not a folder")
        out.append(f"file://{folder}")
    eps = sorted(entry_points(group=CONFIG_ENTRY_POINTS), key=lambda e: e.name)
    return out + [f"pkg://{ep.value.split(':')[0].strip()}" for ep in eps]


def register_config_path_resolver() -> None:
    """Register the OmegaConf resolver ``${spf_bench_config_path:}`` (:func:`config_search_path`)
    that ``conf/config.yaml`` gives ``hydra.searchpath`` (idempotent)."""
    if not OmegaConf.has_resolver(CONFIG_PATH_RESOLVER):
        OmegaConf.register_new_resolver(
            CONFIG_PATH_RESOLVER, lambda: config_search_path(), use_cache=False
        )


def plugin_generators() -> dict[str, str]:
    """The generator classes installed packages register in :data:`GENERATOR_ENTRY_POINTS`.

    Returns:
        ``{family name: "module.Class"}`` sorted by name, in the form of
        :data:`spf_bench.conf.schema.MODEL_FAMILIES` (the class is not imported here).

    Raises:
        ValueError: an entry point whose value is not ``module:Class``.
    """
    found = {}
    for ep in sorted(entry_points(group=GENERATOR_ENTRY_POINTS), key=lambda e: e.name):
        module, _, attr = ep.value.partition(":")
        if not module.strip() or not attr.strip():
            raise ValueError(
                f"entry point {ep.name!r} = {ep.value!r} (group {GENERATOR_ENTRY_POINTS}) must "
                "name a class as 'package.module:Class'"
            )
        found[ep.name] = f"{module.strip()}.{attr.strip()}"
    return found

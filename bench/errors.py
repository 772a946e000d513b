"""User errors at the entry points: one clear line on stderr and a non-zero exit, no traceback.

A *user error* is one the person at the keyboard can fix: missing weights or checkpoint
(:class:`~spf_bench.metrics.embedders.MissingWeightsError`,
:class:`~spf_bench.generators.common.MissingCheckpointError`), a run directory that holds
another run (:class:`~spf_bench.bench.results.rundir.RunIdentityError`, a ``ValueError``), an
unreadable video (:class:`~spf_bench.metrics.video_io.VideoDecodeError`), frames an embedder
refuses (:class:`~spf_bench.metrics.embedders.EmbeddingError`), a generator that cannot do what
was asked (:class:`~spf_bench.generators.base.GeneratorError`), bad input or settings
(``ValueError``, the project's convention for them), a missing file or a refused permission,
a full disk (``OSError`` ``ENOSPC``/``EDQUOT``), a bad Hydra override, and :class:`UserError`
itself. The entry points (``spf-bench`` in :mod:`spf_bench.bench.cli`, the Hydra job in
:mod:`spf_bench.bench.run`) report them with :func:`exit_on_user_error`; ``--debug`` or
``HYDRA_FULL_ERROR=1`` shows the traceback instead. Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import contextlib
import errno
import sys
from collections.abc import Iterator

from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException

from spf_bench.generators.base import GeneratorError
from spf_bench.metrics.embedders import EmbeddingError, MissingWeightsError
from spf_bench.metrics.video_io import VideoDecodeError

__all__ = [
    "EXIT_USER_ERROR",
    "USER_ERRORS",
    "UserError",
    "exit_on_user_error",
    "is_user_error",
    "one_line",
]

#: Exit status of a user error (argparse's for a usage error, ``spf-bench analyze``'s for bad
#: input).
EXIT_USER_ERROR = 2


class UserError(Exception):
    """An error the user can fix; its message says what to do (reported without traceback)."""


#: The exception types reported as one line (plus ``OSError`` for a full disk, see
#: :func:`is_user_error`).
USER_ERRORS: tuple[type[BaseException], ...] = (
    UserError,
    MissingWeightsError,
    EmbeddingError,
    VideoDecodeError,
    GeneratorError,
    ValueError,
    FileNotFoundError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
    ConfigCompositionException,
    MissingConfigException,
    OverrideParseException,
)

_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def is_user_error(err: BaseException) -> bool:
    """Whether ``err`` is a user error (module docs).

    Args:
        err: the exception.

    Returns:
        ``True`` for the types of :data:`USER_ERRORS` and for ``OSError`` with ``errno``
        ``ENOSPC`` or ``EDQUOT`` (disk full, quota exceeded).
    """
    if isinstance(err, USER_ERRORS):
        return True
    return isinstance(err, OSError) and err.errno in _DISK_FULL


def one_line(err: BaseException) -> str:
    """The error's message on one line (its lines joined, runs of white space collapsed).

    Args:
        err: the exception.

    Returns:
        ``"<message>"``, or the exception type's name when the message is empty; a full disk
        reads ``"disk full: <message>"``.
    """
    text = " ".join(str(err).split()) or type(err).__name__
    if isinstance(err, OSError) and err.errno in _DISK_FULL and "disk full" not in text:
        text = f"disk full: {text}"
    return text


@contextlib.contextmanager
def exit_on_user_error(prog: str, *, debug: bool = False) -> Iterator[None]:
    """Turn a user error raised in the block into one line on stderr and ``SystemExit``.

    Args:
        prog: the command's name, the line's prefix (``"spf-bench run"``).
        debug: re-raise instead (the traceback is shown).

    Raises:
        SystemExit: with :data:`EXIT_USER_ERROR` after printing
            ``"<prog>: error: <message>"`` for a user error.
        BaseException: anything else (and every error when ``debug``), unchanged.
    """
    try:
        yield
    except Exception as err:
        if debug or not is_user_error(err):
            raise
        print(f"{prog}: error: {one_line(err)}", file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR) from None

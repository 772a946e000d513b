"""User errors at the entry points: one clear line on stderr and a non-zero exit, no traceback.

A *user error* is one the person at the keyboard can fix (:data:`USER_ERRORS`: missing weights
or checkpoint, a run directory of another run, an unreadable video, bad input or settings, a
missing file, a full disk, a bad Hydra override...). ``spf-bench`` (:mod:`spf_bench.bench.cli`)
and the Hydra job (:mod:`spf_bench.bench.run`) report them with :func:`exit_on_user_error`;
``--debug`` or ``HYDRA_FULL_ERROR=1`` shows the traceback. Anything else keeps its traceback.
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

#: Exit status of a user error (argparse's for a usage error).
EXIT_USER_ERROR = 2


class UserError(Exception):
    """An error the user can fix; its message says what to do (reported without traceback)."""


#: The exception types reported as one line (plus a full disk, :func:`is_user_error`).
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
    """Whether ``err`` is of :data:`USER_ERRORS` or an ``OSError`` for a full disk or quota."""
    return isinstance(err, USER_ERRORS) or (isinstance(err, OSError) and err.errno in _DISK_FULL)


def one_line(err: BaseException) -> str:
    """The error's message on one line (white space collapsed; the type's name when empty;
    ``"disk full: <message>"`` for a full disk)."""
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

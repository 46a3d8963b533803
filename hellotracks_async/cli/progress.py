"""A tqdm progress bar on stderr for the command line, fed with running totals.

The bar is drawn only when stderr is a terminal (and not turned off); otherwise every
call is a no-op, so pipes and CI logs stay clean.

Example::

    >>> bar = ProgressBar("create", enabled=False)
    >>> bar.show(done=100, failed=2)
    >>> bar.close()
"""

from __future__ import annotations

import contextlib
import sys

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

__all__ = ["ProgressBar", "stderr_is_terminal"]


def stderr_is_terminal() -> bool:
    """Whether stderr is a terminal, where a progress bar belongs.

    Example::

        >>> isinstance(stderr_is_terminal(), bool)
        True
    """
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


class ProgressBar:
    """Jobs done so far, with jobs/s and the failures as a postfix.

    ``total`` is the number of jobs, if known. Log lines and :meth:`message` calls are
    printed above the bar instead of through it while it is shown.

    Example::

        with ProgressBar("import", enabled=stderr_is_terminal()) as bar:
            bar.show(done=500, failed=0)
    """

    def __init__(self, label: str, *, enabled: bool, total: int | None = None) -> None:
        self.enabled = enabled
        self._bar = tqdm(
            desc=label,
            total=total,
            unit=" jobs",
            dynamic_ncols=True,
            file=sys.stderr,
            disable=not enabled,
        )
        self._failed = 0
        self._logging = contextlib.ExitStack()
        if enabled:
            self._logging.enter_context(logging_redirect_tqdm(tqdm_class=tqdm))

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def show(self, *, done: int, failed: int) -> None:
        """Move the bar to ``done`` jobs finished, ``failed`` of them failed."""
        if not self.enabled:
            return
        if failed != self._failed:
            self._failed = failed
            self._bar.set_postfix(failed=f"{failed:,}", refresh=False)
        self._bar.update(done - self._bar.n)

    def message(self, text: str) -> None:
        """Print a line on stderr without breaking the bar."""
        tqdm.write(text, file=sys.stderr)

    def close(self) -> None:
        """Stop the bar (its last state stays on screen) and the log redirection."""
        self._bar.close()
        self._logging.close()

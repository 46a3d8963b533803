"""A tqdm progress bar on stderr for the command line, fed with running totals.

The bar is drawn only when stderr is a terminal (and not turned off); otherwise every
call is a no-op, so pipes and CI logs stay clean. With a known number of jobs it counts
jobs; an import, whose row count is unknown until the end, counts the bytes of the file
read so far against its size, as ``pv`` does, so it shows a percentage and an ETA, with
the jobs done and failed beside it.

Example::

    >>> bar = ProgressBar("create", enabled=False, total_bytes=4096)
    >>> bar.show(done=100, failed=2, bytes_read=1024)
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
    """Progress of jobs, with the failures as a postfix.

    Give ``total`` (jobs) when the number of jobs is known: the bar counts jobs. Give
    ``total_bytes`` (the input file's size) when it is not: the bar counts the bytes
    read (pass ``bytes_read`` to :meth:`show`) and shows the jobs done as a postfix.
    Log lines and :meth:`message` calls are printed above the bar while it is shown.

    Example::

        with ProgressBar("create", enabled=stderr_is_terminal(), total_bytes=size) as bar:
            bar.show(done=500, failed=0, bytes_read=reader.bytes_read)
    """

    def __init__(
        self,
        label: str,
        *,
        enabled: bool,
        total: int | None = None,
        total_bytes: int | None = None,
    ) -> None:
        self.enabled = enabled
        self._in_bytes = total_bytes is not None
        self._bar = tqdm(
            desc=label,
            total=total_bytes if self._in_bytes else total,
            unit="B" if self._in_bytes else " jobs",
            unit_scale=self._in_bytes,
            unit_divisor=1024,
            dynamic_ncols=True,
            file=sys.stderr,
            disable=not enabled,
        )
        self._postfix: dict[str, str] = {}
        self._logging = contextlib.ExitStack()
        if enabled:
            self._logging.enter_context(logging_redirect_tqdm(tqdm_class=tqdm))

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def show(
        self,
        *,
        done: int,
        failed: int,
        bytes_read: int | None = None,
        concurrency: int | None = None,
    ) -> None:
        """Move the bar: ``done`` jobs finished, ``failed`` of them failed, (when
        counting bytes) ``bytes_read`` of the file consumed, and the requests the
        client lets be in flight now (``concurrency``)."""
        if not self.enabled:
            return
        postfix = {"jobs": f"{done:,}"} if self._in_bytes else {}
        if failed or "failed" in self._postfix:
            postfix["failed"] = f"{failed:,}"
        if concurrency is not None:
            postfix["in flight"] = str(concurrency)
        if postfix != self._postfix:
            self._postfix = postfix
            self._bar.set_postfix(postfix, refresh=False)
        position = bytes_read if self._in_bytes else done
        if position is not None:
            self._bar.update(position - self._bar.n)

    def message(self, text: str) -> None:
        """Print a line on stderr without breaking the bar."""
        tqdm.write(text, file=sys.stderr)

    def close(self) -> None:
        """Stop the bar (its last state stays on screen) and the log redirection."""
        self._bar.close()
        self._logging.close()

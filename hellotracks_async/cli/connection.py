"""What every command that talks to the API shares: the key and the client.

Example::

    >>> import argparse
    >>> from pathlib import Path
    >>> args = argparse.Namespace(api_key_file=Path("/no/such/file"))
    >>> api_key(args)
    Traceback (most recent call last):
    ...
    hellotracks_async.cli.connection.UsageError: cannot read the API key file /no/such/file: ...
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..client import HellotracksClient

__all__ = ["UsageError", "api_key", "make_client"]


class UsageError(Exception):
    """A usage or configuration problem: exit code 2."""


def api_key(args: argparse.Namespace) -> str:
    """The API key: from ``--api-key-file``, else env ``HELLOTRACKS_API_KEY``."""
    path: Path | None = args.api_key_file
    if path is not None:
        try:
            key = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read the API key file {path}: {exc}") from None
        if not key:
            raise UsageError(f"the API key file {path} is empty")
        return key
    key = os.environ.get("HELLOTRACKS_API_KEY", "").strip()
    if not key:
        raise UsageError("no API key: set HELLOTRACKS_API_KEY or pass --api-key-file PATH")
    return key


def make_client(args: argparse.Namespace) -> HellotracksClient:
    """The client the connection options ask for (see the parser)."""
    return HellotracksClient(
        api_key=api_key(args),
        base_url=args.base_url,
        batch_size=args.batch_size,
        max_concurrency=args.concurrency,
        max_retries=args.max_retries,
        timeout=args.timeout,
    )

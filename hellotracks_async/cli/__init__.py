"""The ``hellotracks-async`` command line. Nothing outside this subpackage imports it, so
``import hellotracks_async`` never loads it or its dependencies (tqdm).

Internal package: the command line only; nothing here is public API.

- :mod:`.parser`: the argument parser (:func:`build_parser`).
- :mod:`.commands`: :func:`main` and the commands it runs.
- :mod:`.connection`: the API key and the client every API command builds.
- :mod:`.import_command`: the ``import`` command: checks, journal, signals, summary.
- :mod:`.verify_command`, :mod:`.undo_command`, :mod:`.export_command`: read an
  import's jobs back and compare, delete them, export jobs for ``import --edit``.
- :mod:`.importer`: the ``import`` command's work: rows through the client, failures out.
- :mod:`.journal`: the state file that makes an import crash-safe and re-runnable.
- :mod:`.rowfiles`: CSV / JSONL files: formats, the lazy row reader, the failures writer.
- :mod:`.cells`: one row's cells -> a wire-format job (names, text values, validation).
- :mod:`.progress`: the tqdm progress bar on stderr.
- :mod:`.demo`: the demo against an in-process faulty fake server.

Example::

    >>> build_parser().parse_args(["import", "jobs.csv", "-v"]).verbose
    True
"""

from .commands import main
from .parser import build_parser

__all__ = ["build_parser", "main"]

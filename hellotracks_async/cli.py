"""The ``hellotracks-async`` command line."""

from __future__ import annotations

import argparse

from . import __version__


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = argparse.ArgumentParser(prog="hellotracks-async")
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("command", nargs="?", default="demo")
    parser.parse_args(argv)
    print(f"hellotracks-async {__version__}")
    return 0

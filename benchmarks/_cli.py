"""The command line shared by the numpy benchmark scripts: one count option, checked.

Imported as ``from _cli import parse_count`` by scripts run as ``python benchmarks/<name>.py``
(their folder is then first on ``sys.path``).
"""

from __future__ import annotations

import argparse


def parse_count(doc: str, name: str, default: int, help_text: str, *, minimum: int = 2,
                argv: list[str] | None = None) -> int:
    """Parse ``--<name> N`` (an integer >= ``minimum``, default ``default``) for a script whose
    module docstring is ``doc`` (its first line is the ``--help`` description); a smaller value
    exits with argparse's usage error, as ``--help`` and unknown options do."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument(f"--{name}", type=int, default=default,
                    help=f"{help_text} (default {default}; at least {minimum})")
    value = getattr(ap.parse_args(argv), name)
    if value < minimum:
        ap.error(f"--{name} must be an integer >= {minimum}, got {value}")
    return value

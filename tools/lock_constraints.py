"""Write constraints.txt: the exact package versions of the .venv that made the committed outputs.

Usage: .venv/bin/python tools/lock_constraints.py [--output constraints.txt]      (``make lock``)

``make install`` installs with ``pip install -c constraints.txt``, so a new clone gets the
versions that produced the stored notebook outputs, not whatever was released since (nbval
compares those outputs exactly). pyproject.toml keeps compatible *ranges* for people who
install the package into their own environment.

Every installed distribution is pinned except the project itself, pip's own tools, and any
whose ``Requires-Python`` excludes the oldest Python that pyproject.toml accepts (3.11.0:
e.g. soupsieve 4.1.3 needs >= 3.11.5, and Debian 12 ships 3.11.2). Those are listed in the
file's header and left to pip, which then picks a version the interpreter supports.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import tomllib
from pathlib import Path
from typing import Iterable

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
#: Distributions never pinned: the project and pip's own installers.
NOT_PINNED = frozenset({"rlrec", "pip", "setuptools", "wheel"})


def normalise(name: str) -> str:
    """PEP 503 name: lower case, runs of ``-_.`` as one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def oldest_python(requires_python: str) -> str:
    """The lower bound of a ``requires-python`` such as ``">=3.11,<3.13"``, as ``"3.11.0"``."""
    m = re.search(r">=\s*(\d+)\.(\d+)(?:\.(\d+))?", requires_python)
    if not m:
        raise ValueError(f"requires_python must have a '>=X.Y' lower bound, got {requires_python!r}")
    return f"{m.group(1)}.{m.group(2)}.{m.group(3) or 0}"


def lock_lines(dists: Iterable[tuple[str, str, str | None]], python: str) -> tuple[list[str], list[str]]:
    """Split installed ``(name, version, requires_python or None)`` into pins and omissions.

    Returns ``(pins, omitted)``: ``"name==version"`` lines sorted by normalised name, and
    ``"name==version (Requires-Python ...)"`` for each distribution that does not support
    ``python`` (a version string such as ``"3.11.0"``). Raises ``ValueError`` on a name
    installed twice with different versions.
    """
    target = Version(python)
    seen: dict[str, str] = {}
    pins, omitted = [], []
    for name, version, requires in sorted(dists, key=lambda d: normalise(d[0])):
        key = normalise(name)
        if key in NOT_PINNED:
            continue
        if key in seen:
            if seen[key] != version:
                raise ValueError(f"dists lists {key} twice, with versions {seen[key]} and {version}")
            continue
        seen[key] = version
        try:
            supported = requires is None or target in SpecifierSet(requires)
        except InvalidSpecifier:
            supported = True   # unparseable metadata: pin it; pip reports it if it matters
        if supported:
            pins.append(f"{key}=={version}")
        else:
            omitted.append(f"{key}=={version} (Requires-Python {requires})")
    return pins, omitted


def installed() -> list[tuple[str, str, str | None]]:
    """``(name, version, Requires-Python)`` of every distribution in this interpreter."""
    return [(d.metadata["Name"], d.version, d.metadata.get("Requires-Python"))
            for d in importlib.metadata.distributions()]


def render(pins: list[str], omitted: list[str], python: str) -> str:
    head = ["# Exact versions that produced the committed notebook outputs (Linux x86-64, Python",
            "# 3.11). Written by `make lock` (tools/lock_constraints.py); used by `make install`",
            "# as `pip install -c constraints.txt`. pyproject.toml keeps the compatible ranges.",
            f"# Not pinned, because they do not support Python {python}: "
            + (", ".join(omitted) if omitted else "none") + "."]
    return "\n".join(head + pins) + "\n"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--output", default=str(ROOT / "constraints.txt"))
    args = p.parse_args(argv)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    python = oldest_python(project["requires-python"])
    pins, omitted = lock_lines(installed(), python)
    Path(args.output).write_text(render(pins, omitted, python))
    print(f"{args.output}: {len(pins)} pins; not pinned (need a newer Python than {python}): "
          f"{', '.join(omitted) or 'none'}")


if __name__ == "__main__":
    main()

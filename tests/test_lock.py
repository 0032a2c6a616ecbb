"""constraints.txt (written by tools/lock_constraints.py, used by `make install`): pins that satisfy
pyproject's ranges, install on the oldest supported Python, and match the .venv they describe."""

import platform
import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import lock_constraints as L  # noqa: E402

LINUX_X86 = {"sys_platform": "linux", "platform_machine": "x86_64"}


def _pins() -> dict[str, str]:
    lines = [ln for ln in (ROOT / "constraints.txt").read_text().splitlines() if ln and not ln.startswith("#")]
    pins = {}
    for ln in lines:
        m = re.fullmatch(r"([a-z0-9][a-z0-9-]*)==(\S+)", ln)
        assert m, f"constraints.txt: not a normalised 'name==version' line: {ln!r}"
        assert m.group(1) not in pins, f"constraints.txt pins {m.group(1)} twice"
        pins[m.group(1)] = m.group(2)
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    return [Requirement(r) for r in reqs]


def test_every_declared_requirement_is_pinned_inside_its_range():
    pins = _pins()
    checked = 0
    for req in _declared():
        if req.marker is not None and not req.marker.evaluate(LINUX_X86):
            continue   # e.g. full tensorflow on macOS / aarch64: not in this Linux x86-64 lock
        name = L.normalise(req.name)
        assert name in pins, f"{name} is declared in pyproject.toml but not pinned in constraints.txt"
        assert Version(pins[name]) in req.specifier, f"{name}=={pins[name]} is outside pyproject's {req.specifier}"
        checked += 1
    assert checked >= 20


IN_VENV = Path(sys.prefix).resolve() == (ROOT / ".venv").resolve()
#: The lock describes a Linux x86-64 .venv; elsewhere pip installs e.g. ``tensorflow`` instead
#: of ``tensorflow-cpu`` (pyproject's markers), so the exact comparisons only apply there.
ON_LOCK_PLATFORM = sys.platform == "linux" and platform.machine() == "x86_64"
IN_LOCKED_VENV = IN_VENV and ON_LOCK_PLATFORM


def _left_to_pip() -> set[str]:
    """Names in the header's "Not pinned" line: pip picks their version per interpreter."""
    header = (ROOT / "constraints.txt").read_text().splitlines()[3]
    return {L.normalise(m) for m in re.findall(r"([A-Za-z0-9][A-Za-z0-9._-]*)==", header)}


def test_pins_install_on_the_oldest_supported_python():
    """Nothing pinned needs a newer interpreter than requires-python's lower bound (3.11.0):
    each pin whose version is installed here is checked against its own Requires-Python."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    oldest = L.oldest_python(project["requires-python"])
    assert oldest == "3.11.0"
    header = (ROOT / "constraints.txt").read_text().splitlines()[3]
    assert header.startswith(f"# Not pinned, because they do not support Python {oldest}:")
    pins = _pins()
    installed_pins = [(n, v, r) for n, v, r in L.installed() if pins.get(L.normalise(n)) == v]
    assert len(installed_pins) >= (len(pins) if IN_LOCKED_VENV else 1)
    _, too_new = L.lock_lines(installed_pins, oldest)
    assert not too_new, f"pins that need a newer Python than {oldest}: {too_new}"


@pytest.mark.skipif(not IN_LOCKED_VENV, reason="compares the lock with the project's Linux x86-64 .venv, "
                    "which make test uses there")
def test_lock_matches_this_venv():
    """The committed pins are exactly what `make lock` writes from the project's .venv (the
    environment `make execute` and `make test` use), apart from the distributions the header
    leaves to pip (on Python 3.11.0-3.11.4 pip installs an older soupsieve, which is right)."""
    pins, _ = L.lock_lines(L.installed(), "3.11.0")
    free = _left_to_pip()
    mine = {k: v for k, v in (p.split("==") for p in pins) if k not in free}
    assert mine == _pins(), "constraints.txt is stale: run `make lock`"


def test_header_names_what_is_left_to_pip():
    assert _left_to_pip() == {"soupsieve"}
    assert not _left_to_pip() & set(_pins())


def test_lock_lines_pins_omits_and_normalises():
    dists = [("Jinja2", "3.1.6", ">=3.7"), ("soupsieve", "4.1.3", ">=3.11.5"), ("rlrec", "0.1.0", ">=3.11"),
             ("pip", "25.0", ">=3.9"), ("typing_extensions", "4.16.0", None), ("odd", "1.0", "not a spec")]
    pins, omitted = L.lock_lines(dists, "3.11.0")
    assert pins == ["jinja2==3.1.6", "odd==1.0", "typing-extensions==4.16.0"]
    assert omitted == ["soupsieve==4.1.3 (Requires-Python >=3.11.5)"]
    pins, omitted = L.lock_lines(dists, "3.12.0")
    assert "soupsieve==4.1.3" in pins and omitted == []
    # the same distribution seen twice (two site dirs): once if the versions agree, an error if not
    assert L.lock_lines([("a", "1", None), ("A", "1", None)], "3.11.0")[0] == ["a==1"]
    with pytest.raises(ValueError, match="dists lists a twice"):
        L.lock_lines([("a", "1", None), ("A", "2", None)], "3.11.0")


def test_oldest_python():
    assert L.oldest_python(">=3.11,<3.13") == "3.11.0"
    assert L.oldest_python(">= 3.12.4") == "3.12.4"
    with pytest.raises(ValueError, match="requires_python must have a '>=X.Y' lower bound"):
        L.oldest_python("<3.13")

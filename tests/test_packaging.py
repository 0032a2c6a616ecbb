"""pyproject.toml and environment.yml must list the same packages with the same ranges."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _parse(req: str) -> tuple[str, str, str]:
    """'name>=1,<2; marker' -> (normalised name, specifier without spaces, marker)."""
    req, _, marker = req.partition(";")
    m = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(?:\[[^\]]*\])?\s*(.*)", req)
    assert m, req
    name = re.sub(r"[-_.]+", "-", m.group(1)).lower()
    spec = ",".join(sorted(s.strip() for s in m.group(2).split(",") if s.strip()))
    return name, spec, " ".join(marker.split())


def _pyproject_requirements() -> set[tuple[str, str, str]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = data["project"]
    reqs = list(project["dependencies"])
    for extra in ("lab", "test"):
        reqs += project["optional-dependencies"][extra]
    return {_parse(r) for r in reqs}


def _environment_requirements() -> tuple[set[tuple[str, str, str]], dict]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_block = next(d for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    reqs = {_parse(r) for r in pip_block["pip"] if not r.startswith("-e")}
    return reqs, env


def test_every_dependency_has_a_compatible_range_not_a_pin():
    for name, spec, _ in _pyproject_requirements():
        assert spec, f"{name} has no version range"
        assert "==" not in spec, f"{name} is pinned exactly ({spec}); use a compatible range"
        assert "<" in spec and ">=" in spec, f"{name} needs a lower and an upper bound, got {spec}"


def test_environment_yml_matches_pyproject():
    pyproject = _pyproject_requirements()
    env_reqs, env = _environment_requirements()
    only_py = sorted(pyproject - env_reqs)
    only_env = sorted(env_reqs - pyproject)
    assert not only_py and not only_env, f"pyproject only: {only_py}; environment.yml only: {only_env}"
    deps = env["dependencies"]
    assert "python=3.11" in deps
    pip_block = next(d for d in deps if isinstance(d, dict) and "pip" in d)
    assert "-e .[lab,test]" in pip_block["pip"]


def test_tensorflow_is_selected_by_platform_markers():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    deps = data["project"]["dependencies"]
    cpu = [d for d in deps if d.startswith("tensorflow-cpu")]
    full = [d for d in deps if d.startswith("tensorflow>") or d.startswith("tensorflow ")]
    assert len(cpu) == 1 and "platform_machine == 'x86_64'" in cpu[0]
    assert len(full) == 1 and "platform_machine != 'x86_64'" in full[0]


def test_parser_detects_a_disagreement():
    a = {_parse("numpy>=2.0,<3")}
    b = {_parse("numpy>=1.26,<3")}
    assert a != b

"""pyproject.toml and environment.yml must list the same packages with the same ranges; every
package the code imports is declared; the build metadata is current (SPDX licence, bounded backend)."""

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import nbformat
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


def _declared_distributions() -> set[str]:
    """Normalised names of every distribution pyproject declares (core and every extra)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    return {_parse(r)[0] for r in reqs}


def top_level_imports(source: str) -> set[str]:
    """Top-level names of the absolute imports in Python ``source`` (IPython magics dropped)."""
    lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    names = set()
    for node in ast.walk(ast.parse("\n".join(lines))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def undeclared_imports(declared: set[str]) -> list[str]:
    """'module (where)' for each third-party import whose distribution is not in ``declared``.

    Scans rlrec_helpers/, tools/, tests/, benchmarks/ and every notebook's code cells. A module
    is local when it is this repository's package, a sibling .py file of the importer, or a
    tools/ or benchmarks/ script.
    """
    sources = [(p, p.read_text()) for d in ("rlrec_helpers", "tools", "tests", "benchmarks")
               for p in sorted((ROOT / d).rglob("*.py"))]
    for nb_path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(nb_path, as_version=4)
        sources += [(nb_path, c.source) for c in nb.cells if c.cell_type == "code"]
    dists = importlib.metadata.packages_distributions()
    bad = set()
    for path, source in sources:
        for mod in top_level_imports(source):
            if mod in sys.stdlib_module_names or mod in ("__future__", "rlrec_helpers"):
                continue
            if any((d / f"{mod}.py").is_file() for d in (path.parent, ROOT / "tools", ROOT / "benchmarks")):
                continue   # a sibling module, or a tools/ or benchmarks/ script a test imports
            owners = {re.sub(r"[-_.]+", "-", d).lower() for d in dists.get(mod, [])}
            if not owners & declared:
                bad.add(f"{mod} (installed by {sorted(owners) or 'nothing'}; in {path.relative_to(ROOT)})")
    return sorted(bad)


def test_every_imported_package_is_declared():
    bad = undeclared_imports(_declared_distributions())
    assert not bad, "declare these in pyproject.toml and environment.yml:\n" + "\n".join(bad)


def test_undeclared_imports_detects_a_missing_declaration():
    declared = _declared_distributions()
    assert any(m.startswith("IPython ") for m in undeclared_imports(declared - {"ipython"}))
    assert any(m.startswith("jinja2 ") for m in undeclared_imports(declared - {"jinja2"}))


def test_build_metadata_uses_an_spdx_licence_and_a_bounded_backend():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (backend,) = data["build-system"]["requires"]
    name, spec, _ = _parse(backend)
    lower = re.search(r">=(\d+)", spec)
    # setuptools >= 77 reads `license = "MIT"`; the table form is deprecated there
    assert name == "setuptools" and lower and int(lower.group(1)) >= 77 and "<" in spec, backend
    project = data["project"]
    assert project["license"] == "MIT"
    for name in project["license-files"]:
        text = (ROOT / name).read_text()
        assert text.startswith("MIT License") and "rlrec authors" in text

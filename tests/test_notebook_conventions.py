"""Every notebook keeps the course's shape (CONTRIBUTING.md) and its README time budget.

These read the committed notebooks; nothing is executed (`make test` runs them under nbval).
"""

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CI_MINUTES = 90            # the CI job's limit on 2 cores
BUDGET_SHARE = 0.5         # "well inside": all budgets together take at most half of it


def parse_budget(text: str) -> float:
    """'5 min' / '30 s' -> minutes; anything else raises ValueError."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(min|s)\s*", text)
    if not m:
        raise ValueError(f"a time budget must read like '5 min' or '30 s', got {text!r}")
    value = float(m.group(1))
    return value if m.group(2) == "min" else value / 60


def notebook_budget(nb) -> float:
    """The budget stated in a notebook's first cell: '**Time budget:** 5 min on 2 CPU cores'."""
    m = re.search(r"\*\*Time budget:\*\*\s*([^\n]*?)\s+on 2 CPU cores", nb.cells[0].source)
    if not m:
        raise ValueError("the first cell must state '**Time budget:** <N min|N s> on 2 CPU cores'")
    return parse_budget(m.group(1))


def readme_budgets(text: str) -> dict[str, float]:
    """{notebook stem: minutes} from the README's notebook table (its 'time budget' column)."""
    table = re.search(r"<!-- notebook-table:start -->(.*?)<!-- notebook-table:end -->", text, re.S)
    if not table:
        raise ValueError("README.md has no notebook table")
    rows = [ln for ln in table.group(1).splitlines() if ln.startswith("|")]
    header = [h.strip() for h in rows[0].strip("|").split("|")]
    col = header.index("time budget (2 cores)")
    out = {}
    for row in rows[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        stem = re.search(r"\[(\d\d_[a-z0-9_]+)\]", cells[1]).group(1)
        out[stem] = parse_budget(cells[col])
    return out


def test_parsers_reject_what_they_cannot_read():
    assert parse_budget("5 min") == 5 and parse_budget("30 s") == 0.5
    for bad in ("about 4 minutes", "2–5 min", ""):
        with pytest.raises(ValueError, match="time budget"):
            parse_budget(bad)
    with pytest.raises(ValueError, match="Time budget"):
        notebook_budget(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 99 · x")]))
    with pytest.raises(ValueError, match="notebook table"):
        readme_budgets("no table here")


def test_readme_budgets_match_the_notebooks_and_fit_in_ci():
    budgets = readme_budgets((ROOT / "README.md").read_text())
    assert sorted(budgets) == [p.stem for p in NOTEBOOKS]
    for path in NOTEBOOKS:
        assert notebook_budget(nbformat.read(path, as_version=4)) == budgets[path.stem], path.name
    assert sum(budgets.values()) <= BUDGET_SHARE * CI_MINUTES


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_shape(path):
    nb = nbformat.read(path, as_version=4)
    intro = nb.cells[0].source
    assert nb.cells[0].cell_type == "markdown" and intro.startswith(f"# {path.stem[:2]} · ")
    assert re.search(r"(?i)learning goals", intro) and "§" in intro          # goals, article sections
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "setup(" in code[0].source                                         # one seeded set-up cell
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "\n## Summary" in markdown and "\n## Exercises" in markdown
    solutions = [i for i, c in enumerate(nb.cells) if "solution" in c.metadata.get("tags", [])]
    assert solutions, "every notebook has exercises with solution cells"
    for i in solutions:
        assert nb.cells[i].metadata.get("jupyter", {}).get("source_hidden") is True   # collapsed
        check = nb.cells[i + 1]
        assert check.cell_type == "code" and "assert" in check.source                  # and checked


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_executed(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), "execute top to bottom with `make execute`"
    for c in code:
        if any(o.output_type == "error" for o in c.outputs):
            assert "raises-exception" in c.metadata.get("tags", []), c.source[:80]

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


def section_refs(text: str) -> set[str]:
    """The article sections a text names; a range '§4.1–§4.3' names §4.1, §4.2 and §4.3."""
    out = set()
    for first, last in re.findall(r"§(\d+(?:\.\d+)?)(?:\s*[–-]\s*§(\d+(?:\.\d+)?))?", text):
        if last and "." in first and "." in last and first.split(".")[0] == last.split(".")[0]:
            major, lo = first.split(".")
            out |= {f"§{major}.{k}" for k in range(int(lo), int(last.split(".")[1]) + 1)}
        else:   # a single section, or a range across major sections: its two ends
            out |= {f"§{first}"} | ({f"§{last}"} if last else set())
    return out


def readme_sections(text: str) -> dict[str, str]:
    """{notebook number: the README table's 'article sections' cell}."""
    table = re.search(r"<!-- notebook-table:start -->(.*?)<!-- notebook-table:end -->", text, re.S).group(1)
    rows = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in table.splitlines() if ln.startswith("|")]
    col = rows[0].index("article sections")
    return {row[0]: row[col] for row in rows[2:]}


def test_section_refs_expands_ranges():
    assert section_refs("§4.1–§4.3, §5 (x), §2.3 point 4") == {"§4.1", "§4.2", "§4.3", "§5", "§2.3"}
    assert section_refs("§4.3–§5.1, §4–§4.3") == {"§4.3", "§5.1", "§4"}   # across sections: the two ends


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_names_the_article_sections_of_the_readme_table(path):
    """The first cell's '**Article sections covered:**' paragraph and the README's row name the
    same sections (a review found two that had drifted apart)."""
    intro = nbformat.read(path, as_version=4).cells[0].source
    m = re.search(r"\*\*Article sections covered:\*\*(.*?)(?:\n\n|$)", intro, re.S)
    assert m, "the first cell must have an '**Article sections covered:**' paragraph"
    row = readme_sections((ROOT / "README.md").read_text())[path.stem[:2]]
    assert section_refs(m.group(1)) == section_refs(row), (m.group(1), row)


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
        hidden = nb.cells[i].metadata.get("jupyter", {})
        # collapsed, input and output: a shown output would give the answer away
        assert hidden.get("source_hidden") is True and hidden.get("outputs_hidden") is True, i
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


# --------------------------------------------------------------------------- nbval sanitizer
# `make test` compares every committed output of a cell without the `nbval-ignore-output` tag,
# after .ci/nbval_sanitize.cfg has replaced what varies between runs. Whatever a pattern
# matches is never compared, so a pattern that also matches a result (a return in minutes, a
# figure height) silently stops CI from checking it. These tests run the committed sanitizer
# over the committed outputs, the way nbval does.

SANITIZE_CFG = ROOT / ".ci" / "nbval_sanitize.cfg"
# What nbval never compares (nbval.plugin: skip_compare, plus images without --nbdime).
_NOT_COMPARED = {"metadata", "traceback", "prompt_number", "output_type", "name", "execution_count",
                 "application/vnd.jupyter.widget-view+json", "image/png", "image/jpeg"}
# A duration the sanitizer may hide must sit on a line that says it is a timing.
_TIMING_CONTEXT = re.compile(r"(?i)\b(took|elapsed|wall|times?|timing|per step|per epoch)\b|/(step|it|epoch)\b")


def sanitize_sections(text: str) -> dict[str, tuple[str, str]]:
    """{section name: (regex, replacement)} from a sanitizer file, parsed as nbval parses it."""
    from nbval.plugin import get_sanitize_patterns

    names = re.findall(r"^\[(.+)\]$", text, re.M)
    pairs = get_sanitize_patterns(text)
    if len(names) != len(pairs):
        raise ValueError(f"{SANITIZE_CFG.name}: every [section] needs one 'regex:' and one 'replace:' line")
    return dict(zip(names, pairs))


def sanitize(text: str, sections: dict[str, tuple[str, str]]) -> str:
    """Apply every pattern in file order, as nbval's ``IPyNbCell.sanitize`` does."""
    for regex, replace in sections.values():
        text = re.sub(regex, replace, text)
    return text


def compared_outputs(path: Path):
    """Yield (cell index, output key, text) for every output string nbval compares in ``path``."""
    import copy

    from nbval.plugin import coalesce_streams, find_comment_markers, find_metadata_tags

    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        opts = dict(find_comment_markers(cell.source))
        opts.update(find_metadata_tags(cell.metadata))
        if opts.get("skip") or opts.get("check") is False:
            continue
        for out in coalesce_streams(copy.deepcopy(cell.outputs)):
            for key, value in out.items():
                if key in _NOT_COMPARED:
                    continue
                items = value.items() if key == "data" else [(key, value)]
                for k, v in items:
                    if k not in _NOT_COMPARED and isinstance(v, str):
                        yield i, k, v


def masked_non_timings(path: Path, sections: dict[str, tuple[str, str]]) -> list[str]:
    """Compared values that the durations/rates/hex patterns would hide though they are not
    timings or addresses: a duration on a line without a timing word, a hex match inside a word."""
    bad = []
    for i, key, text in compared_outputs(path):
        for name in ("durations", "rates"):
            for m in re.finditer(sections[name][0], text):
                line = text[text.rfind("\n", 0, m.start()) + 1:].split("\n", 1)[0]
                if not _TIMING_CONTEXT.search(line):
                    bad.append(f"{path.stem} cell {i} {key}: [{name}] hides {m.group(0)!r} in {line.strip()!r}")
        for m in re.finditer(sections["hex-addresses"][0], text):
            if m.start() > 0 and (text[m.start() - 1].isalnum() or text[m.start() - 1] == "_"):
                bad.append(f"{path.stem} cell {i} {key}: [hex-addresses] hides {m.group(0)!r} inside a word")
    return bad


def test_sanitizer_masks_timings_and_addresses_only():
    sections = sanitize_sections(SANITIZE_CFG.read_text())
    assert {"hex-addresses", "durations", "rates"} <= set(sections)
    # what varies is masked ...
    assert sanitize("<function f at 0x7f3a2b1c9d>", sections) == "<function f at 0xADDRESS>"
    assert sanitize("took 3.21 s", sections) == "took DURATION"
    assert sanitize("25/25 - 0s 12ms/step", sections).count("DURATION") == 2
    # ... results are not: the simulator's reward unit is minutes, and figure sizes are WxH
    for kept in ("return  160.84 ± 0.52 min", "level to reach: 202.1 min",
                 "<Figure size 1200x320 with 3 Axes>", "<Figure size 800x272 with 4 Axes>"):
        assert sanitize(kept, sections) == kept


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_sanitizer_hides_no_compared_result(path):
    bad = masked_non_timings(path, sanitize_sections(SANITIZE_CFG.read_text()))
    assert not bad, "narrow .ci/nbval_sanitize.cfg, or tag the cell nbval-ignore-output:\n" + "\n".join(bad)


def test_masked_non_timings_detects_a_loose_pattern(tmp_path):
    """The check above can fail: the pre-fix patterns (`min` a unit, hex without \\b) are caught."""
    loose = SANITIZE_CFG.read_text().replace(r"\b0x", "0x").replace("|seconds)", "|seconds|min)")
    sections = sanitize_sections(loose)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="return 160.84 ± 0.52 min\ntook 2 min\n"),
        nbformat.v4.new_output("execute_result", data={"text/plain": "<Figure size 1200x320 with 3 Axes>"},
                               execution_count=1)])])
    path = tmp_path / "99_x.ipynb"
    nbformat.write(nb, path)
    bad = masked_non_timings(path, sections)
    assert len(bad) == 2 and "0.52 min" in bad[0] and "0x320" in bad[1]
    assert masked_non_timings(path, sanitize_sections(SANITIZE_CFG.read_text())) == []

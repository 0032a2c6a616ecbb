"""The static course site (`make site`, build/site/) in a real browser, offline.

The index must link every notebook; each page must load from file:// with all its
figures decoded (at least as many <img> as the notebook has image outputs), math rendered
as MathML, no JavaScript errors and no request leaving file://.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
SITE_DIR = ROOT / "build" / "site"
BUILDER = ROOT / "tools" / "build_site.py"
LOCAL = ("file://", "data:", "blob:", "about:")


def notebooks() -> list[Path]:
    return sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def image_outputs(path: Path) -> int:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return sum(1 for c in nb["cells"] if c["cell_type"] == "code"
               for o in c.get("outputs", []) if "image/png" in o.get("data", {}))


@pytest.fixture(scope="session")
def site() -> Path:
    """build/site, rebuilt first if missing or older than a notebook, README or the builder."""
    index = SITE_DIR / "index.html"
    sources = [*notebooks(), ROOT / "README.md", BUILDER]
    if not index.exists() or index.stat().st_mtime < max(p.stat().st_mtime for p in sources):
        spec = importlib.util.spec_from_file_location("build_site", BUILDER)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.build(SITE_DIR)
    return SITE_DIR


@pytest.fixture
def page(browser, console):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    console.attach(page, LOCAL)
    try:
        yield page
    finally:
        context.close()


def _index_links(page, site: Path) -> dict[str, str]:
    page.goto((site / "index.html").as_uri())
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(a => a.href)")
    return {Path(h.split("#")[0]).stem: h for h in hrefs if h.split("#")[0].endswith(".html")}


def test_index_links_every_notebook(site, page, console):
    links = _index_links(page, site)
    expected = {p.stem for p in notebooks()}
    assert expected, "no notebooks found"
    missing = expected - set(links)
    assert not missing, f"index.html has no link to {sorted(missing)}"
    assert page.locator("table tr").count() >= len(expected) + 1
    console.assert_clean("index.html")


@pytest.mark.parametrize("stem", [p.stem for p in notebooks()])
def test_notebook_page_loads_with_figures(stem, site, page, console):
    links = _index_links(page, site)
    assert stem in links, f"index.html has no link to {stem}"
    page.goto(links[stem])  # follow the index's link
    page.wait_for_load_state("load")
    images = page.evaluate("""async () => {
        const imgs = Array.from(document.images);
        await Promise.all(imgs.map(i => i.decode().catch(() => null)));
        return imgs.map(i => ({w: i.naturalWidth, h: i.naturalHeight, src: i.src.slice(0, 40)}));
    }""")
    expected = image_outputs(NOTEBOOK_DIR / f"{stem}.ipynb")
    assert len(images) >= expected, f"{stem}: {len(images)} <img> on the page, the notebook has {expected} figures"
    broken = [i for i in images if i["w"] <= 0 or i["h"] <= 0]
    assert not broken, f"{stem}: images that did not load: {broken}"
    assert page.locator(".jp-Cell").count() > 0, f"{stem}: no notebook cells rendered"
    html = page.content()
    assert 'type="application/vnd.jupyter.widget' not in html, f"{stem}: raw widget state left in the page"
    # every link to another notebook page resolves to a page of the site
    for href in page.eval_on_selector_all("a[href$='.html']", "els => els.map(a => a.href)"):
        if href.startswith("file://"):
            assert Path(href.removeprefix("file://").split("#")[0]).exists(), f"{stem}: broken link {href}"
    console.assert_clean(f"{stem}.html")


def test_math_is_rendered_as_mathml(site, page, console):
    """Notebooks with LaTeX in markdown get <math> elements, not raw $…$ (no MathJax offline)."""
    with_math = [p.stem for p in notebooks()
                 if any(c["cell_type"] == "markdown" and "$" in "".join(c["source"])
                        for c in json.loads(p.read_text(encoding="utf-8"))["cells"])]
    if not with_math:
        pytest.fail("no notebook has LaTeX math; this test would check nothing")
    for stem in with_math:
        page.goto((site / f"{stem}.html").as_uri())
        assert page.locator("math").count() > 0, f"{stem}: LaTeX not converted to MathML"
        assert page.locator("code.tex").count() == 0, f"{stem}: LaTeX left unconverted (code.tex)"
    console.assert_clean("pages with math")


def solution_cells(path: Path) -> int:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return sum(1 for c in nb["cells"] if "solution" in c.get("metadata", {}).get("tags", []))


def test_exercise_solutions_start_closed(site, page, console):
    """Each solution cell sits in a closed <details>: neither its code nor its output (the answer)
    is visible until the reader opens it, as the cell is collapsed in JupyterLab."""
    for path in notebooks():
        page.goto((site / f"{path.stem}.html").as_uri())
        details = page.locator("details.exercise-solution")
        assert details.count() == solution_cells(path) > 0, path.stem
        first = details.first
        assert first.get_attribute("open") is None, path.stem
        assert not first.locator(".jp-Cell").is_visible(), f"{path.stem}: a solution shows before it is opened"
        first.locator("summary").click()
        assert first.locator(".jp-Cell").is_visible(), f"{path.stem}: the opened solution stays hidden"
    console.assert_clean("solution pages")

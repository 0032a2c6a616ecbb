"""Render the executed notebooks to a static, offline HTML course under build/site/.

Usage: python tools/build_site.py [OUT_DIR]        (default: build/site)

- One page per ``notebooks/NN_*.ipynb`` from its stored outputs (notebooks are never
  executed here), plots embedded as PNG data URIs.
- ``index.html``: the notebook table of README.md (between the ``notebook-table``
  markers), with links pointing at the pages; a notebook missing from that table gets a
  row from its title cell.
- Offline: nbconvert's lab template is used without its CDN scripts (require.js, MathJax,
  mermaid, the widget renderer). LaTeX is converted to MathML with ``latex2mathml``
  (Chromium and Firefox render MathML natively). A widget output is replaced by a
  static snapshot: the control values and the output stored in the widget state.
- Links between notebooks (``NN_name.ipynb``) are rewritten to the pages.
- An exercise's solution cell (tagged ``solution``, collapsed in JupyterLab) is closed in a
  ``<details>`` element, so the answer is not on the page until the reader opens it.
"""

from __future__ import annotations

import html
import re
import sys
import warnings
from pathlib import Path

import nbformat
from jinja2 import DictLoader, pass_context
from nbconvert.exporters import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

try:
    from latex2mathml.converter import convert as latex_to_mathml
except ImportError as exc:  # pragma: no cover - install hint
    raise SystemExit("tools/build_site.py needs latex2mathml: pip install -e '.[browser]'") from exc

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

# The lab template minus everything that would load from a CDN.
TEMPLATE = r"""
{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}
<style type="text/css">
nav.site-nav { max-width: 1100px; margin: 0 auto; padding: 12px 20px 0 20px;
  font-family: var(--jp-ui-font-family); font-size: 14px; }
nav.site-nav a { margin-right: 1.5em; }
details.exercise-solution > summary { font-family: var(--jp-ui-font-family); font-size: 13px;
  cursor: pointer; color: var(--jp-brand-color1); margin: 4px 0 4px 20px; }
.widget-snapshot-note { font-family: var(--jp-ui-font-family); font-size: 13px;
  color: var(--jp-ui-font-color2); border-left: 3px solid var(--jp-brand-color1);
  padding: 2px 8px; margin: 4px 0; }
math[display="block"] { margin: 0.6em 0; }
</style>
{%- endblock extra_css -%}
{%- block body_header -%}
{{ super() }}
<nav class="site-nav">
<a href="index.html">&larr; course index</a>
{%- if resources.site_prev %}<a href="{{ resources.site_prev }}.html">previous: {{ resources.site_prev }}</a>{% endif -%}
{%- if resources.site_next %}<a href="{{ resources.site_next }}.html">next: {{ resources.site_next }}</a>{% endif -%}
</nav>
{%- endblock body_header -%}
{%- block footer -%}
</html>
{%- endblock footer -%}
{%- block codecell scoped -%}
{%- if 'solution' in cell.metadata.get('tags', []) -%}
<details class="exercise-solution"><summary>Solution (click to show)</summary>
{{ super() }}
</details>
{%- else -%}
{{ super() }}
{%- endif -%}
{%- endblock codecell -%}
"""

INDEX = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>rlrec: reinforcement learning for recommender systems</title>
<style type="text/css">
body {{ font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; max-width: 1100px;
  margin: 2em auto; padding: 0 1em; line-height: 1.45; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #ccc; padding: 6px 8px; text-align: left; vertical-align: top; }}
th {{ background: #f3f3f3; }}
</style>
</head>
<body>
<h1>rlrec: reinforcement learning for recommender systems</h1>
<p>A static copy of the course notebooks with their stored outputs. Interactive widgets
are shown at their default settings; to move the sliders, run the notebooks in JupyterLab
(<code>make lab</code>).</p>
{table}
{note}
</body>
</html>
"""


def _math(body: str, display: str) -> str:
    """LaTeX -> MathML; keeps the TeX source visible (with a warning) if conversion fails."""
    try:
        return latex_to_mathml(body.strip(), display=display)
    except Exception as exc:  # latex2mathml raises several exception types
        warnings.warn(f"build_site: could not convert LaTeX {body!r} to MathML ({exc})", stacklevel=2)
        return f'<code class="tex">{html.escape(body)}</code>'


class MathMLRenderer(IPythonRenderer):
    """nbconvert's markdown renderer with math rendered as MathML instead of left for MathJax."""

    def block_math(self, body: str) -> str:
        return _math(body, "block")

    def inline_math(self, body: str) -> str:
        return _math(body, "inline")

    def latex_environment(self, name: str, body: str) -> str:
        return _math(f"\\begin{{{name}}}{body}\\end{{{name}}}", "block")


def markdown_to_html(source: str, **renderer_kw) -> str:
    return MarkdownWithMath(renderer=MathMLRenderer(escape=False, **renderer_kw)).render(source)


class SiteExporter(HTMLExporter):
    """The lab HTML exporter with MathML math and the offline template above."""

    @pass_context  # like HTMLExporter.markdown2html: jinja passes the template context
    def markdown2html(self, context, source):
        cell = context.get("cell", {})
        path = context.get("resources", {}).get("metadata", {}).get("path", "")
        return markdown_to_html(source, attachments=cell.get("attachments", {}),
                                embed_images=self.embed_images, path=path,
                                anchor_link_text=self.anchor_link_text,
                                exclude_anchor_links=self.exclude_anchor_links)


def _widget_snapshot(view: dict, state: dict) -> list:
    """Static outputs for one widget view: the control values and the stored output."""
    controls, outputs, seen = [], [], set()

    def walk(model_id: str) -> None:
        if model_id in seen or model_id not in state:
            return
        seen.add(model_id)
        model = state[model_id]
        st = model.get("state", {})
        name = model.get("model_name", "")
        if name == "OutputModel":
            outputs.extend(st.get("outputs", []))
        elif st.get("description") and ("value" in st or "_options_labels" in st):
            if "_options_labels" in st:  # Dropdown & co. store the selected index, not the value
                index = st.get("index")
                value = st["_options_labels"][index] if index is not None else "—"
            else:
                value = st["value"]  # sliders (FloatLogSlider too) store the value itself
            if isinstance(value, float):
                value = f"{value:.4g}"
            controls.append(f"{st['description']} = {value}")
        for child in st.get("children", []):
            if isinstance(child, str) and child.startswith("IPY_MODEL_"):
                walk(child[len("IPY_MODEL_"):])

    walk(view.get("model_id", ""))
    note = ("Interactive widget (run this notebook in JupyterLab with <code>make lab</code> to use it). "
            + ("Stored output at " + html.escape(", ".join(controls)) + ":" if controls else
               "Stored output:" if outputs else "No stored output."))
    snapshot = [nbformat.v4.new_output("display_data", data={
        "text/html": f'<div class="widget-snapshot-note">{note}</div>'})]
    for out in outputs:
        snapshot.append(nbformat.from_dict(out))
    return snapshot


def _replace_widgets(nb) -> None:
    """Replace every widget-view output by its static snapshot; drop the widget state."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        new_outputs = []
        for out in cell.get("outputs", []):
            if WIDGET_VIEW in out.get("data", {}):
                new_outputs.extend(_widget_snapshot(out["data"][WIDGET_VIEW], state))
            else:
                new_outputs.append(out)
        cell.outputs = new_outputs
    nb.metadata.pop("widgets", None)


def _link_pages(text: str, stems: set[str]) -> str:
    """href="…/NN_name.ipynb(#anchor)" -> href="NN_name.html(#anchor)" for notebooks on the site."""

    def sub(m: re.Match) -> str:
        stem = m.group(2)
        return f'href="{stem}.html{m.group(3) or ""}"' if stem in stems else m.group(0)

    return re.sub(r'href="([^"]*?/)?([0-9][0-9]_[^"/#]+)\.ipynb(#[^"]*)?"', sub, text)


def _title(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return ""


def _readme_rows(readme: Path) -> tuple[list[str], dict[str, list[str]], str]:
    """(header cells, stem -> row cells, note below the table) from README's notebook table."""
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    m = re.search(r"<!-- notebook-table:start -->(.*?)<!-- notebook-table:end -->", text, re.S)
    header, rows, note = ["#", "notebook", "article sections", "time budget (2 cores)", "measured"], {}, ""
    if not m:
        return header, rows, note
    lines = [ln.strip() for ln in m.group(1).strip().splitlines()]
    table = [ln for ln in lines if ln.startswith("|")]
    note = "\n".join(ln for ln in lines if ln and not ln.startswith("|"))
    split = [[c.strip() for c in ln.strip("|").split("|")] for ln in table]
    if split:
        header = split[0]
    for cells in split[2:]:
        link = re.search(r"\(notebooks/([^)]+)\.ipynb\)", "|".join(cells))
        if link:
            rows[link.group(1)] = cells
    return header, rows, note


def build_index(pages: list[Path], notebooks: list[Path], readme: Path) -> str:
    header, rows, note = _readme_rows(readme)
    md = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for nb_path in notebooks:
        stem = nb_path.stem
        cells = rows.get(stem)
        if cells is None:  # not (yet) in README: title from the notebook itself
            title = _title(nbformat.read(nb_path, as_version=4))
            cells = [stem[:2], f"[{stem}](notebooks/{stem}.ipynb): {title}"] + ["—"] * (len(header) - 2)
        md.append("| " + " | ".join(cells) + " |")
    stems = {p.stem for p in pages}
    table = _link_pages(markdown_to_html("\n".join(md)), stems)
    note_html = _link_pages(markdown_to_html(note), stems) if note else ""
    return INDEX.format(table=table, note=note_html)


def build(out_dir: Path | str = ROOT / "build" / "site", notebook_dir: Path | str = ROOT / "notebooks",
          readme: Path | str = ROOT / "README.md") -> list[Path]:
    """Write one HTML page per notebook plus index.html into out_dir; return the page paths."""
    out_dir, notebook_dir = Path(out_dir), Path(notebook_dir)
    notebooks = sorted(notebook_dir.glob(NOTEBOOK_GLOB))
    if not notebooks:
        raise ValueError(f"notebook_dir {notebook_dir} holds no {NOTEBOOK_GLOB} notebooks")
    out_dir.mkdir(parents=True, exist_ok=True)
    exporter = SiteExporter(template_name="lab", embed_images=True,
                            extra_loaders=[DictLoader({"rlrec_site.html.j2": TEMPLATE})])
    exporter.template_file = "rlrec_site.html.j2"
    stems = {p.stem for p in notebooks}
    pages = []
    for i, nb_path in enumerate(notebooks):
        nb = nbformat.read(nb_path, as_version=4)
        _replace_widgets(nb)
        nb.metadata["title"] = _title(nb) or nb_path.stem
        resources = {"metadata": {"name": nb_path.stem, "path": str(nb_path.parent)},
                     "site_prev": notebooks[i - 1].stem if i > 0 else "",
                     "site_next": notebooks[i + 1].stem if i + 1 < len(notebooks) else ""}
        body, _ = exporter.from_notebook_node(nb, resources=resources)
        remote = re.findall(r"<(?:script|link)[^>]+(?:src|href)=\"(?:https?:)?//[^\"]+\"", body)
        if remote:
            raise RuntimeError(f"{nb_path.name}: page would load remote resources: {remote[:3]}")
        page = out_dir / f"{nb_path.stem}.html"
        page.write_text(_link_pages(body, stems), encoding="utf-8")
        pages.append(page)
    (out_dir / "index.html").write_text(build_index(pages, notebooks, Path(readme)), encoding="utf-8")
    return pages


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else ROOT / "build" / "site"
    pages = build(out)
    print(f"wrote {len(pages)} notebook pages and index.html to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

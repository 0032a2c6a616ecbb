"""Build a notebook from a percent-format script (a jupytext-compatible subset).

Usage: python tools/nbbuild.py SOURCE.py notebooks/NN_name.ipynb

Cell markers:
    # %% [markdown]                 markdown cell; each line's leading "# " is removed
    # %%                            code cell
    # %% tags=["nbval-ignore-output"]   code cell with tags (JSON list)

A code cell tagged "solution" is stored with its input and output collapsed
(``metadata.jupyter.source_hidden`` and ``outputs_hidden``) so exercise solutions, and their
answers, start hidden in JupyterLab.
Outputs are empty; run ``make execute NB=...`` afterwards to store them.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat

MARKER = re.compile(r"^# %%(?P<md> \[markdown\])?(?:\s+tags=(?P<tags>\[.*\]))?\s*$")


def parse(text: str) -> list:
    cells = []
    kind, tags, lines = None, [], []

    def flush():
        if kind is None:
            return
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(re.sub(r"^# ?", "", ln) for ln in body.split("\n"))
            cell = nbformat.v4.new_markdown_cell(body)
        else:
            cell = nbformat.v4.new_code_cell(body)
        if tags:
            cell.metadata["tags"] = tags
        if "solution" in tags:
            cell.metadata["jupyter"] = {"source_hidden": True, "outputs_hidden": True}
        cells.append(cell)

    for line in text.split("\n"):
        m = MARKER.match(line)
        if m:
            flush()
            kind = "markdown" if m.group("md") else "code"
            tags = json.loads(m.group("tags")) if m.group("tags") else []
            lines = []
        elif kind is not None:
            lines.append(line)
    flush()
    return cells


def build(source: Path, target: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = parse(source.read_text())
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.validate(nb)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    build(Path(sys.argv[1]), Path(sys.argv[2]))

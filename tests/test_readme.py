"""The README's "Reuse it in your research" examples run as they are, in order, in one namespace.

They are the first code a researcher copies; an API change that breaks them must fail here."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _reuse_blocks(text: str) -> list[str]:
    section = re.search(r"<!-- reuse:start -->(.*?)<!-- reuse:end -->", text, re.S)
    assert section, "README.md has no reuse:start / reuse:end section"
    return re.findall(r"```python\n(.*?)```", section.group(1), re.S)


def test_readme_reuse_examples_run(capsys):
    blocks = _reuse_blocks((ROOT / "README.md").read_text())
    assert len(blocks) == 3   # simulator, agents, off-policy evaluation
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    printed = capsys.readouterr().out
    # each block did what its prose says: two simulator means with CIs, the agent's mean, estimates
    assert printed.count("±") == 3
    items, scores = namespace["items"], namespace["scores"]
    assert items.shape == (3,) and len(set(items.tolist())) == 3 and scores.shape == (3,)
    assert "'IPS'" in printed and "'DR'" in printed


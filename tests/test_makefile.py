"""The Makefile's user-facing targets, checked with `make -n` (nothing is run)."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def dry_run(target: str) -> str:
    return subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def test_make_lab_opens_the_notebooks_and_allows_root_only_as_root():
    lab = [ln for ln in dry_run("lab").splitlines() if " lab " in ln and "jupyter" in ln]
    assert len(lab) == 1 and "--ServerApp.root_dir=notebooks" in lab[0]
    assert ("--allow-root" in lab[0]) == (os.getuid() == 0)   # Jupyter refuses root without it


def test_make_execute_uses_the_sliced_poll_executor():
    cmd = [ln for ln in dry_run("execute").splitlines() if "execute_notebooks.py" in ln]
    assert len(cmd) == 1 and "notebooks/00_course_map.ipynb" in cmd[0] and "notebooks/10_" in cmd[0]

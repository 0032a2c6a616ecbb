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


def test_python_check_rejects_an_unsupported_interpreter(tmp_path):
    fake = tmp_path / "python3.13"   # answers -V like Python 3.13 and fails the version test like it
    fake.write_text('#!/bin/sh\nif [ "$1" = "-V" ]; then echo "Python 3.13.1"; exit 0; fi\nexit 1\n')
    fake.chmod(0o755)
    bad = subprocess.run(["make", "python-check", f"PYTHON={fake}"], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode != 0 and "needs Python 3.11 or 3.12" in bad.stdout and "Python 3.13.1" in bad.stdout
    good = subprocess.run(["make", "python-check", f"PYTHON={ROOT / '.venv' / 'bin' / 'python'}"], cwd=ROOT,
                          capture_output=True, text=True)
    assert good.returncode == 0, good.stdout + good.stderr

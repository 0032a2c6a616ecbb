"""The Makefile's user-facing targets, checked with `make -n` (a dry run: nothing is run, not even on a
clean clone without .venv) or in a scratch copy with a fake interpreter."""

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


def _scratch_project(tmp_path: Path, version: str) -> tuple[Path, Path, Path]:
    """A copy of the Makefile, pyproject.toml and constraints.txt in ``tmp_path/proj`` (no .venv) and a fake
    interpreter that logs each call to ``calls.log``, reports Python ``version`` and passes the
    version test iff it is 3.11 or 3.12; its ``-m venv DIR`` creates DIR/bin/python, a fake
    that only logs. Returns (project dir, fake interpreter, log)."""
    proj = tmp_path / "proj"
    proj.mkdir(parents=True)
    for name in ("Makefile", "pyproject.toml", "constraints.txt"):
        (proj / name).write_text((ROOT / name).read_text())
    log = tmp_path / "calls.log"
    ok = 0 if version.startswith(("3.11.", "3.12.")) else 1
    fake = tmp_path / "fakepython"
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$0 $*" >> {log}\n'
        f'if [ "$1" = "-V" ]; then echo "Python {version}"; exit 0; fi\n'
        'if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then mkdir -p "$3/bin"; '
        f'printf \'#!/bin/sh\\necho "$0 $*" >> {log}\\n\' > "$3/bin/python"; chmod +x "$3/bin/python"; exit 0; fi\n'
        f"exit {ok}\n"
    )
    fake.chmod(0o755)
    return proj, fake, log


def test_dry_run_on_a_clean_clone_runs_nothing(tmp_path):
    """`make -n` must not create .venv: a recipe line with $(MAKE) in it would run even under -n."""
    proj, fake, log = _scratch_project(tmp_path, "3.11.9")
    for target in ("lab", "test", "install", "site"):
        out = subprocess.run(["make", "-n", target, f"PYTHON={fake}"], cwd=proj, capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "-m venv .venv" in out.stdout, out.stdout        # the dry run shows the step ...
    assert not (proj / ".venv").exists()                       # ... and does not take it
    assert not log.exists(), log.read_text()


def test_first_install_checks_the_version_before_creating_the_venv(tmp_path):
    proj, bad, log = _scratch_project(tmp_path, "3.13.1")
    out = subprocess.run(["make", "install", f"PYTHON={bad}"], cwd=proj, capture_output=True, text=True)
    assert out.returncode != 0 and "needs Python 3.11 or 3.12" in out.stdout and "Python 3.13.1" in out.stdout
    assert not (proj / ".venv").exists() and "-m venv" not in log.read_text()

    proj_ok, good, log_ok = _scratch_project(tmp_path / "ok", "3.11.9")
    out = subprocess.run(["make", "install", f"PYTHON={good}"], cwd=proj_ok, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    calls = log_ok.read_text().splitlines()
    assert calls[-3].endswith("-m venv .venv")                 # after the version test passed
    assert calls[-2].endswith("-m pip install --quiet --upgrade pip") and ".venv/bin/python" in calls[-2]
    assert calls[-1].endswith('-m pip install --quiet -c constraints.txt -e .[lab,test,browser]')
    assert (proj_ok / ".venv" / ".installed-stamp").is_file()


def _normalise(cmd: str) -> str:
    return " ".join(cmd.replace("\\\n", " ").split())


def test_readme_conda_commands_are_what_the_targets_run():
    """README's "Without make: conda" block repeats the Makefile's recipes with `python` for
    `.venv/bin/python`; each command (and the exported settings) must match a `make -n` line."""
    import re

    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Without make: conda\n.*?```bash\n(.*?)```", readme, re.S)
    assert block, "README.md has no conda block"
    recipes = _normalise("\n".join(dry_run(t) for t in ("data", "lab", "test", "execute", "site", "test-browser")))
    notebooks = " ".join(sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")))
    commands = [c.split("#")[0].strip() for c in block.group(1).replace("\\\n", " ").splitlines()]
    checked = 0
    for cmd in commands:
        if cmd.startswith(("python ", "jupyter ")):
            cmd = cmd.replace("notebooks/[0-9][0-9]_*.ipynb", notebooks)
            cmd = re.sub(r"^(python|jupyter) ", r".venv/bin/\1 ", cmd)
            if " pip install " in cmd:   # the browser extra: the Makefile installs all extras at once
                continue
            assert _normalise(cmd) in recipes, cmd
            checked += 1
    assert checked == 7
    (export,) = [c for c in commands if c.startswith("export ")]
    makefile = (ROOT / "Makefile").read_text()
    exported = dict(re.findall(r"^export (\w+) := (\S+)$", makefile, re.M))
    assert dict(kv.split("=") for kv in export.split()[1:]) == exported

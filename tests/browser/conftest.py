"""Fixtures for the real-browser tests (`make test-browser`).

- ``browser``: the system Chromium driven by Playwright (never a downloaded browser).
  Path: ``$RLREC_CHROMIUM`` if set, else ``/usr/bin/chromium``. Missing -> the suite
  fails (it does not skip) and says how to install it.
- ``lab``: JupyterLab on 127.0.0.1 (free port, random token, throw-away settings,
  workspace and runtime directories, news and update checks off) serving a temporary
  copy of notebooks/, so autosave never touches the committed notebooks. It is shut down
  even when a test fails: SIGTERM then SIGKILL to the server's process group, then the
  kernels it started (they run in their own sessions; found by our runtime directory).
- ``console``: per page, records browser console errors, uncaught page errors and
  requests that leave the machine.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
SCREENSHOT_DIR = ROOT / "build" / "screenshots"
SITE_DIR = ROOT / "build" / "site"
DEFAULT_CHROMIUM = "/usr/bin/chromium"

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--disable-default-apps", "--disable-extensions",
]

# Console messages that are not errors of the course. Each entry: (substring, why ignored).
# Keep this list short; every entry needs a reason.
IGNORED_CONSOLE_ERRORS: list[tuple[str, str]] = []


def chromium_executable() -> str:
    """Path to the system Chromium, or pytest.fail naming the fix."""
    override = os.environ.get("RLREC_CHROMIUM", "").strip()
    path = override or DEFAULT_CHROMIUM
    if os.path.isfile(path) and os.access(path, os.X_OK):
        return path
    where = f"RLREC_CHROMIUM={override!r} is not an executable file" if override else \
        f"no Chromium at {DEFAULT_CHROMIUM}"
    pytest.fail(
        f"Browser tests need a system Chromium ({where}). Fix: on Debian/Ubuntu run "
        "`sudo apt-get install chromium` (gives /usr/bin/chromium), or set RLREC_CHROMIUM to the "
        "path of a Chromium/Chrome executable. Do not run `playwright install`.",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def browser():
    path = chromium_executable()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Browser tests need Playwright: .venv/bin/python -m pip install -e '.[browser]' "
                    "(or `make test-browser`, which installs it).", pytrace=False)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@dataclass
class ConsoleLog:
    """Everything a page said that a test may want to fail on."""

    errors: list[str] = field(default_factory=list)
    remote_requests: list[str] = field(default_factory=list)

    def attach(self, page, local_prefixes: tuple[str, ...]) -> None:
        def on_console(msg):
            if msg.type == "error":
                text = msg.text
                loc = msg.location or {}
                if not any(pattern in text for pattern, _ in IGNORED_CONSOLE_ERRORS):
                    self.errors.append(f"console.error: {text} (at {loc.get('url', '?')}:"
                                       f"{loc.get('lineNumber', '?')})")

        def on_pageerror(exc):
            self.errors.append(f"uncaught page error: {exc}")

        def on_request(req):
            if not req.url.startswith(local_prefixes):
                self.remote_requests.append(req.url)

        page.on("console", on_console)
        page.on("pageerror", on_pageerror)
        page.on("request", on_request)

    def assert_clean(self, what: str) -> None:
        assert not self.errors, f"{what}: JavaScript errors in the browser console:\n  " + \
            "\n  ".join(self.errors)
        assert not self.remote_requests, f"{what}: requests outside the local machine:\n  " + \
            "\n  ".join(self.remote_requests[:20])


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENSHOT_DIR


# --- JupyterLab server ---


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    log: Path

    def api(self, method: str, path: str, timeout: float = 10) -> object:
        req = urllib.request.Request(f"{self.url}{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no server log)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kernel_pids(runtime_dir: Path) -> list[int]:
    """PIDs of processes whose command line names our runtime dir (the kernels we started)."""
    pids, needle = [], str(runtime_dir).encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if needle in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def _stop(server: subprocess.Popen, runtime_dir: Path) -> None:
    """SIGTERM the server's process group (it shuts its kernels down), then SIGKILL leftovers."""
    try:
        pgid = os.getpgid(server.pid)
    except ProcessLookupError:
        pgid = None
    if pgid is not None:
        try:
            os.killpg(pgid, signal.SIGTERM)
            server.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    server.wait(timeout=10)
    for pid in _kernel_pids(runtime_dir):  # kernels run in their own sessions
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    base = tmp_path_factory.mktemp("lab")
    root = base / "notebooks"
    # A copy: JupyterLab autosaves. rlrec_helpers is installed (editable) and finds data/
    # from its own location, so the copy runs like the original.
    shutil.copytree(NOTEBOOK_DIR, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings = base / "settings"
    for plugin, values in {
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
        # every cell in the DOM, so the tests can see all prompts and outputs
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    }.items():
        f = settings / f"{plugin}.jupyterlab-settings"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(values))
    runtime = base / "runtime"
    runtime.mkdir()
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # tests/conftest.py sets Agg; the notebooks need inline plots
    env.update(JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
               JUPYTER_RUNTIME_DIR=str(runtime), PYTHONUNBUFFERED="1")
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}",
           f"--IdentityProvider.token={token}"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = base / "server.log"
    with open(log, "wb") as log_fh:
        server = subprocess.Popen(cmd, stdout=log_fh, stderr=subprocess.STDOUT, env=env,
                                  cwd=root, start_new_session=True)
    lab = Lab(url=f"http://127.0.0.1:{port}", token=token, root=root, log=log)
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited with code {server.returncode}:\n{lab.log_tail()}")
            try:
                lab.api("GET", "/api/status", timeout=2)
                break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer within 90 s:\n{lab.log_tail()}")
                time.sleep(0.5)
        yield lab
    finally:
        _stop(server, runtime)


@pytest.fixture
def console():
    return ConsoleLog()

"""Execute notebooks in place, top to bottom, storing their outputs: what ``make execute`` runs.

Usage: python tools/execute_notebooks.py [--timeout SECONDS] [--output-dir DIR] NOTEBOOK.ipynb [...]

``--output-dir`` writes the executed copies there and leaves the notebooks untouched (the
kernel still runs in each notebook's own folder).

The same as ``jupyter nbconvert --to notebook --execute --inplace`` (nbconvert's
``ExecutePreprocessor`` is this ``nbclient.NotebookClient``; the kernel runs in the notebook's
folder), with one difference: the client waits for each cell's ``execute_reply`` in
:data:`POLL_SLICE`-second polls instead of one poll as long as the cell timeout.

Why: on this project's machine, ``jupyter nbconvert --execute`` once stalled for exactly the
cell timeout (1,200 s) after notebook 10's widget cell, then carried on without error. The
kernel had sent that cell's reply 1,200 s earlier (its ``shell.execute_reply`` time); the
client's ``zmq.asyncio`` poll of the shell channel was never woken, and found the reply only
when its timeout ran out and it looked at the socket again. A likely cause: while it waits,
nbclient's handler for ipywidgets ``Output`` widgets sends ``comm_msg`` updates on that same
socket (``nbclient.output_widget.OutputWidget.sync_state``); jupyter/nbclient#312 reports the
same symptom for cells with widgets. Polling in short slices looks at the socket every
second, so such a stall lasts at most a second; the cell timeout is unchanged. nbval
(``make test``) reads replies with a blocking client and sends nothing while it waits.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from queue import Empty

import nbformat
from nbclient import NotebookClient
from nbclient.util import run_sync

POLL_SLICE = 1.0  # seconds


def sliced_get_msg(get_msg, slice_seconds: float = POLL_SLICE, clock=time.monotonic):
    """Wrap an async ``get_msg(timeout)`` so that it polls in slices of at most ``slice_seconds``.

    Returns the first message any slice finds; raises ``queue.Empty`` once ``timeout`` seconds
    have passed without one (``timeout=None``: wait for ever), as the wrapped call does.
    ``clock`` (seconds, monotonic) measures that timeout: ``time.monotonic`` except in tests,
    which pass a fake clock so that the number and length of the slices do not depend on how
    busy the machine is.
    """
    if not slice_seconds > 0:
        raise ValueError(f"slice_seconds must be > 0, got {slice_seconds!r}")

    async def get_msg_sliced(timeout: float | None = None):
        deadline = None if timeout is None else clock() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - clock())
            try:
                return await get_msg(timeout=slice_seconds if left is None else min(slice_seconds, left))
            except Empty:
                if deadline is not None and clock() >= deadline:
                    raise

    return get_msg_sliced


class SlicedPollClient(NotebookClient):
    """``NotebookClient`` whose shell channel is polled in :data:`POLL_SLICE`-second slices."""

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        channel = kc.shell_channel  # created once and cached by the kernel client
        channel.get_msg = sliced_get_msg(channel.get_msg)
        return kc

    # the base class binds its synchronous twin (used by ``setup_kernel``) to its own coroutine
    start_new_kernel_client = run_sync(async_start_new_kernel_client)


def execute_notebook(path: str | Path, timeout: int = 1200, kernel_name: str = "python3",
                     output: str | Path | None = None) -> Path:
    """Execute one notebook in its own folder and write it with its outputs to ``output``
    (default: in place). Returns the path written."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"notebook {str(path)!r} does not exist")
    if not isinstance(timeout, int) or timeout < 1:
        raise ValueError(f"timeout must be a whole number of seconds >= 1, got {timeout!r}")
    nb = nbformat.read(path, as_version=4)
    SlicedPollClient(nb, timeout=timeout, kernel_name=kernel_name,
                     resources={"metadata": {"path": str(path.parent)}}).execute()
    output = path if output is None else Path(output)
    nbformat.write(nb, output)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+")
    parser.add_argument("--timeout", type=int, default=1200, help="per-cell timeout in seconds")
    parser.add_argument("--output-dir", help="write the executed notebooks here instead of in place")
    args = parser.parse_args(argv)
    if args.output_dir:
        Path(args.output_dir).mkdir(parents=True, exist_ok=True)
    for nb in args.notebooks:
        print(f"executing {nb}", flush=True)
        start = time.monotonic()
        out = execute_notebook(nb, timeout=args.timeout,
                               output=Path(args.output_dir) / Path(nb).name if args.output_dir else None)
        print(f"  {nb} took {time.monotonic() - start:.0f} s -> {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""tools/execute_notebooks.py: the executor behind `make execute`."""

import asyncio
import importlib.util
import sys
from pathlib import Path
from queue import Empty

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("execute_notebooks", ROOT / "tools" / "execute_notebooks.py")
ex = importlib.util.module_from_spec(_spec)
sys.modules["execute_notebooks"] = ex
_spec.loader.exec_module(ex)


class FakeClock:
    """A monotonic clock that only moves when a fake poll says so: no wall-clock dependence."""

    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeChannel:
    """An async get_msg(timeout) that has a message only from its n-th poll on.

    An empty poll advances ``clock`` by ``overrun`` times its timeout, as a real poll waits
    ``timeout`` seconds (``overrun`` > 1: a busy machine wakes the poll late).
    """

    def __init__(self, ready_from: int | None, clock: FakeClock | None = None, overrun: float = 1.0):
        self.ready_from, self.timeouts, self.started = ready_from, [], []
        self.clock, self.overrun = clock or FakeClock(), overrun

    async def get_msg(self, timeout=None):
        self.timeouts.append(timeout)
        self.started.append(self.clock.now)
        if self.ready_from is not None and len(self.timeouts) >= self.ready_from:
            return {"msg_type": "execute_reply"}
        await asyncio.sleep(0)
        if timeout is not None:
            self.clock.now += self.overrun * timeout
        raise Empty


def test_a_message_that_a_long_poll_would_miss_is_found_by_the_next_slice():
    clock = FakeClock()
    ch = FakeChannel(ready_from=4, clock=clock)
    msg = asyncio.run(ex.sliced_get_msg(ch.get_msg, 0.01, clock=clock)(timeout=1200))
    assert msg == {"msg_type": "execute_reply"}
    assert ch.timeouts == [0.01] * 4                       # never one 1200 s poll


def test_the_timeout_is_kept_and_raises_empty():
    clock = FakeClock()
    start = clock.now
    ch = FakeChannel(ready_from=None, clock=clock)
    with pytest.raises(Empty):
        asyncio.run(ex.sliced_get_msg(ch.get_msg, 0.5, clock=clock)(timeout=1.25))
    assert ch.timeouts == [0.5, 0.5, 0.25]                  # the last slice is cut to the time left
    assert sum(ch.timeouts) == 1.25                          # the slices add up to the timeout
    assert clock.now - start == 1.25                         # Empty is raised at the deadline, not later


@pytest.mark.parametrize("overrun", [1.0, 1.7, 3.0, 100.0])
@pytest.mark.parametrize("slice_seconds, timeout", [(0.02, 0.05), (0.5, 1.25), (1.0, 0.3), (0.1, 0.0)])
def test_late_polls_never_extend_the_timeout(overrun, slice_seconds, timeout):
    clock = FakeClock()
    start = clock.now
    ch = FakeChannel(ready_from=None, clock=clock, overrun=overrun)
    with pytest.raises(Empty):
        asyncio.run(ex.sliced_get_msg(ch.get_msg, slice_seconds, clock=clock)(timeout=timeout))
    deadline = start + timeout                                 # as the wrapper computes it
    assert ch.timeouts and max(ch.timeouts) <= slice_seconds   # every poll is at most one slice
    assert sum(ch.timeouts) <= timeout + 1e-12                 # the polls never ask for more than the timeout
    assert clock.now >= deadline                               # Empty only once the deadline has passed ...
    assert all(t < deadline for t in ch.started[1:])           # ... and no new poll starts after it


def test_a_reply_on_a_late_poll_is_returned_before_the_deadline():
    clock = FakeClock()
    ch = FakeChannel(ready_from=4, clock=clock, overrun=1.5)
    msg = asyncio.run(ex.sliced_get_msg(ch.get_msg, 0.25, clock=clock)(timeout=10))
    assert msg == {"msg_type": "execute_reply"} and len(ch.timeouts) == 4
    assert max(ch.timeouts) <= 0.25


def test_the_real_clock_is_the_default():
    import inspect
    import time
    assert inspect.signature(ex.sliced_get_msg).parameters["clock"].default is time.monotonic


def test_no_timeout_waits_in_slices():
    ch = FakeChannel(ready_from=3)
    assert asyncio.run(ex.sliced_get_msg(ch.get_msg, 0.01)(timeout=None))["msg_type"] == "execute_reply"
    assert ch.timeouts == [0.01, 0.01, 0.01]


def test_bad_arguments():
    with pytest.raises(ValueError, match="slice_seconds"):
        ex.sliced_get_msg(FakeChannel(1).get_msg, 0)
    with pytest.raises(ValueError, match="does not exist"):
        ex.execute_notebook(ROOT / "notebooks" / "no_such_notebook.ipynb")
    with pytest.raises(ValueError, match="timeout"):
        ex.execute_notebook(ROOT / "notebooks" / "00_course_map.ipynb", timeout=0)


def test_executes_in_place_in_the_notebooks_folder_with_widget_outputs(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os\nprint(os.path.basename(os.getcwd()))"),
                nbformat.v4.new_code_cell("import ipywidgets as W\nfrom IPython.display import display\n"
                                          "out = W.Output()\ndisplay(out)\nwith out:\n    print('inside')"),
                nbformat.v4.new_code_cell("1 + 1")]
    folder = tmp_path / "course"
    folder.mkdir()
    path = folder / "tiny.ipynb"
    nbformat.write(nb, path)
    assert ex.main([str(path)]) == 0
    done = nbformat.read(path, as_version=4)
    assert [c.execution_count for c in done.cells] == [1, 2, 3]
    assert done.cells[0].outputs[0]["text"] == "course\n"             # the kernel ran in the notebook's folder
    assert done.cells[2].outputs[0]["data"]["text/plain"] == "2"
    widgets = done.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    outs = [m["state"]["outputs"] for m in widgets.values() if m["model_name"] == "OutputModel"]
    assert outs == [[{"output_type": "stream", "name": "stdout", "text": "inside\n"}]]   # the Output widget's capture


def test_output_dir_leaves_the_notebook_untouched(tmp_path):
    path = tmp_path / "nb" / "tiny.ipynb"
    path.parent.mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")]), path)
    before = path.read_bytes()
    assert ex.main(["--output-dir", str(tmp_path / "out"), str(path)]) == 0
    assert path.read_bytes() == before
    assert nbformat.read(tmp_path / "out" / "tiny.ipynb", as_version=4).cells[0].outputs[0]["text"] == "42\n"


def test_the_client_polls_its_shell_channel_in_slices():
    client = ex.SlicedPollClient(nbformat.v4.new_notebook(), kernel_name="python3")
    with client.setup_kernel():          # the synchronous set-up path
        assert client.kc.shell_channel.get_msg.__name__ == "get_msg_sliced"
        assert client.kc.iopub_channel.get_msg.__name__ == "get_msg"       # only the shell channel
    seen = []                            # the path `execute()` takes
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    client = ex.SlicedPollClient(nb, kernel_name="python3",
                                 on_cell_execute=lambda **_: seen.append(client.kc.shell_channel.get_msg.__name__))
    client.execute()
    assert seen == ["get_msg_sliced"]

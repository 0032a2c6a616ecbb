"""Fetch and verify the course's data, from the folder that holds it.

    python data/fetch.py fetch [--if-missing]     # download the Open Bandit Dataset sample (make data)
    python data/fetch.py verify                   # check every file against its pinned sha256

The same command as ``python -m rlrec_helpers.data``: the pinned sha256 values, the
hash-checked download and the extraction live in ``rlrec_helpers/data.py``, because the loaders
check the same values. Needs the project installed (``make install``, or ``pip install -e .``).
See ``data/README.md``. The pre-trained weights in ``data/pretrained/`` are committed, not
fetched; ``rlrec_helpers.agents.reinforce.load_pretrained`` checks their sha256.
"""

from rlrec_helpers.data import main

if __name__ == "__main__":
    raise SystemExit(main())

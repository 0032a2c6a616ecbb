"""Shared helpers for the rlrec course notebooks.

Layers run one way:

* ``mdp``, ``bandits``, ``policy_gradient``, ``simulator``, ``ope``, ``data`` and
  ``stats`` use numpy and pandas only;
* ``agents`` (TensorFlow/Keras) may use ``simulator``;
* only ``plotting`` and ``widgets`` draw;
* ``_validate`` (private, numpy only, imports no other module of the package) holds the
  argument checkers every layer shares (``check_int``, ``check_real``, ``check_distribution``, ...).

Importing the package sets the two environment variables that keep TensorFlow quiet
and its numerics identical between ``make execute`` and ``make test`` (see
``rlrec_helpers.setup``). They only take effect if TensorFlow is imported afterwards.
"""

import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

__version__ = "0.1.0"

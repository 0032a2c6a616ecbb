"""One call that prepares a notebook: seeds, determinism, quiet TensorFlow, plot theme.

Every notebook calls :func:`setup` in its first code cell::

    from rlrec_helpers.setup import setup
    rng = setup(seed=0)

``setup`` seeds Python's ``random``, numpy's legacy global state and (if asked)
TensorFlow, turns on TF op determinism, and sets the course's seaborn theme. It returns a
fresh ``numpy.random.Generator`` seeded with the same seed; helpers take a ``seed`` or an
``rng`` argument derived from it, so one number reproduces a whole notebook.
"""

from __future__ import annotations

import os
import random

import numpy as np

from rlrec_helpers._validate import check_int

#: Environment variables that must be set before TensorFlow is imported. The same values
#: are set for ``make execute`` and ``make test`` (see the Makefile), so stored outputs and
#: CI outputs come from identical numerics (oneDNN changes Keras losses in the 7th digit).
TF_QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}


def quiet_tensorflow() -> None:
    """Set :data:`TF_QUIET_ENV` (no-op for variables already set by the caller)."""
    for key, value in TF_QUIET_ENV.items():
        os.environ.setdefault(key, value)


def seed_everything(seed: int, *, use_tf: bool = True) -> np.random.Generator:
    """Seed ``random``, numpy and (when ``use_tf``) TensorFlow; return a numpy Generator.

    Raises ``ValueError`` if ``seed`` is not a non-negative integer.
    """
    seed = check_int("seed", seed, 0)
    quiet_tensorflow()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if use_tf:
        import tensorflow as tf  # imported lazily: numpy-only notebooks stay fast

        tf.keras.utils.set_random_seed(seed)  # seeds python, numpy and tf together
        try:
            tf.config.experimental.enable_op_determinism()
        except Exception:  # pragma: no cover - only if the runtime is already configured
            pass
    return np.random.default_rng(seed)


def setup(seed: int = 0, *, use_tf: bool = False) -> np.random.Generator:
    """Prepare a notebook: quiet TF, seed everything, set the plot theme.

    Args:
        seed: the notebook's single seed.
        use_tf: also import and seed TensorFlow and enable op determinism. Notebooks that
            do not use TF pass ``False`` (the default) and skip its ~2 s import.

    Returns:
        ``numpy.random.default_rng(seed)``.
    """
    quiet_tensorflow()
    rng = seed_everything(seed, use_tf=use_tf)
    from rlrec_helpers.plotting import set_theme  # drawing stays in plotting

    set_theme()
    return rng

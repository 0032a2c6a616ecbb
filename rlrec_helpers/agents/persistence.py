"""Saving and loading the agents' Keras models as ``.keras`` files, with clear errors.

Shared by :class:`rlrec_helpers.agents.reinforce.ReinforceAgent` and
:class:`rlrec_helpers.agents.transformer.TransformerAgent`; each agent checks its own
configuration on top of :func:`load_keras_model`.
"""

from __future__ import annotations

from pathlib import Path

from rlrec_helpers.setup import quiet_tensorflow

quiet_tensorflow()

import keras  # noqa: E402


def save_keras_model(model: keras.Model, path: str | Path) -> Path:
    """Write ``model`` to ``path`` (which must end in ``.keras``), creating parent folders."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"path must end in '.keras', got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return path


def load_keras_model(path: str | Path, model_class: type, owner: str) -> keras.Model:
    """Load a ``.keras`` file and check that it holds a ``model_class`` (the network of the
    agent class named ``owner``, which the error messages name).

    Raises ``ValueError`` if ``path`` is not a file, Keras cannot read it, or it holds
    another kind of model.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path {str(path)!r} is not a file")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as err:  # keras raises several types for foreign files
        raise ValueError(f"could not load a {model_class.__name__} from {str(path)!r}: {err}") from None
    if not isinstance(model, model_class):
        raise ValueError(f"{str(path)!r} holds a {type(model).__name__}, not a {model_class.__name__} "
                         f"(the network of a {owner})")
    return model

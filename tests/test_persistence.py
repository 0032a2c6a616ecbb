"""rlrec_helpers.agents.persistence: .keras save/load with clear errors."""

import numpy as np
import pytest

from rlrec_helpers.agents.persistence import load_keras_model, save_keras_model


def _dense():
    import keras

    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])


def test_round_trip_creates_folders_and_keeps_weights(tmp_path):
    import keras

    model = _dense()
    path = save_keras_model(model, tmp_path / "sub" / "m.keras")
    assert path.is_file()
    loaded = load_keras_model(path, keras.Sequential, "TestAgent")
    x = np.ones((4, 3), np.float32)
    np.testing.assert_array_equal(model(x).numpy(), loaded(x).numpy())


def test_errors_name_the_problem(tmp_path):
    import keras

    with pytest.raises(ValueError, match=r"must end in '\.keras'"):
        save_keras_model(_dense(), tmp_path / "m.h5")
    with pytest.raises(ValueError, match="not a file"):
        load_keras_model(tmp_path / "missing.keras", keras.Sequential, "TestAgent")
    (tmp_path / "junk.keras").write_text("not a model")
    with pytest.raises(ValueError, match="could not load a Sequential"):
        load_keras_model(tmp_path / "junk.keras", keras.Sequential, "TestAgent")
    path = save_keras_model(_dense(), tmp_path / "m.keras")

    class OtherNetwork(keras.Model):
        pass

    with pytest.raises(ValueError, match="holds a Sequential, not a OtherNetwork .*the network of a TestAgent"):
        load_keras_model(path, OtherNetwork, "TestAgent")

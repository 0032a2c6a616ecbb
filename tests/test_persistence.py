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


# ------------------------------------------------------------------ shipped weights, pinned sha256


def test_every_shipped_weights_file_has_its_pinned_sha256():
    from rlrec_helpers.agents import reinforce as R
    from rlrec_helpers.data import sha256_file

    shipped = {p.name: sha256_file(p) for p in R.PRETRAINED_DIR.glob("*.keras")}
    assert len(shipped) == 7
    assert shipped == R.PRETRAINED_SHA256, "update PRETRAINED_SHA256 after retraining the shipped weights"
    import re

    readme = (R.PRETRAINED_DIR / "README.md").read_text()
    listed = dict(re.findall(r"\| `(reinforce_\w+\.keras)` \| `([0-9a-f]{64})` \|", readme))
    assert listed == shipped, "data/pretrained/README.md's sha256 table is out of date"


def test_load_pretrained_refuses_a_file_that_differs(tmp_path, monkeypatch):
    import re

    from rlrec_helpers.agents import reinforce as R

    original = (R.PRETRAINED_DIR / "reinforce_default.keras").read_bytes()
    (tmp_path / "reinforce_default.keras").write_bytes(original + b"\0")   # still a valid zip
    (tmp_path / "reinforce_unknown.keras").write_bytes(original)
    monkeypatch.setattr(R, "PRETRAINED_DIR", tmp_path)
    pinned = R.PRETRAINED_SHA256["reinforce_default.keras"][:12]
    with pytest.raises(ValueError, match=re.escape(f"does not match the pinned {pinned}…") + ".*verify=False"):
        R.load_pretrained("default")
    agent = R.load_pretrained("default", verify=False)   # your own weights: only the config is checked
    assert agent.config == R.AgentConfig.for_env("default")
    with pytest.raises(ValueError, match="has no pinned sha256"):
        R.load_pretrained("unknown")

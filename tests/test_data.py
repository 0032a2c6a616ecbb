"""Tests for rlrec_helpers.data: the Open Bandit Dataset sample (needs `make data` once).

Tests that damage files work on copies in tmp_path, never on data/open_bandit/.
"""

import io
import shutil
import tarfile

import numpy as np
import pytest

from rlrec_helpers import data
from rlrec_helpers.data import (
    CAMPAIGNS,
    DEFAULT_DATA_DIR,
    FILE_SHA256,
    load_bts_prior,
    load_open_bandit,
)


@pytest.fixture
def sample_copy(tmp_path):
    dest = tmp_path / "open_bandit"
    shutil.copytree(DEFAULT_DATA_DIR, dest)
    return dest


def test_sample_is_fetched_and_verified():
    assert data.verify_all() == [], "run `make data` first"


@pytest.mark.parametrize("policy,clicks", [("random", 38), ("bts", 42)])
def test_all_campaign_shapes_and_clicks(policy, clicks):
    d = load_open_bandit(policy, "all")
    n = 10_000
    assert d.n_rounds == n and d.n_actions == 80 and d.len_list == 3
    assert d.action.dtype == np.int64 and d.position.dtype == np.int64
    assert d.reward.dtype == np.float64 and d.propensity.dtype == np.float64
    assert d.context.dtype == np.float32 and d.context.shape[0] == n
    assert d.affinity.shape == (n, 80)
    assert d.item_context.shape[0] == 80
    assert int(d.reward.sum()) == clicks
    assert set(np.unique(d.position)) == {0, 1, 2}
    assert d.action.min() >= 0 and d.action.max() < 80
    assert np.all((d.propensity > 0) & (d.propensity <= 1))
    assert d.on_policy_value() == pytest.approx(clicks / n)


def test_random_policy_propensity_is_uniform():
    for campaign in CAMPAIGNS:
        d = load_open_bandit("random", campaign)
        np.testing.assert_allclose(d.propensity, 1.0 / d.n_actions)


def test_bootstrap_and_subset_keep_shapes():
    d = load_open_bandit("random", "all")
    b = d.bootstrap(np.random.default_rng(0))
    assert b.n_rounds == d.n_rounds and b.context.shape == d.context.shape
    s = d.subset(np.arange(10))
    assert s.n_rounds == 10 and np.array_equal(s.action, d.action[:10])


def test_bts_prior():
    alpha, beta = load_bts_prior("all")
    assert alpha.shape == beta.shape == (80,)
    assert alpha[:3].tolist() == [47.0, 8.0, 62.0]
    assert np.all(alpha > 0) and np.all(beta > 0)
    for campaign in CAMPAIGNS:
        a, _ = load_bts_prior(campaign)
        assert a.shape == (data.N_ITEMS[campaign],)


def test_unknown_policy_or_campaign_raises():
    with pytest.raises(ValueError, match="behavior_policy"):
        load_open_bandit("greedy", "all")
    with pytest.raises(ValueError, match="campaign"):
        load_open_bandit("random", "kids")


def test_missing_file_names_make_data(sample_copy):
    (sample_copy / "random/all/all.csv").unlink()
    with pytest.raises(FileNotFoundError, match="make data"):
        load_open_bandit("random", "all", data_dir=sample_copy, verify=True)
    with pytest.raises(FileNotFoundError, match="make data"):
        load_open_bandit("random", "all", data_dir=sample_copy, verify=False)
    assert data.verify_all(sample_copy) == ["random/all/all.csv"]


def test_corrupt_file_names_make_data(sample_copy, monkeypatch):
    monkeypatch.setattr(data, "DEFAULT_DATA_DIR", sample_copy)   # the fetched sample's own folder
    path = sample_copy / "bts/all/all.csv"
    raw = bytearray(path.read_bytes())
    raw[-3] = ord("9") if raw[-3] != ord("9") else ord("8")
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="make data"):
        load_open_bandit("bts", "all", data_dir=sample_copy, verify=True)


def test_corrupt_prior_names_make_data(sample_copy, monkeypatch):
    monkeypatch.setattr(data, "DEFAULT_DATA_DIR", sample_copy)   # the fetched sample's own folder
    (sample_copy / "prior_bts.yaml").write_text("all:\n  alpha:\n    - 1.0\n")
    with pytest.raises(ValueError, match="make data"):
        load_bts_prior("all", data_dir=sample_copy, verify=True)


def test_schema_violation_without_hash_check(sample_copy):
    path = sample_copy / "random/all/all.csv"
    text = path.read_text().replace(",click,", ",klick,", 1)
    path.write_text(text)
    with pytest.raises(ValueError, match="click"):
        load_open_bandit("random", "all", data_dir=sample_copy, verify=False)


def test_bad_propensity_is_rejected(sample_copy):
    import pandas as pd

    path = sample_copy / "random/all/all.csv"
    df = pd.read_csv(path, index_col=0)
    df.loc[df.index[5], "propensity_score"] = 0.0
    df.to_csv(path)
    with pytest.raises(ValueError, match="propensity_score"):
        load_open_bandit("random", "all", data_dir=sample_copy, verify=False)


def test_user_directory_like_full_size_dataset(sample_copy):
    """A user-given directory (the full-size layout) loads without pinned digests."""
    d = load_open_bandit("random", "men", data_dir=sample_copy)
    assert d.n_actions == 34 and d.n_rounds == 10_000


def test_fetch_if_missing_is_offline_when_present(sample_copy, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("fetch --if-missing must not download when files are present")

    monkeypatch.setattr(data, "_download_archive", boom)
    assert data.fetch(sample_copy, if_missing=True) == sample_copy
    assert data.main(["fetch", "--if-missing", "--dest", str(sample_copy)]) == 0
    assert data.main(["verify", "--dest", str(sample_copy)]) == 0
    (sample_copy / "bts/men/men.csv").unlink()
    assert data.main(["verify", "--dest", str(sample_copy)]) == 1
    with pytest.raises(AssertionError, match="must not download"):
        data.fetch(sample_copy, if_missing=True)


def test_fetch_restores_a_missing_file_from_the_cached_archive(sample_copy, tmp_path, monkeypatch):
    archive = data.DEFAULT_DOWNLOAD_DIR / data.ARCHIVE_NAME
    assert archive.is_file(), "run `make data` first"
    monkeypatch.setattr(data, "_download_archive", lambda download_dir: archive)
    (sample_copy / "random/women/women.csv").unlink()
    data.fetch(sample_copy, if_missing=True)
    assert data.verify_all(sample_copy) == []


def test_extract_rejects_tampered_archive(tmp_path):
    archive = tmp_path / "fake.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for rel in FILE_SHA256:
            payload = b"not the real file\n"
            info = tarfile.TarInfo(data._archive_member(rel))
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    with pytest.raises(ValueError, match="sha256"):
        data.extract(archive, tmp_path / "out")


def test_prior_parser_rejects_garbage():
    with pytest.raises(ValueError, match="unexpected line"):
        data._parse_prior_yaml("all:\n  alpha:\n    nonsense\n")


def test_prior_without_the_campaign_raises_value_error(tmp_path):
    (tmp_path / "prior_bts.yaml").write_text("men:\n  alpha:\n    - 1.0\n  beta:\n    - 2.0\n")
    with pytest.raises(ValueError, match="campaign 'all'"):
        load_bts_prior("all", data_dir=tmp_path, verify=False)


class FakePip:
    """Stands in for ``subprocess.run`` in data._download_archive: records the command and the
    requirement file it names, and saves ``payload`` as the archive (or fails with ``rc``)."""

    def __init__(self, payload: bytes | None, rc: int = 0):
        self.payload, self.rc, self.calls = payload, rc, []

    def __call__(self, cmd, **kwargs):
        import subprocess

        requirements = open(cmd[cmd.index("-r") + 1]).read() if "-r" in cmd else None
        self.calls.append((cmd, requirements))
        if self.payload is not None and self.rc == 0:
            dest = cmd[cmd.index("-d") + 1]
            with open(f"{dest}/{data.ARCHIVE_NAME}", "wb") as f:
                f.write(self.payload)
        return subprocess.CompletedProcess(cmd, self.rc, stdout="", stderr="hash mismatch" if self.rc else "")


def test_download_asks_pip_to_check_the_pinned_hash_first(tmp_path, monkeypatch):
    """pip checks the sha256 before it runs the sdist's build code, so the hash must go to pip."""
    archive = data.DEFAULT_DOWNLOAD_DIR / data.ARCHIVE_NAME
    assert archive.is_file(), "run `make data` first"
    fake = FakePip(archive.read_bytes())
    monkeypatch.setattr(data.subprocess, "run", fake)
    got = data._download_archive(tmp_path / "dl")
    assert got == tmp_path / "dl" / data.ARCHIVE_NAME and data.sha256_file(got) == data.ARCHIVE_SHA256
    (cmd, requirements), = fake.calls
    assert cmd[1:4] == ["-m", "pip", "download"] and "--require-hashes" in cmd and "--no-deps" in cmd
    assert requirements.split() == [f"obp=={data.OBP_VERSION}", f"--hash=sha256:{data.ARCHIVE_SHA256}"]
    assert not any(a.startswith("obp") for a in cmd)          # only through the hash-pinned file
    data._download_archive(tmp_path / "dl")                   # a verified cached archive: no pip call
    assert len(fake.calls) == 1


def test_download_refuses_a_wrong_archive_and_reports_pip_failure(tmp_path, monkeypatch):
    monkeypatch.setattr(data.subprocess, "run", FakePip(b"tampered"))
    with pytest.raises(ValueError, match="refusing"):
        data._download_archive(tmp_path / "dl")
    assert not (tmp_path / "dl" / data.ARCHIVE_NAME).exists()
    monkeypatch.setattr(data.subprocess, "run", FakePip(None, rc=1))
    with pytest.raises(RuntimeError, match="hash mismatch"):
        data._download_archive(tmp_path / "dl")


# ------------------------------------------------ review C #16: corrupt files under a user data_dir

HINT = data._HINT


@pytest.mark.parametrize("rel", ["random/men/men.csv", "random/men/item_context.csv"])
@pytest.mark.parametrize("payload, cause", [
    (b"\xff\xfe garbage", "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"),
    (b"", "EmptyDataError: No columns to parse from file"),
])
def test_unreadable_csv_names_the_file(sample_copy, rel, payload, cause):
    """#16: a binary or empty CSV raised a bare UnicodeDecodeError / EmptyDataError (no file name)."""
    path = sample_copy / rel
    path.write_bytes(payload)
    with pytest.raises(ValueError) as err:
        load_open_bandit("random", "men", data_dir=sample_copy)
    assert str(err.value) == f"{path}: not a readable CSV file ({cause}); {HINT} (or check data_dir)"


@pytest.mark.parametrize("rel, column, row", [
    ("random/men/men.csv", "propensity_score", 5),
    ("random/men/men.csv", "user-item_affinity_3", 7),
    ("random/men/item_context.csv", "item_feature_0", 2),
])
def test_non_numeric_cell_names_the_file_and_column(sample_copy, rel, column, row):
    """#16: one cell "abc" raised "could not convert string to float: 'abc'" (no file or column)."""
    import pandas as pd

    path = sample_copy / rel
    df = pd.read_csv(path, index_col=0)
    df[column] = df[column].astype(object)
    df.loc[df.index[row], column] = "abc"
    df.to_csv(path)
    with pytest.raises(ValueError) as err:
        load_open_bandit("random", "men", data_dir=sample_copy)
    assert str(err.value) == f"{path}: column {column!r} must hold finite numbers, got 'abc' at index {row}"


def test_non_finite_affinity_is_rejected(sample_copy):
    """#16: an empty affinity cell became NaN in OpenBanditData.affinity without an error."""
    import pandas as pd

    path = sample_copy / "random/men/men.csv"
    df = pd.read_csv(path, index_col=0)
    df.loc[df.index[4], "user-item_affinity_0"] = np.nan
    df.to_csv(path)
    with pytest.raises(ValueError) as err:
        load_open_bandit("random", "men", data_dir=sample_copy)
    assert str(err.value) == f"{path}: column 'user-item_affinity_0' must hold finite numbers, got nan at index 4"


def _edit_prior(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_prior_with_a_bad_number_names_the_file_and_line(sample_copy):
    """#16: "- x47.0" raised "could not convert string to float: 'x47.0'" (no file name)."""
    path = sample_copy / "prior_bts.yaml"
    _edit_prior(path, "    - 47.0\n", "    - x47.0\n")
    with pytest.raises(ValueError) as err:
        load_bts_prior("men", data_dir=sample_copy)
    assert str(err.value) == (f"{path} is not a valid BTS prior (unexpected line in prior_bts.yaml: "
                              f"'    - x47.0' (not a number)); {HINT}")


def test_binary_prior_names_the_file(sample_copy):
    """#16: a binary prior_bts.yaml raised a bare UnicodeDecodeError."""
    path = sample_copy / "prior_bts.yaml"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError) as err:
        load_bts_prior("men", data_dir=sample_copy)
    assert str(err.value) == (f"{path} is not a valid BTS prior ('utf-8' codec can't decode byte 0xff in "
                              f"position 0: invalid start byte); {HINT}")


@pytest.mark.parametrize("value, shown", [("nan", "nan"), ("-1.0", "-1.0"), ("0.0", "0.0"), ("inf", "inf")])
def test_prior_parameters_must_be_finite_and_positive(sample_copy, value, shown):
    """#16: a NaN, infinite or non-positive Beta parameter was returned as is."""
    path = sample_copy / "prior_bts.yaml"
    _edit_prior(path, "    - 47.0\n", f"    - {value}\n")   # the first alpha of campaign 'all'
    with pytest.raises(ValueError) as err:
        load_bts_prior("all", data_dir=sample_copy)
    assert str(err.value) == (f"{path}: the prior for 'all' must have finite alphas and betas > 0, "
                              f"got alpha[0] = {shown}")
    load_bts_prior("men", data_dir=sample_copy)       # other campaigns still load


def test_prior_with_the_wrong_length_names_the_file(sample_copy):
    path = sample_copy / "prior_bts.yaml"
    _edit_prior(path, "    - 47.0\n", "")
    with pytest.raises(ValueError) as err:
        load_bts_prior("all", data_dir=sample_copy)
    assert str(err.value) == f"{path}: the prior for 'all' must have 80 alphas and 80 betas, got 79 and 80"


@pytest.mark.parametrize("idx", [np.array([], dtype=int), np.zeros(10_000, dtype=bool), slice(5, 5)])
def test_empty_subset_is_rejected(idx):
    """#16: subset(empty) gave a log whose on_policy_value() was NaN."""
    d = load_open_bandit("random", "men")
    with pytest.raises(ValueError) as err:
        d.subset(idx)
    assert str(err.value) == "idx must select at least one row of the log, got an empty selection"
    assert d.subset(np.array([3])).n_rounds == 1


def test_fetch_script_in_data_runs_the_package_command():
    """data/fetch.py (what `make data` runs) is the same command as `python -m rlrec_helpers.data`."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "data" / "fetch.py"
    out = subprocess.run([sys.executable, str(script), "verify"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("all 13 files verified"), out.stderr
    bad = subprocess.run([sys.executable, str(script), "verify", "--dest", str(script.parent / "no_such_dir")],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "missing or corrupt" in bad.stderr


def test_bootstrap_needs_a_generator():
    log = load_open_bandit("random", "all")
    with pytest.raises(ValueError, match="rng must be a numpy.random.Generator"):
        log.bootstrap(0)
    assert log.bootstrap(np.random.default_rng(0)).n_rounds == log.n_rounds

"""The Open Bandit Dataset (OBD) sample: fetch, verify and load. numpy/pandas only.

OBD (Saito, Aihara, Matsutani & Narita, 2021, arXiv:2008.07146) is a log of item
recommendations on ZOZOTOWN, a Japanese fashion e-commerce site. Each row is one
impression: a user context, the item shown (``item_id``), the slot it was shown in
(``position`` 1-3), whether it was clicked, and the true probability (propensity) with
which the logging policy put that item in that slot. Two logging policies ran side by
side: uniform ``random`` and Bernoulli Thompson sampling (``bts``), in three campaigns
(``all``: 80 items, ``men``: 34, ``women``: 46).

A 10,000-row sample per (policy, campaign) ships inside the source distribution of the
PyPI package ``obp`` 0.5.7. :func:`fetch` downloads that archive with ``pip download`` and
a hash-pinned requirement (``--require-hashes``: pip checks the archive's sha256 before it
runs the sdist's build code to read its metadata; obp is never installed or imported, and
only the CSVs and the BTS prior are extracted), checks every extracted file's sha256, and
writes them to
``data/open_bandit/`` (git-ignored: the sample's licence is not stated, so it is never
committed). After one fetch everything works offline.

Command line (called by ``make data``)::

    python -m rlrec_helpers.data fetch [--if-missing] [--dest DIR]
    python -m rlrec_helpers.data verify [--dest DIR]

The full-size dataset (about 26 million rows, https://research.zozo.com/data.html) has
the same layout; pass its directory as ``data_dir`` to :func:`load_open_bandit` (the
pinned sha256 values only apply to the sample, so they are not checked there).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rlrec_helpers._validate import check_choice

OBP_VERSION = "0.5.7"
#: sha256 of ``obp-0.5.7.tar.gz`` (the sdist on PyPI).
ARCHIVE_SHA256 = "3060d67fedfcfadf1e7a6f2608987f74412b5eb74d2c567edeb147595c68f2a0"
ARCHIVE_NAME = f"obp-{OBP_VERSION}.tar.gz"

BEHAVIOR_POLICIES = ("random", "bts")
CAMPAIGNS = ("all", "men", "women")
#: Number of items per campaign in OBD.
N_ITEMS = {"all": 80, "men": 34, "women": 46}
LEN_LIST = 3

#: sha256 of every file extracted into ``data/open_bandit/`` (paths relative to it).
FILE_SHA256 = {
    "bts/all/all.csv": "0ad874e4dbf6902f0845dd478ad8dde5ef6903583d3ffaace78411bdad064106",
    "bts/all/item_context.csv": "5d4359ba1cfa3ae88f0f1bae66bd633859fe6323817183632ee57b83539d9153",
    "bts/men/item_context.csv": "3b411ed6b0471316321a6b93f4f756bb25888eac6218cd71d0b603d41d85732d",
    "bts/men/men.csv": "db6d1f7ed2d591ba521533e45286d4c1fba7fe57a8ad2e80342210335f43c527",
    "bts/women/item_context.csv": "a56295bad066a558eb783055afd9279f5f4e209a4776eafc22151c53f0ac89d4",
    "bts/women/women.csv": "e5d1b49a39b608585a2f3014a3f54970430cd37a495c1b73fceb85cdf428a5b8",
    "random/all/all.csv": "7168295b6e0a9eabcf3392320a5dd434e542b68e705d5cd9491499af589812f1",
    "random/all/item_context.csv": "eba04cc23d5f130a93ff174c5392986882b94c3839433cb8143870eaa6221358",
    "random/men/item_context.csv": "6d855c2b7e917d0448d71bbe62c023147495882c0fdc8c41e86fef86abf9fe09",
    "random/men/men.csv": "ede6d08c6877f99cd3770f7d09e26c738e6aa6de4445ccccfb1356ba5d06b1eb",
    "random/women/item_context.csv": "b1ca4905f97703d196004f2ad4552c1e90c2afad8b50688d333b0d2dc0b33147",
    "random/women/women.csv": "e65f3bd3beb17664fa69cc129bf7bf852a775f8ffa630506e505fc905315bb34",
    "prior_bts.yaml": "81a54fbdc184021ccc62ab97de81ec35461c032e3d7f99ccaa0a9745f732d251",
}
#: Where each file lives inside the archive.
_ARCHIVE_PREFIX = f"obp-{OBP_VERSION}/obp/"


def _archive_member(rel: str) -> str:
    if rel == "prior_bts.yaml":
        return _ARCHIVE_PREFIX + "policy/conf/prior_bts.yaml"
    return _ARCHIVE_PREFIX + "dataset/obd/" + rel


REPO_ROOT = Path(__file__).resolve().parents[1]
#: Default location of the sample; override with the ``RLREC_DATA_DIR`` environment variable.
DEFAULT_DATA_DIR = Path(os.environ.get("RLREC_DATA_DIR", REPO_ROOT / "data" / "open_bandit"))
DEFAULT_DOWNLOAD_DIR = REPO_ROOT / "data" / "downloads"

_HINT = "run `make data` (or `python -m rlrec_helpers.data fetch`) to download it"

REQUIRED_COLUMNS = ("timestamp", "item_id", "position", "click", "propensity_score")
N_USER_FEATURES = 4


# --------------------------------------------------------------------------- hashing


def sha256_file(path: Path | str, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def verify_file(data_dir: Path | str, rel: str) -> Path:
    """Check that ``data_dir/rel`` exists and has its pinned sha256; return its path.

    Raises ``FileNotFoundError`` (missing, naming ``make data``) or ``ValueError`` (another
    sha256). Only in :data:`DEFAULT_DATA_DIR`, the fetched sample's folder, does the message
    advise deleting the folder and fetching again; a file in a folder of your own is only named,
    never proposed for deletion (e.g. the full-size dataset, which ``verify=False`` loads).
    """
    check_choice("rel", rel, FILE_SHA256)
    path = Path(data_dir) / rel
    if not path.is_file():
        raise FileNotFoundError(f"Open Bandit Dataset file {path} is missing; {_HINT}.")
    digest = sha256_file(path)
    if digest != FILE_SHA256[rel]:
        if Path(data_dir).resolve() == Path(DEFAULT_DATA_DIR).resolve():
            raise ValueError(
                f"Open Bandit Dataset file {path} is corrupt (sha256 {digest[:12]}… does not match the "
                f"pinned {FILE_SHA256[rel][:12]}…); delete {Path(data_dir)} and {_HINT} again."
            )
        raise ValueError(
            f"Open Bandit Dataset file {path} does not match the pinned sha256 of the OBD sample's {rel} "
            f"(sha256 {digest[:12]}…, pinned {FILE_SHA256[rel][:12]}…); pass verify=False to load files "
            f"that are not the sample (e.g. the full-size dataset)."
        )
    return path


def verify_all(data_dir: Path | str | None = None) -> list[str]:
    """Return the relative paths that are missing or corrupt (empty list: all good)."""
    data_dir = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
    bad = []
    for rel in FILE_SHA256:
        try:
            verify_file(data_dir, rel)
        except (FileNotFoundError, ValueError):
            bad.append(rel)
    return bad


# --------------------------------------------------------------------------- fetching


def _pip_download_command(requirements: Path, download_dir: Path) -> list[str]:
    """The ``pip download`` command for the hash-pinned obp sdist in ``requirements``.

    ``--require-hashes`` makes pip compare the archive's sha256 with the pinned one before it
    runs anything from the archive (pip prepares an sdist's metadata with its build backend
    even for ``download``); ``--no-deps`` and ``--python-version 3.10`` (obp declares
    Python < 3.11) keep it to this one file.
    """
    return [
        sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:all:",
        "--python-version", "3.10", "--require-hashes", "-r", str(requirements),
        "-d", str(download_dir),
    ]


def _download_archive(download_dir: Path) -> Path:
    """``pip download`` the hash-pinned obp sdist (no install, no import); return its path.

    Reuses ``download_dir/obp-0.5.7.tar.gz`` when its sha256 is the pinned one, so a copy put
    there by hand works without network. Raises ``RuntimeError`` when pip fails (including a
    hash mismatch, which pip reports before running the archive's build code) and
    ``ValueError`` if the saved file still does not have the pinned sha256.
    """
    download_dir.mkdir(parents=True, exist_ok=True)
    archive = download_dir / ARCHIVE_NAME
    if archive.is_file() and sha256_file(archive) == ARCHIVE_SHA256:
        return archive
    with tempfile.TemporaryDirectory() as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text(f"obp=={OBP_VERSION} --hash=sha256:{ARCHIVE_SHA256}\n")
        cmd = _pip_download_command(requirements, download_dir)
        print("downloading:", " ".join(cmd[2:]), f"(obp=={OBP_VERSION}, sha256 {ARCHIVE_SHA256[:8]}…)")
        result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0 or not archive.is_file():
        raise RuntimeError(
            f"pip download of obp=={OBP_VERSION} failed (exit {result.returncode}):\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        )
    digest = sha256_file(archive)
    if digest != ARCHIVE_SHA256:
        archive.unlink()
        raise ValueError(
            f"downloaded {ARCHIVE_NAME} has sha256 {digest}, expected {ARCHIVE_SHA256}; "
            "refusing to use it"
        )
    return archive


def extract(archive: Path | str, dest: Path | str) -> None:
    """Extract only the OBD sample CSVs and the BTS prior from ``archive`` into ``dest``.

    Each member is read from the tarball by exact name (no path from the archive is ever
    used as a destination), checked against :data:`FILE_SHA256`, and written atomically.
    """
    dest = Path(dest)
    with tarfile.open(archive, "r:gz") as tar:
        for rel, expected in FILE_SHA256.items():
            member = tar.getmember(_archive_member(rel))
            if not member.isfile():
                raise ValueError(f"archive member {member.name} is not a regular file")
            payload = tar.extractfile(member).read()
            digest = hashlib.sha256(payload).hexdigest()
            if digest != expected:
                raise ValueError(f"archive member {member.name} has sha256 {digest}, expected {expected}")
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
                tmp.write(payload)
            os.replace(tmp.name, target)


def fetch(
    dest: Path | str | None = None,
    *,
    if_missing: bool = False,
    download_dir: Path | str | None = None,
) -> Path:
    """Download the obp sdist, verify it, extract the OBD sample into ``dest``; return ``dest``.

    With ``if_missing=True`` nothing is downloaded when every file is already present with
    the right sha256 (so ``make data`` is fast and offline after the first run).
    """
    dest = Path(dest) if dest is not None else DEFAULT_DATA_DIR
    if if_missing and not verify_all(dest):
        return dest
    download_dir = Path(download_dir) if download_dir is not None else DEFAULT_DOWNLOAD_DIR
    archive = _download_archive(download_dir)
    extract(archive, dest)
    bad = verify_all(dest)
    if bad:  # pragma: no cover - extract() already checked every digest
        raise ValueError(f"files still missing or corrupt after extraction: {bad}")
    return dest


# --------------------------------------------------------------------------- loading


@dataclass
class OpenBanditData:
    """One (behaviour policy, campaign) log, sorted by timestamp. n = rows.

    Attributes:
        context: (n, d) float32, one-hot user features (first level of each dropped, as OBP).
        affinity: (n, n_actions) float32, the log's user-item affinity scores.
        action: (n,) int64 item ids in [0, n_actions).
        position: (n,) int64 slot in {0, 1, 2} (the CSV's 1..3 minus 1).
        reward: (n,) float64 click indicator in {0, 1}.
        propensity: (n,) float64, P(behaviour policy shows ``action`` at ``position``), in (0, 1].
        item_context: (n_actions, f) float32 item features (categoricals label-encoded).
    """

    behavior_policy: str
    campaign: str
    context: np.ndarray
    affinity: np.ndarray
    action: np.ndarray
    position: np.ndarray
    reward: np.ndarray
    propensity: np.ndarray
    item_context: np.ndarray
    n_actions: int
    len_list: int = LEN_LIST
    context_names: list = field(default_factory=list)

    @property
    def n_rounds(self) -> int:
        return int(self.action.shape[0])

    def on_policy_value(self) -> float:
        """Mean click rate of the log: the ground-truth value of its behaviour policy."""
        return float(self.reward.mean())

    def bootstrap(self, rng: np.random.Generator) -> "OpenBanditData":
        """A resample of the rows with replacement (same size); ``rng``: a numpy Generator."""
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {rng!r}")
        idx = rng.integers(0, self.n_rounds, size=self.n_rounds)
        return self.subset(idx)

    def subset(self, idx: np.ndarray) -> "OpenBanditData":
        """The rows ``idx`` (any integer index array, boolean mask or slice).

        An empty selection raises ``ValueError`` (an empty log has no value).
        """
        action = self.action[idx]
        if action.shape[0] == 0:
            raise ValueError("idx must select at least one row of the log, got an empty selection")
        return OpenBanditData(
            self.behavior_policy, self.campaign, self.context[idx], self.affinity[idx],
            action, self.position[idx], self.reward[idx], self.propensity[idx],
            self.item_context, self.n_actions, self.len_list, list(self.context_names),
        )


def _read_csv(path: Path) -> pd.DataFrame:
    """``pd.read_csv(path, index_col=0)``; a file pandas cannot parse (binary, empty, not UTF-8)
    raises ``ValueError`` naming it."""
    try:
        return pd.read_csv(path, index_col=0)
    except ValueError as exc:  # UnicodeDecodeError, EmptyDataError and ParserError are ValueErrors
        raise ValueError(f"{path}: not a readable CSV file ({type(exc).__name__}: {exc}); {_HINT} "
                         "(or check data_dir)") from exc


def _finite_columns(df: pd.DataFrame, cols: list[str], path: Path, dtype=np.float64) -> np.ndarray:
    """``df[cols]`` as an (n, len(cols)) ``dtype`` array; ``ValueError`` naming the file, the column
    and the first cell that is not a finite number (text, empty or infinite)."""
    try:
        with np.errstate(over="ignore"):
            arr = df[cols].to_numpy(dtype=dtype)
        if np.isfinite(arr).all():
            return arr
    except (TypeError, ValueError):  # a cell that is not a number
        pass
    out = []
    for col in cols:
        with np.errstate(over="ignore"):
            values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64).astype(dtype)
        bad = ~np.isfinite(values)
        if bad.any():
            i = int(np.argmax(bad))
            cell = df[col].iloc[i]
            cell = cell.item() if isinstance(cell, np.generic) else cell  # nan, not np.float64(nan)
            raise ValueError(f"{path}: column {col!r} must hold finite numbers, got {cell!r} "
                             f"at index {df.index[i]}")
        out.append(values)
    return np.stack(out, axis=1)


def _validate_log(df: pd.DataFrame, path: Path, n_actions: int) -> None:
    """Schema checks; raise ``ValueError`` naming the file and the broken column."""
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    users = [f"user_feature_{k}" for k in range(N_USER_FEATURES)]
    missing += [c for c in users if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; {_HINT} (or check data_dir)")
    if len(df) == 0:
        raise ValueError(f"{path}: the log has no rows")
    for col in ("item_id", "position", "click", "propensity_score"):
        if df[col].isna().any():
            raise ValueError(f"{path}: column {col!r} has missing values")
    item = df["item_id"].to_numpy()
    if not np.issubdtype(item.dtype, np.integer) or item.min() < 0 or item.max() >= n_actions:
        raise ValueError(f"{path}: item_id must be integers in [0, {n_actions}), got range "
                         f"[{item.min()}, {item.max()}]")
    pos = df["position"].to_numpy()
    if not set(np.unique(pos)).issubset({1, 2, 3}):
        raise ValueError(f"{path}: position must be in {{1, 2, 3}}, got {sorted(set(np.unique(pos)))[:5]}")
    click = df["click"].to_numpy()
    if not set(np.unique(click)).issubset({0, 1}):
        raise ValueError(f"{path}: click must be 0 or 1")
    ps = _finite_columns(df, ["propensity_score"], path)[:, 0]
    if not (np.all(ps > 0) and np.all(ps <= 1)):
        raise ValueError(f"{path}: propensity_score must be in (0, 1], got range [{ps.min()}, {ps.max()}]")


def _item_context(path: Path) -> tuple[np.ndarray, int]:
    items = _read_csv(path)
    if "item_id" not in items.columns or "item_feature_0" not in items.columns:
        raise ValueError(f"{path}: item context needs columns item_id and item_feature_0; {_HINT}")
    ids = items["item_id"].to_numpy()
    if not np.array_equal(np.sort(ids), np.arange(len(ids))):
        raise ValueError(f"{path}: item_id must be 0..n_items-1 exactly once each")
    items = items.sort_values("item_id")
    cols = [_finite_columns(items, ["item_feature_0"], path)[:, 0]]
    for c in items.columns:
        if c not in ("item_id", "item_feature_0"):
            cols.append(pd.factorize(items[c], sort=True)[0].astype(float))
    return np.stack(cols, axis=1).astype(np.float32), len(ids)


def load_open_bandit(
    behavior_policy: str = "random",
    campaign: str = "all",
    *,
    data_dir: Path | str | None = None,
    verify: bool | None = None,
) -> OpenBanditData:
    """Load one OBD log as typed numpy arrays (see :class:`OpenBanditData`).

    Args:
        behavior_policy: ``"random"`` or ``"bts"``.
        campaign: ``"all"``, ``"men"`` or ``"women"``.
        data_dir: directory with ``{policy}/{campaign}/{campaign}.csv`` and
            ``item_context.csv``. ``None``: the fetched sample in ``data/open_bandit/``.
            Give the full-size dataset's ``open_bandit_dataset`` directory to use it.
        verify: check the pinned sha256 of each file. Default: on for the sample, off for
            a user-given ``data_dir`` (the full-size files have no pinned digests).

    Raises:
        FileNotFoundError naming ``make data`` for a missing file; ValueError for a file whose
        sha256 differs (naming ``make data`` in the sample's own folder, ``verify=False`` in yours),
        ValueError for an unknown policy/campaign or a schema violation.
    """
    check_choice("behavior_policy", behavior_policy, BEHAVIOR_POLICIES)
    check_choice("campaign", campaign, CAMPAIGNS)
    if verify is None:
        verify = data_dir is None
    base = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
    rel_log = f"{behavior_policy}/{campaign}/{campaign}.csv"
    rel_items = f"{behavior_policy}/{campaign}/item_context.csv"
    for rel in (rel_log, rel_items):
        if verify:
            verify_file(base, rel)
        elif not (base / rel).is_file():
            raise FileNotFoundError(f"Open Bandit Dataset file {base / rel} is missing; {_HINT} "
                                    "(or check data_dir)")
    item_context, n_actions = _item_context(base / rel_items)
    df = _read_csv(base / rel_log)
    _validate_log(df, base / rel_log, n_actions)
    df = df.sort_values("timestamp", kind="stable")
    users = df[[f"user_feature_{k}" for k in range(N_USER_FEATURES)]].astype(str)
    onehot = pd.get_dummies(users, drop_first=True)
    aff_cols = [f"user-item_affinity_{k}" for k in range(n_actions)]
    if all(c in df.columns for c in aff_cols):
        affinity = _finite_columns(df, aff_cols, base / rel_log, np.float32)
    else:
        affinity = np.zeros((len(df), n_actions), dtype=np.float32)
    return OpenBanditData(
        behavior_policy=behavior_policy,
        campaign=campaign,
        context=onehot.to_numpy(dtype=np.float32),
        affinity=affinity,
        action=df["item_id"].to_numpy(dtype=np.int64),
        position=df["position"].to_numpy(dtype=np.int64) - 1,
        reward=df["click"].to_numpy(dtype=np.float64),
        propensity=df["propensity_score"].to_numpy(dtype=np.float64),
        item_context=item_context,
        n_actions=n_actions,
        context_names=list(onehot.columns),
    )


def _parse_prior_yaml(text: str) -> dict:
    """Parse prior_bts.yaml (campaign -> alpha/beta -> list of floats) without PyYAML."""
    out: dict = {}
    campaign = key = None
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        s = line.strip()
        if indent == 0 and s.endswith(":"):
            campaign = s[:-1]
            out[campaign] = {}
        elif s.endswith(":") and campaign is not None:
            key = s[:-1]
            out[campaign][key] = []
        elif s.startswith("- ") and campaign is not None and key is not None:
            try:
                out[campaign][key].append(float(s[2:]))
            except ValueError:
                raise ValueError(f"unexpected line in prior_bts.yaml: {raw!r} (not a number)") from None
        else:
            raise ValueError(f"unexpected line in prior_bts.yaml: {raw!r}")
    return out


def load_bts_prior(campaign: str = "all", *, data_dir: Path | str | None = None,
                   verify: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The Beta prior ``(alpha, beta)``, each (n_items,), that ZOZOTOWN's BTS policy used.

    A prior file that is not UTF-8 text, has a line that is not a number, or whose alphas and
    betas are not ``n_items`` finite numbers > 0 each raises ``ValueError`` naming the file.
    """
    check_choice("campaign", campaign, CAMPAIGNS)
    if verify is None:
        verify = data_dir is None
    base = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
    if verify:
        path = verify_file(base, "prior_bts.yaml")
    else:
        path = base / "prior_bts.yaml"
        if not path.is_file():
            raise FileNotFoundError(f"BTS prior {path} is missing; {_HINT}.")
    try:
        prior = _parse_prior_yaml(path.read_text())
    except ValueError as exc:  # UnicodeDecodeError (a binary file) or a line that does not parse
        raise ValueError(f"{path} is not a valid BTS prior ({exc}); {_HINT}") from exc
    entry = prior.get(campaign)
    if not isinstance(entry, dict) or "alpha" not in entry or "beta" not in entry:
        raise ValueError(f"{path} has no alpha/beta prior for campaign {campaign!r} "
                         f"(campaigns in the file: {sorted(prior)}; campaign must be one of {CAMPAIGNS})")
    alpha = np.asarray(prior[campaign]["alpha"], dtype=float)
    beta = np.asarray(prior[campaign]["beta"], dtype=float)
    n = N_ITEMS[campaign]
    if alpha.shape != (n,) or beta.shape != (n,):
        raise ValueError(f"{path}: the prior for {campaign!r} must have {n} alphas and {n} betas, "
                         f"got {alpha.size} and {beta.size}")
    for name, v in (("alpha", alpha), ("beta", beta)):
        bad = ~np.isfinite(v) | (v <= 0)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"{path}: the prior for {campaign!r} must have finite alphas and betas > 0, "
                             f"got {name}[{i}] = {float(v[i])!r}")
    return alpha, beta


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rlrec_helpers.data",
                                     description="Fetch and verify the Open Bandit Dataset sample.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_fetch = sub.add_parser("fetch", help="download obp 0.5.7's sdist and extract the OBD sample")
    p_fetch.add_argument("--if-missing", action="store_true",
                         help="do nothing (offline) when every file is present and verified")
    p_fetch.add_argument("--dest", type=Path, default=None, help=f"default: {DEFAULT_DATA_DIR}")
    p_fetch.add_argument("--download-dir", type=Path, default=None,
                         help=f"where the archive is kept; default: {DEFAULT_DOWNLOAD_DIR}")
    p_verify = sub.add_parser("verify", help="check every file's sha256")
    p_verify.add_argument("--dest", type=Path, default=None)
    args = parser.parse_args(argv)
    dest = args.dest if args.dest is not None else DEFAULT_DATA_DIR
    if args.command == "fetch":
        already = args.if_missing and not verify_all(dest)
        fetch(dest, if_missing=args.if_missing, download_dir=args.download_dir)
        print(f"Open Bandit Dataset sample {'already present' if already else 'ready'} in {dest}")
        return 0
    bad = verify_all(dest)
    if bad:
        print(f"missing or corrupt in {dest}: {bad}; {_HINT}", file=sys.stderr)
        return 1
    print(f"all {len(FILE_SHA256)} files verified in {dest}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

"""What the agent believes about a user's per-cluster interests, from slates and clicks only.

Two estimators behind one tracker interface (``update(shown, clicked, active)``,
``statistics() -> (B, T, 2)``), selected by name in :data:`ESTIMATORS`:

* ``"click_rate"`` (:class:`ClickCounts`): counts of shown documents and clicks per cluster and
  :func:`cluster_statistics`, a smoothed click rate;
* ``"posterior"`` (:class:`InterestBelief`): a Bayesian posterior, described below.

The REINFORCE agent never sees the user's interests ``u ∈ [-1, 1]^T``. What it can do is infer
them from what it showed and how the user responded, using the *form* of the user model (a
modelling assumption, stated in ``rlrec_helpers.simulator``), never its hidden state:

* prior: ``u_c ~ U(-1, 1)`` independently for every cluster ``c``;
* choice (RecSim's proportional model): a slate of clusters ``(c_1..c_K)`` gets a click on
  position ``i`` with probability ``(u_{c_i} + 1) / (Σ_j (u_{c_j} + 1) + w_0)`` and no click
  with probability ``w_0 / (...)``;
* after a click on cluster ``c``: ``u_c → u_c ± η (1 − |u_c|)(1 − u_c)`` with probabilities
  ``(u_c + 1) / 2`` and ``(1 − u_c) / 2``, clipped to [-1, 1].

:class:`InterestBelief` keeps, for every user and cluster, a posterior on a grid of ``G``
interest values (the midpoints of G equal cells of [-1, 1]; ``(B, T, G)`` probabilities). An
observation couples the clusters of one slate through the denominator; the update is
*mean-field*: the likelihood of ``u_c`` uses the
posterior means of the other shown clusters. After a click, the clicked cluster's posterior is
pushed through the interest-move transition. Exact for a slate of one cluster; on the
``costly_browsing`` preset the blend "cluster quality + λ · posterior mean" recovers more of the
privileged blend than the raw click rate (notebook 06, Section 6).

numpy only; :func:`estimation_error` runs the simulator to measure the estimates.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from rlrec_helpers._validate import check_choice, check_finite_array, check_int, check_probability, check_real

ESTIMATORS = ("click_rate", "posterior")


def cluster_statistics(shows: np.ndarray, clicks: np.ndarray) -> np.ndarray:
    """Per-user, per-cluster click-rate statistics: (B, T) counts -> (B, T, 2) float32.

    Column 0: the smoothed click rate per shown document, rescaled to the interest range,
    ``5 · (clicks + 0.6) / (shows + 3) − 1`` (a document is clicked with probability about
    (u + 1) / 5 next to two neutral ones, so this is a crude interest estimate; 0 with no
    evidence); column 1: evidence, ``shows / (shows + 4)`` (0 for a cluster never shown, → 1).
    ``shows`` and ``clicks``: same shape, finite, ``0 <= clicks <= shows``; else ``ValueError``.
    """
    shows = np.asarray(shows, dtype=np.float32)
    clicks = np.asarray(clicks, dtype=np.float32)
    if shows.shape != clicks.shape:
        raise ValueError(f"shows and clicks must have the same shape (B, T), got {shows.shape} and {clicks.shape}")
    if not (np.isfinite(shows).all() and np.isfinite(clicks).all()):
        raise ValueError("shows and clicks must be finite counts, got NaN or inf")
    if shows.size and not (clicks.min() >= 0.0 and (clicks <= shows).all()):
        raise ValueError("shows and clicks must satisfy 0 <= clicks <= shows (so shows >= 0), got "
                         f"clicks in [{clicks.min()}, {clicks.max()}], max clicks - shows "
                         f"{float((clicks - shows).max())}")
    return np.stack([5.0 * (clicks + 0.6) / (shows + 3.0) - 1.0, shows / (shows + 4.0)], axis=-1)


def _check_step(shown, clicked, active, b: int, n_topics: int):
    shown = np.asarray(shown)
    clicked = np.asarray(clicked)
    if shown.ndim != 2 or shown.shape[0] != b:
        raise ValueError(f"shown must have shape ({b}, K), got {shown.shape}")
    if clicked.shape != (b,):
        raise ValueError(f"clicked must have shape ({b},), got {clicked.shape}")
    for name, v in (("shown", shown), ("clicked", clicked)):
        if v.dtype.kind not in "iu":
            raise ValueError(f"{name} must be an integer array (cluster ids / slate positions), "
                             f"got dtype {v.dtype}")
    k = shown.shape[1]
    if shown.size and (shown.min() < 0 or shown.max() >= n_topics):
        raise ValueError(f"shown clusters must be in [0, {n_topics - 1}]")
    if clicked.size and (clicked.min() < -1 or clicked.max() >= k):
        raise ValueError(f"clicked must be in [-1, {k - 1}] (slate positions, -1 = no click)")
    active = np.ones(b, bool) if active is None else np.asarray(active, bool)
    if active.shape != (b,):
        raise ValueError(f"active must have shape ({b},), got {active.shape}")
    return shown.astype(np.int64), clicked.astype(np.int64), active


class ClickCounts:
    """Shown-document and click counts per user and cluster: the ``"click_rate"`` estimator.

    Args: ``batch_size`` B >= 1 users, ``n_topics`` T >= 1 clusters (integers)."""

    def __init__(self, batch_size: int, n_topics: int):
        check_int("batch_size", batch_size, 1)
        check_int("n_topics", n_topics, 1)
        self.n_topics = int(n_topics)
        self.shows = np.zeros((int(batch_size), self.n_topics), np.float32)
        self.clicks = np.zeros_like(self.shows)

    def update(self, shown: np.ndarray, clicked: np.ndarray, active: np.ndarray | None = None) -> None:
        """Add one step: shown clusters (B, K), clicked position (B,) (-1 = none), active (B,)."""
        shown, clicked, active = _check_step(shown, clicked, active, self.shows.shape[0], self.n_topics)
        rows = np.nonzero(active)[0]
        np.add.at(self.shows, (np.repeat(rows, shown.shape[1]), shown[rows].ravel()), 1.0)
        hit = rows[clicked[rows] >= 0]
        self.clicks[hit, shown[hit, clicked[hit]]] += 1.0

    def statistics(self) -> np.ndarray:
        """(B, T, 2) float32, see :func:`cluster_statistics`."""
        return cluster_statistics(self.shows, self.clicks)


def check_user_model(config) -> None:
    """Raise ``ValueError`` unless a simulator config matches the posterior's assumptions: the
    interest-evolution user model with the proportional choice model."""
    model = getattr(config, "user_model", None)
    choice = getattr(config, "choice_model", None)
    if model != "interest_evolution" or choice != "proportional":
        raise ValueError("the 'posterior' interest estimate assumes user_model='interest_evolution' with "
                         f"choice_model='proportional', got user_model={model!r}, choice_model={choice!r}")


def make_tracker(estimator: str, batch_size: int, n_topics: int, *, interest_step: float = 0.3,
                 no_click_weight: float = 2.0):
    """A fresh tracker for B users: :class:`ClickCounts` or :class:`InterestBelief`."""
    if check_choice("estimator", estimator, ESTIMATORS) == "click_rate":
        return ClickCounts(batch_size, n_topics)
    return InterestBelief(batch_size, n_topics, interest_step=interest_step,
                          no_click_weight=no_click_weight)


def history_statistics(estimator: str, shown_clusters: np.ndarray, clicked: np.ndarray, n_topics: int,
                       **kwargs) -> np.ndarray:
    """Statistics of one user before each decision: (L, K) slates, (L,) clicks -> (L + 1, T, 2).

    Row t holds the statistics after the first t steps (row 0: no evidence). ``kwargs`` go to
    :func:`make_tracker`. ``clicked`` must be 1-D and ``shown_clusters`` 2-D with one row per click
    and K >= 1 columns (when L >= 1); else ``ValueError``."""
    shown = np.asarray(shown_clusters)
    clicked = np.asarray(clicked)
    if clicked.ndim != 1:
        raise ValueError("clicked must have shape (L,) (one slate position per step, -1 = no click), "
                         f"got shape {clicked.shape}")
    if shown.ndim != 2 or shown.shape[0] != clicked.shape[0] or (shown.shape[0] and shown.shape[1] < 1):
        raise ValueError(f"shown_clusters must have shape (L, K) with L = len(clicked) = {clicked.shape[0]} "
                         f"and K >= 1, got shape {shown.shape}")
    tracker = make_tracker(estimator, 1, n_topics, **kwargs)
    rows = [tracker.statistics()[0]]
    for t in range(shown.shape[0]):
        tracker.update(shown[t:t + 1], clicked[t:t + 1])
        rows.append(tracker.statistics()[0])
    return np.stack(rows)


def validate_history(history, n_topics: int) -> dict[str, np.ndarray]:
    """Check a serving history; return arrays shown (L, K) int, clicked (L,), watch (L,).

    The history format of ``recommend(history, candidates, k)`` (the REINFORCE agent and
    ``baselines.LinUCBSlatePolicy``): ``None`` (no steps yet) or a dict of ``shown_clusters``
    (L, K) integers in [0, n_topics), ``clicked`` (L,) integers in [-1, K) (-1 = no click) and
    ``watch_time`` (L,) finite numbers >= 0; anything else raises ``ValueError``.
    """
    if history is None:
        return {"shown_clusters": np.zeros((0, 1), np.int64), "clicked": np.zeros(0, np.int64),
                "watch_time": np.zeros(0)}
    if not isinstance(history, Mapping):
        raise ValueError("history must be a dict with keys 'shown_clusters' (L, K), 'clicked' (L,) "
                         f"and 'watch_time' (L,), got {type(history).__name__}")
    missing = {"shown_clusters", "clicked", "watch_time"} - set(history)
    if missing:
        raise ValueError(f"history is missing keys {sorted(missing)}")
    try:
        shown = np.asarray(history["shown_clusters"])
        clicked = np.asarray(history["clicked"])
        watch = np.asarray(history["watch_time"], dtype=float)
    except (ValueError, TypeError) as err:
        raise ValueError(f"history arrays must be rectangular numbers: {err}") from None
    if shown.ndim != 2 or (shown.shape[0] and shown.shape[1] < 1):
        raise ValueError(f"history['shown_clusters'] must have shape (L, K), got {shown.shape}")
    n = shown.shape[0]
    if clicked.shape != (n,) or watch.shape != (n,):
        raise ValueError(f"history['clicked'] and history['watch_time'] must have shape ({n},), "
                         f"got {clicked.shape} and {watch.shape}")
    if n and (not np.issubdtype(shown.dtype, np.integer) or not np.issubdtype(clicked.dtype, np.integer)):
        raise ValueError("history['shown_clusters'] and history['clicked'] must be integers")
    if n and (shown.min() < 0 or shown.max() >= n_topics):
        raise ValueError(f"history['shown_clusters'] must be in [0, {n_topics}), got range "
                         f"[{shown.min()}, {shown.max()}]")
    if n and (clicked.min() < -1 or clicked.max() >= shown.shape[1]):
        raise ValueError(f"history['clicked'] must be -1 or a slate position in [0, {shown.shape[1]}), "
                         f"got range [{clicked.min()}, {clicked.max()}]")
    if not np.all(np.isfinite(watch)) or (watch < 0).any():
        raise ValueError("history['watch_time'] must be finite and >= 0")
    return {"shown_clusters": shown.astype(np.int64), "clicked": clicked.astype(np.int64),
            "watch_time": watch}


class InterestBelief:
    """Grid posterior over B users' interests in T clusters.

    Args:
        batch_size: number of users B (>= 1).
        n_topics: number of clusters T (>= 1).
        interest_step: η of the interest move, in [0, 1].
        no_click_weight: w_0 of the proportional choice model (finite, > 0).
        grid: number of grid cells G on [-1, 1] (>= 3).
    """

    def __init__(self, batch_size: int, n_topics: int, *, interest_step: float = 0.3,
                 no_click_weight: float = 2.0, grid: int = 41):
        check_int("batch_size", batch_size, 1)
        check_int("n_topics", n_topics, 1)
        check_int("grid", grid, 3)
        check_probability("interest_step", interest_step)
        check_real("no_click_weight", no_click_weight, 0, lo_open=True)
        self.n_topics = int(n_topics)
        self.no_click_weight = float(no_click_weight)
        half = 1.0 / int(grid)  # cell midpoints of G equal cells on [-1, 1] (O(1/G^2) means)
        self.grid = np.linspace(-1.0 + half, 1.0 - half, int(grid))
        self.prior_std = float(self.grid.std())
        self.transition = interest_transition(self.grid, float(interest_step))
        self.probs = np.full((int(batch_size), self.n_topics, int(grid)), 1.0 / grid)

    @property
    def batch_size(self) -> int:
        return self.probs.shape[0]

    def mean(self) -> np.ndarray:
        """Posterior means E[u_c]: (B, T)."""
        return self.probs @ self.grid

    def std(self) -> np.ndarray:
        """Posterior standard deviations: (B, T)."""
        m = self.mean()
        return np.sqrt(np.maximum(self.probs @ self.grid ** 2 - m ** 2, 0.0))

    def statistics(self) -> np.ndarray:
        """(B, T, 2) float32: posterior mean in [-1, 1] and evidence ``1 − std / prior std``
        (0 before any observation, → 1 as the cluster's interest becomes certain)."""
        return np.stack([self.mean(), 1.0 - self.std() / self.prior_std], axis=-1).astype(np.float32)

    def update(self, shown: np.ndarray, clicked: np.ndarray, active: np.ndarray | None = None) -> None:
        """Condition on one step: shown clusters (B, K) int, clicked position (B,) int (-1 = no
        click); users with ``active`` False (B,) bool are left unchanged."""
        b = self.batch_size
        shown, clicked, active = _check_step(shown, clicked, active, b, self.n_topics)
        k = shown.shape[1]
        rows = np.arange(b)
        weight = np.take_along_axis(self.mean(), shown, axis=1) + 1.0            # (B, K) means
        total = weight.sum(axis=1)
        clicked_cluster = np.where(clicked >= 0, shown[rows, np.maximum(clicked, 0)], -1)
        u = self.grid[None, :]
        for slot in range(k):
            c = shown[:, slot]
            same = shown == c[:, None]                                           # (B, K)
            first = np.argmax(same, axis=1) == slot                              # once per cluster
            n_same = same.sum(axis=1)
            others = total - (same * weight).sum(axis=1)
            denom = n_same[:, None] * (u + 1.0) + others[:, None] + self.no_click_weight
            numer = np.where((clicked_cluster == c)[:, None], u + 1.0, 1.0)
            upd = np.nonzero(first & active)[0]
            post = self.probs[upd, c[upd]] * (numer[upd] / denom[upd])
            self.probs[upd, c[upd]] = post / post.sum(axis=1, keepdims=True)
        hit = np.nonzero((clicked >= 0) & active)[0]
        cc = clicked_cluster[hit]
        self.probs[hit, cc] = self.probs[hit, cc] @ self.transition


def interest_transition(grid: np.ndarray, interest_step: float) -> np.ndarray:
    """(G, G) row-stochastic matrix of the interest move after a click, on ``grid``.

    Row g: from ``u = grid[g]`` to ``u ± η (1 − |u|)(1 − u)`` (clipped) with probabilities
    ``(u + 1) / 2`` and ``(1 − u) / 2``; a target between grid points is split linearly.
    ``grid``: finite and strictly increasing, G >= 2 points; ``interest_step`` η in [0, 1]; else
    ``ValueError``.
    """
    grid = check_finite_array("grid", grid, ndim=1)
    g = grid.size
    if g < 2:
        raise ValueError(f"grid must have at least 2 points, got shape {grid.shape}")
    down = np.nonzero(np.diff(grid) <= 0)[0]
    if down.size:
        i = int(down[0]) + 1
        raise ValueError(f"grid must be strictly increasing, got grid[{i}] = {float(grid[i])!r} <= "
                         f"grid[{i - 1}] = {float(grid[i - 1])!r}")
    interest_step = check_probability("interest_step", interest_step)
    lo_v, hi_v = grid[0], grid[-1]
    delta = interest_step * (1.0 - np.abs(grid)) * (1.0 - grid)
    p_up = (grid + 1.0) / 2.0
    m = np.zeros((g, g))
    for target, p in ((grid + delta, p_up), (grid - delta, 1.0 - p_up)):
        x = (np.clip(target, lo_v, hi_v) - lo_v) / (hi_v - lo_v) * (g - 1)
        lo = np.floor(x).astype(int)
        hi = np.minimum(lo + 1, g - 1)
        f = x - lo
        np.add.at(m, (np.arange(g), lo), p * (1.0 - f))
        np.add.at(m, (np.arange(g), hi), p * f)
    return m


def estimation_error(env_config="costly_browsing", *, n_users: int = 400, n_steps: int = 20, seed: int = 3,
                     estimators: tuple[str, ...] = ESTIMATORS) -> dict[str, np.ndarray]:
    """Mean squared error of each interest estimate against the hidden interests, step by step.

    Runs ``n_users`` simulator sessions with uniformly random slates (privileged interests are
    read for scoring only). Returns ``{name: (n_steps + 1,) MSE}`` for every estimator and for
    ``"prior mean (0)"``, averaged over the (user, cluster) pairs shown at least once so far and
    over active users; entry 0 is before any evidence (``nan``: nothing shown yet).
    """
    from rlrec_helpers.simulator import BatchEnv, get_preset

    cfg = get_preset(env_config)
    if cfg.user_model != "interest_evolution":
        raise ValueError(f"env_config must use the interest-evolution user model, got {cfg.user_model!r}")
    check_int("n_users", n_users, 1)
    check_int("n_steps", n_steps, 1)
    env = BatchEnv(cfg, n_users, seed=seed)
    obs = env.reset()
    rng = np.random.default_rng(seed)
    trackers = {e: make_tracker(e, n_users, cfg.n_topics, interest_step=cfg.interest_step,
                                no_click_weight=cfg.no_click_weight) for e in estimators}
    seen = np.zeros((n_users, cfg.n_topics), bool)
    out = {name: [np.nan] for name in (*estimators, "prior mean (0)")}
    for _ in range(n_steps):
        slates = np.argsort(rng.random(obs["candidate_clusters"].shape), axis=1)[:, :cfg.slate_size]
        shown = np.take_along_axis(obs["candidate_clusters"], slates, axis=1)
        active = obs["active"].copy()
        obs, *_ = env.step(slates)
        for tr in trackers.values():
            tr.update(shown, obs["clicked"], active)
        seen[np.repeat(np.nonzero(active)[0], shown.shape[1]), shown[active].ravel()] = True
        u = env.privileged()["interests"]
        pick = seen & obs["active"][:, None]
        for name, tr in trackers.items():
            out[name].append(float(((tr.statistics()[..., 0] - u)[pick] ** 2).mean()) if pick.any() else np.nan)
        out["prior mean (0)"].append(float((u[pick] ** 2).mean()) if pick.any() else np.nan)
    return {k: np.asarray(v) for k, v in out.items()}

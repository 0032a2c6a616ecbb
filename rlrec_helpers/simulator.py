r"""A fast, faithful user simulator: RecSim's *interest evolution* environment.

numpy + gymnasium only. This is a port of the interest-evolution environment of RecSim
(Ie et al. 2019, "RecSim: a configurable simulation platform for recommender systems",
arXiv:1909.04847), the environment of the SlateQ paper (Ie et al. 2019, arXiv:1905.12767).
Every number below is a field of :class:`SimulatorConfig` (defaults in brackets).

Documents
---------
* ``T`` topic clusters [20]; a document belongs to one cluster ``c`` drawn uniformly.
  Its observable feature vector is the one-hot ``f = e_c`` (optionally plus a noisy
  quality column ``q + N(0, quality_signal_noise^2)``).
* Quality ``q ~ N(m_c, sigma_q^2)`` [sigma_q = 0.1]. The cluster means ``m_c`` run linearly
  from ``quality_min`` [-3] to 0 over the first ``n_trashy`` [14] "trashy" clusters and from
  0 to ``quality_max`` [3] over the remaining 6 "nutritious" ones
  (``quality_means`` overrides them).
* Length ``L`` [4 minutes] for every document.

Users
-----
* Interests ``u ~ U(-1, 1)^T``; time budget ``b_0`` [200 minutes].

One step
--------
1. The environment samples ``N`` [10] fresh candidate documents (clusters uniform, qualities
   as above); the agent answers with a slate: ``K`` [3] distinct candidate indices.
2. The user scores slate item ``i`` (cluster ``c_i``) by ``s_i = u . f_i = u_{c_i}`` and picks
   one item or no click:

   * ``choice_model="proportional"`` (RecSim's multinomial-proportional model with
     ``min_normalizer = -1`` and ``no_click_mass = 1``):
     ``P(i) = (s_i + 1) / (sum_j (s_j + 1) + w_0)`` with no-click weight ``w_0`` [2];
   * ``choice_model="mnl"`` (multinomial logit): ``P(i) = exp(s_i) / (sum_j exp(s_j) + exp(w_0 - 1))``
     (the no-click score is the same raw ``no_click_mass = w_0 - 1`` [1] as above).
3. After a click on a document of cluster ``c`` with quality ``q``:

   * watch time and **reward** ``r = min(b, L)``;
   * budget ``b <- b - r``, then ``b <- b + rho * r * q`` with ``rho = refill_rate`` [0.9/3.4];
   * interest: ``alpha = eta - eta |u_c|`` with ``eta = interest_step`` [0.3]; with probability
     ``(u_c + 1) / 2`` ``u_c <- u_c + alpha (1 - u_c)``, otherwise ``u_c <- u_c - alpha (1 - u_c)``;
     then ``u_c`` is clipped to ``[-1, 1]``. (Liked topics tend to become more liked, and
     disliked ones less; interest is sticky near ``|u_c| = 1`` since ``alpha -> 0``.)

   After no click: ``r = 0`` and ``b <- b - no_click_cost`` [0.5].
4. The session (episode) ends when ``b <= 0`` (``terminated``), or is truncated after
   ``max_steps`` [1000] steps (a safety net; it never binds for the presets).

The long-term trade-off: an item with high interest is clicked more often (more reward
*now*), but only high-quality documents refill the budget (longer sessions, more reward
*later*). "Clickbait" (liked but trashy) wins the next click and shortens the session.

Observation and privileged state
--------------------------------
The agent sees the candidates' features, their clusters and the user's last response
(clicked slate position or -1, clicked cluster or -1, watch time). The interests, the true
qualities and the budget are hidden; :meth:`BatchEnv.privileged` exposes them for oracle
baselines and plots only.

Random streams
--------------
Users, documents and choices use separate generators derived from the seed, and every row
draws its documents and choice uniforms every step whether active or not. So the same seed
gives identical users and candidate sets to every policy (common random numbers), which
makes policy comparisons on :func:`evaluate`'s shared seed set low-variance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Protocol

import numpy as np

from rlrec_helpers.stats import MeanCI, mean_ci

__all__ = [
    "SimulatorConfig", "PRESETS", "get_preset", "cluster_quality_means",
    "choice_probabilities", "interest_update", "BatchEnv", "InterestEvolutionEnv",
    "SlateSpace", "SlatePolicy", "RandomPolicy", "MyopicPolicy", "QualityGreedyPolicy",
    "LongTermValuePolicy", "InterestQualityBlendPolicy", "EvalResult", "evaluate",
    "reference_episode", "SLATEQ_REFERENCE", "REFERENCE_POLICIES", "make_reference_policy",
    "compare_policies", "session_trace",
]

#: The SlateQ paper's simulation table rows (average return, default environment).
SLATEQ_REFERENCE = {"random": 159.2, "myopic": 166.3}

_CHOICE_MODELS = ("proportional", "mnl")


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class SimulatorConfig:
    """Every parameter of the interest-evolution model (defaults = RecSim / SlateQ).

    Units: lengths, budgets and costs in minutes. See the module docstring for the equations.
    """

    n_topics: int = 20
    n_trashy: int = 14
    quality_min: float = -3.0
    quality_max: float = 3.0
    quality_std: float = 0.1
    doc_length: float = 4.0
    time_budget: float = 200.0
    n_candidates: int = 10
    slate_size: int = 3
    choice_model: str = "proportional"
    no_click_weight: float = 2.0
    no_click_cost: float = 0.5
    refill_rate: float = 0.9 / 3.4
    interest_step: float = 0.3
    quality_signal_noise: float | None = None
    max_steps: int = 1000
    quality_means: tuple[float, ...] | None = field(default=None)

    def validate(self) -> "SimulatorConfig":
        """Raise ``ValueError`` naming the first invalid field; return ``self`` if valid."""

        def is_int(x) -> bool:
            return isinstance(x, (int, np.integer)) and not isinstance(x, bool)

        def is_num(x) -> bool:
            return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool) \
                and math.isfinite(float(x))

        for name in ("n_topics", "n_candidates", "slate_size", "max_steps"):
            v = getattr(self, name)
            if not is_int(v) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if not is_int(self.n_trashy) or not 0 <= self.n_trashy <= self.n_topics:
            raise ValueError(f"n_trashy must be an integer in [0, n_topics={self.n_topics}], got {self.n_trashy!r}")
        if self.slate_size > self.n_candidates:
            raise ValueError(f"slate_size must be in [1, n_candidates={self.n_candidates}], got {self.slate_size}")
        for name in ("quality_min", "quality_max", "quality_std", "doc_length", "time_budget",
                     "no_click_weight", "no_click_cost", "refill_rate", "interest_step"):
            if not is_num(getattr(self, name)):
                raise ValueError(f"{name} must be a finite number, got {getattr(self, name)!r}")
        if self.quality_min > 0:
            raise ValueError(f"quality_min must be <= 0, got {self.quality_min}")
        if self.quality_max < 0:
            raise ValueError(f"quality_max must be >= 0, got {self.quality_max}")
        if self.quality_std < 0:
            raise ValueError(f"quality_std must be >= 0, got {self.quality_std}")
        for name in ("doc_length", "time_budget"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.choice_model not in _CHOICE_MODELS:
            raise ValueError(f"choice_model must be one of {_CHOICE_MODELS}, got {self.choice_model!r}")
        if self.choice_model == "proportional" and self.no_click_weight <= 0:
            raise ValueError(f"no_click_weight must be > 0 for the proportional model, got {self.no_click_weight}")
        if self.no_click_cost < 0:
            raise ValueError(f"no_click_cost must be >= 0, got {self.no_click_cost}")
        if self.no_click_cost == 0 and self.max_steps >= 10**6:
            raise ValueError("no_click_cost = 0 needs max_steps < 1e6 so that sessions end")
        if not 0 <= self.refill_rate < 1:
            raise ValueError(f"refill_rate must be in [0, 1), got {self.refill_rate}")
        if not 0 <= self.interest_step <= 1:
            raise ValueError(f"interest_step must be in [0, 1], got {self.interest_step}")
        if self.quality_signal_noise is not None and (not is_num(self.quality_signal_noise)
                                                      or self.quality_signal_noise < 0):
            raise ValueError(f"quality_signal_noise must be None or a finite number >= 0, "
                             f"got {self.quality_signal_noise!r}")
        if self.quality_means is not None:
            qm = np.asarray(self.quality_means, dtype=float)
            if qm.shape != (self.n_topics,) or not np.all(np.isfinite(qm)):
                raise ValueError(f"quality_means must be None or {self.n_topics} finite numbers, "
                                 f"got shape {qm.shape}")
        return self

    @property
    def n_features(self) -> int:
        """F: width of a candidate's feature vector (one-hot cluster [+ quality signal])."""
        return self.n_topics + (0 if self.quality_signal_noise is None else 1)


def cluster_quality_means(config: SimulatorConfig) -> np.ndarray:
    """(T,) mean quality m_c of each cluster (trashy ones first)."""
    if config.quality_means is not None:
        return np.asarray(config.quality_means, dtype=float).copy()
    n_nut = config.n_topics - config.n_trashy
    return np.concatenate([np.linspace(config.quality_min, 0.0, config.n_trashy),
                           np.linspace(0.0, config.quality_max, n_nut)])


PRESETS: dict[str, SimulatorConfig] = {
    "default": SimulatorConfig(),
    "costly_browsing": SimulatorConfig(no_click_cost=4.0),
}


def get_preset(name: "str | SimulatorConfig") -> SimulatorConfig:
    """A validated config: a preset name from :data:`PRESETS` or a config passed through."""
    if isinstance(name, SimulatorConfig):
        return name.validate()
    if not isinstance(name, str) or name not in PRESETS:
        raise ValueError(f"unknown simulator preset {name!r}; known presets: {sorted(PRESETS)}")
    return PRESETS[name].validate()


# --------------------------------------------------------------------------- model pieces


def _item_weights(scores: np.ndarray, config: SimulatorConfig) -> tuple[np.ndarray, float]:
    """Choice weights of items with scores ``u.f`` and the no-click weight."""
    if config.choice_model == "proportional":
        return scores + 1.0, float(config.no_click_weight)
    return np.exp(scores), float(np.exp(config.no_click_weight - 1.0))


def choice_probabilities(scores, config: "SimulatorConfig | str" = "default") -> np.ndarray:
    """Click probabilities of a slate.

    Args:
        scores: (..., K) user scores ``u . f`` of the slate items, in [-1, 1].
    Returns:
        (..., K + 1) probabilities: the K slate positions, then no click (last column).
    """
    config = get_preset(config)
    s = np.asarray(scores, dtype=float)
    if s.ndim < 1 or not np.all(np.isfinite(s)) or np.any(np.abs(s) > 1 + 1e-9):
        raise ValueError("scores must be a finite array (..., K) with values in [-1, 1]")
    w, w0 = _item_weights(s, config)
    allw = np.concatenate([w, np.full(s.shape[:-1] + (1,), w0)], axis=-1)
    return allw / allw.sum(axis=-1, keepdims=True)


def interest_update(u_c, config: "SimulatorConfig | str" = "default") -> tuple[np.ndarray, np.ndarray]:
    """The two possible new interests after a click on topic c, and the probability of "up".

    Args:
        u_c: interest(s) in the clicked topic, values in [-1, 1], any shape S.
    Returns:
        ``(np.stack([u_up, u_down]), p_up)``: shapes (2, *S) and S, with
        ``u_up = clip(u + alpha (1 - u))``, ``u_down = clip(u - alpha (1 - u))``,
        ``alpha = interest_step (1 - |u|)`` and ``p_up = (u + 1) / 2``.
    """
    config = get_preset(config)
    u = np.asarray(u_c, dtype=float)
    if not np.all(np.isfinite(u)) or np.any(np.abs(u) > 1 + 1e-9):
        raise ValueError("u_c must be finite with values in [-1, 1]")
    alpha = config.interest_step * (1.0 - np.abs(u))
    delta = alpha * (1.0 - u)
    up = np.clip(u + delta, -1.0, 1.0)
    down = np.clip(u - delta, -1.0, 1.0)
    return np.stack([up, down]), (u + 1.0) / 2.0


def _seed_int(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


# --------------------------------------------------------------------------- batch environment


class BatchEnv:
    """B independent users advanced together with numpy (see the module docstring).

    Args:
        config: a :class:`SimulatorConfig` or a preset name.
        batch_size: B >= 1 users.
        seed: non-negative integer; the same seed gives the same trajectories.
        autoreset: if True a finished user is replaced at once by a fresh user (its row's
            obs is then the new user's first observation, ``info["episode_return"]`` and
            ``info["episode_length"]`` hold the finished session); if False finished users
            stay inactive (reward 0, slate ignored) until :meth:`reset`.

    ``step`` returns ``(obs, reward (B,), terminated (B,), info)``; ``info["truncated"]`` (B,)
    flags sessions cut at ``max_steps``. See :meth:`reset` for the observation dict.
    """

    def __init__(self, config: "SimulatorConfig | str" = "default", batch_size: int = 1,
                 seed: int = 0, autoreset: bool = False):
        self.config = get_preset(config)
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        self.batch_size = int(batch_size)
        self.autoreset = bool(autoreset)
        self._seed = _seed_int(seed)
        c = self.config
        self._means = cluster_quality_means(c)
        self._eye = np.eye(c.n_topics, dtype=np.float32)
        self._rows = np.arange(self.batch_size)
        self._w0 = _item_weights(np.zeros(1), c)[1]
        self._needs_reset = True
        self.reset(self._seed)
        self._fresh = True  # a reset() without seed right after construction keeps these users

    # -- random streams
    def _seed_streams(self, seed: int) -> None:
        ss = np.random.SeedSequence(seed)
        user_ss, doc_ss, choice_ss, policy_ss = ss.spawn(4)
        self._user_rng = np.random.default_rng(user_ss)
        self._doc_rng = np.random.default_rng(doc_ss)
        self._choice_rng = np.random.default_rng(choice_ss)
        #: A generator for callers (e.g. stochastic policies); the dynamics never use it.
        self.rng = np.random.default_rng(policy_ss)

    def _sample_users(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        interests = self._user_rng.uniform(-1.0, 1.0, size=(n, self.config.n_topics))
        budget = np.full(n, float(self.config.time_budget))
        return interests, budget

    def _sample_docs(self) -> None:
        c = self.config
        b, n = self.batch_size, c.n_candidates
        self._clusters = self._doc_rng.integers(0, c.n_topics, size=(b, n))
        self._quality = self._means[self._clusters] + c.quality_std * self._doc_rng.standard_normal((b, n))
        if c.quality_signal_noise is not None:
            self._signal = self._quality + c.quality_signal_noise * self._doc_rng.standard_normal((b, n))

    def _obs(self) -> dict[str, np.ndarray]:
        feats = self._eye[self._clusters]
        if self.config.quality_signal_noise is not None:
            feats = np.concatenate([feats, self._signal[..., None].astype(np.float32)], axis=-1)
        return {
            "candidate_features": feats,
            "candidate_clusters": self._clusters.copy(),
            "clicked": self._clicked.copy(),
            "clicked_cluster": self._clicked_cluster.copy(),
            "watch_time": self._watch.copy(),
            "active": self._active.copy(),
        }

    def reset(self, seed: int | None = None) -> dict[str, np.ndarray]:
        """Start B fresh sessions (reseeding all streams if ``seed`` is given).

        Returns the observation dict: ``candidate_features`` (B, N, F) float32,
        ``candidate_clusters`` (B, N) int64, ``clicked`` (B,) int64 slate position clicked at
        the previous step (-1: none / after reset), ``clicked_cluster`` (B,) int64 (-1: none),
        ``watch_time`` (B,) float64 minutes, ``active`` (B,) bool.
        """
        if seed is None and getattr(self, "_fresh", False):
            self._fresh = False
            return self._obs()
        self._fresh = False
        if seed is not None:
            self._seed_streams(_seed_int(seed))
        b = self.batch_size
        self._interests, self._budget = self._sample_users(b)
        self._active = np.ones(b, dtype=bool)
        self._steps = np.zeros(b, dtype=np.int64)
        self._ep_return = np.zeros(b)
        self._clicked = np.full(b, -1, dtype=np.int64)
        self._clicked_cluster = np.full(b, -1, dtype=np.int64)
        self._watch = np.zeros(b)
        self._sample_docs()
        self._needs_reset = False
        return self._obs()

    def check_slates(self, slates) -> np.ndarray:
        """Validated (B, K) int64 slates of distinct indices in [0, N); else ``ValueError``."""
        c = self.config
        a = np.asarray(slates)
        if a.shape != (self.batch_size, c.slate_size):
            raise ValueError(f"slates must have shape (batch_size, slate_size) = "
                             f"({self.batch_size}, {c.slate_size}), got {a.shape}")
        if a.dtype.kind not in "iu":
            if a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
                a = a.astype(np.int64)
            else:
                raise ValueError(f"slates must hold integer candidate indices, got dtype {a.dtype}")
        a = a.astype(np.int64, copy=False)
        if a.size and (a.min() < 0 or a.max() >= c.n_candidates):
            raise ValueError(f"slate indices must be in [0, n_candidates={c.n_candidates}), "
                             f"got values in [{a.min()}, {a.max()}]")
        if c.slate_size > 1:
            s = np.sort(a, axis=1)
            if np.any(s[:, 1:] == s[:, :-1]):
                raise ValueError("slates must not contain duplicate candidate indices within a row")
        return a

    def step(self, slates) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, dict[str, Any]]:
        """Show each user its slate (B, K); return ``(obs, reward, terminated, info)``."""
        if self._needs_reset:
            raise RuntimeError("call reset() before step()")
        self._fresh = False
        c = self.config
        a = self.check_slates(slates)
        rows = self._rows
        active = self._active
        shown_clusters = np.take_along_axis(self._clusters, a, axis=1)       # (B, K)
        shown_quality = np.take_along_axis(self._quality, a, axis=1)         # (B, K)
        scores = np.take_along_axis(self._interests, shown_clusters, axis=1)  # (B, K)
        w, w0 = _item_weights(scores, c)
        cum = np.cumsum(w, axis=1)
        total = cum[:, -1] + w0
        uniforms = self._choice_rng.random((self.batch_size, 2))
        x = uniforms[:, 0] * total
        pos = (x[:, None] >= cum).sum(axis=1)                                 # K means no click
        click = (pos < c.slate_size) & active
        pos_c = np.minimum(pos, c.slate_size - 1)
        cl = shown_clusters[rows, pos_c]
        q = shown_quality[rows, pos_c]
        watch = np.where(click, np.minimum(self._budget, c.doc_length), 0.0)
        # budget: drain, refill with quality after a click; step penalty after no click
        budget = self._budget - watch + c.refill_rate * watch * q
        budget = np.where(click, budget, self._budget - np.where(active, c.no_click_cost, 0.0))
        # interest evolution on the clicked topic
        u_c = self._interests[rows, cl]
        delta = c.interest_step * (1.0 - np.abs(u_c)) * (1.0 - u_c)
        up = uniforms[:, 1] < (u_c + 1.0) / 2.0
        new_u = np.clip(np.where(up, u_c + delta, u_c - delta), -1.0, 1.0)
        self._interests[rows, cl] = np.where(click, new_u, u_c)
        self._budget = budget
        reward = watch
        self._steps += active
        self._ep_return += reward
        terminated = active & (budget <= 0.0)
        truncated = active & ~terminated & (self._steps >= c.max_steps)
        done = terminated | truncated
        self._clicked = np.where(click, pos, -1).astype(np.int64)
        self._clicked_cluster = np.where(click, cl, -1).astype(np.int64)
        self._watch = watch
        info: dict[str, Any] = {"truncated": truncated,
                                "clicked_quality": np.where(click, q, np.nan)}
        if self.autoreset:
            info["episode_return"] = np.where(done, self._ep_return, np.nan)
            info["episode_length"] = np.where(done, self._steps, 0)
            if done.any():
                idx = np.nonzero(done)[0]
                new_i, new_b = self._sample_users(idx.size)
                self._interests[idx] = new_i
                self._budget[idx] = new_b
                self._steps[idx] = 0
                self._ep_return[idx] = 0.0
                self._clicked[idx] = -1
                self._clicked_cluster[idx] = -1
                self._watch = self._watch.copy()
                self._watch[idx] = 0.0
            self._active = np.ones(self.batch_size, dtype=bool)
        else:
            self._active = active & ~done
        self._sample_docs()
        return self._obs(), reward, terminated, info

    def privileged(self) -> dict[str, np.ndarray]:
        """Hidden state for oracle baselines and plots only (copies).

        ``interests`` (B, T), ``candidate_quality`` (B, N), ``cluster_quality_means`` (T,),
        ``budget`` (B,) minutes.
        """
        return {"interests": self._interests.copy(), "candidate_quality": self._quality.copy(),
                "cluster_quality_means": self._means.copy(), "budget": self._budget.copy()}


# --------------------------------------------------------------------------- reference loop


def reference_episode(config: "SimulatorConfig | str", rng: np.random.Generator,
                      choose=None) -> tuple[float, int, int]:
    """One session simulated the straightforward way: a per-user Python loop, same semantics.

    Used as the speed baseline of ``benchmarks/simulator.py`` and as an independent check of
    :class:`BatchEnv` in the tests. ``choose(clusters, interests, quality_means, K)`` returns
    the slate (a list of K distinct indices); default: random slate.
    Returns ``(return, n_clicks, n_steps)``.
    """
    c = get_preset(config)
    means = cluster_quality_means(c)
    interests = [float(x) for x in rng.uniform(-1.0, 1.0, size=c.n_topics)]
    budget, total, clicks, steps = float(c.time_budget), 0.0, 0, 0
    while budget > 0 and steps < c.max_steps:
        clusters = [int(rng.integers(c.n_topics)) for _ in range(c.n_candidates)]
        quality = [means[k] + c.quality_std * float(rng.standard_normal()) for k in clusters]
        if choose is None:
            slate = [int(i) for i in rng.choice(c.n_candidates, size=c.slate_size, replace=False)]
        else:
            slate = list(choose(clusters, interests, means, c.slate_size))
        weights = []
        for i in slate:
            s = interests[clusters[i]]
            weights.append(s + 1.0 if c.choice_model == "proportional" else math.exp(s))
        w0 = c.no_click_weight if c.choice_model == "proportional" else math.exp(c.no_click_weight - 1.0)
        x = float(rng.random()) * (sum(weights) + w0)
        chosen, acc = -1, 0.0
        for j, w in enumerate(weights):
            acc += w
            if x < acc:
                chosen = j
                break
        steps += 1
        if chosen >= 0:
            i = slate[chosen]
            k = clusters[i]
            watch = min(budget, c.doc_length)
            budget = budget - watch + c.refill_rate * watch * quality[i]
            total += watch
            clicks += 1
            u = interests[k]
            delta = c.interest_step * (1.0 - abs(u)) * (1.0 - u)
            u = u + delta if float(rng.random()) < (u + 1.0) / 2.0 else u - delta
            interests[k] = min(1.0, max(-1.0, u))
        else:
            budget -= c.no_click_cost
    return total, clicks, steps


# --------------------------------------------------------------------------- gymnasium env

import gymnasium as gym  # noqa: E402
from gymnasium import spaces  # noqa: E402


class SlateSpace(spaces.MultiDiscrete):
    """K distinct indices in [0, N): ``sample`` draws without replacement, ``contains`` checks it."""

    def __init__(self, n_candidates: int, slate_size: int, seed=None):
        super().__init__([n_candidates] * slate_size, dtype=np.int64, seed=seed)
        self.n_candidates, self.slate_size = int(n_candidates), int(slate_size)

    def sample(self, mask=None, probability=None) -> np.ndarray:  # noqa: D102
        return self.np_random.choice(self.n_candidates, size=self.slate_size, replace=False).astype(np.int64)

    def contains(self, x) -> bool:  # noqa: D102
        if not super().contains(x):
            return False
        x = np.asarray(x)
        return np.unique(x).size == x.size


class InterestEvolutionEnv(gym.Env):
    """One user of the interest-evolution model as a ``gymnasium.Env``.

    Same dynamics as :class:`BatchEnv` (it runs a batch of one). Observation: a dict with
    ``candidate_features`` (N, F) float32, ``candidate_clusters`` (N,) int64, ``clicked`` ()
    int64, ``clicked_cluster`` () int64, ``watch_time`` () float64; action: K distinct candidate
    indices (:class:`SlateSpace`); reward: minutes watched. ``privileged()`` as in BatchEnv.
    """

    metadata = {"render_modes": []}

    def __init__(self, config: "SimulatorConfig | str" = "default", seed: int | None = None):
        super().__init__()
        self.config = get_preset(config)
        c = self.config
        big = np.float32(np.finfo(np.float32).max)
        low = np.zeros(c.n_features, dtype=np.float32)
        high = np.ones(c.n_features, dtype=np.float32)
        if c.quality_signal_noise is not None:
            low[-1], high[-1] = -big, big
        self.observation_space = spaces.Dict({
            "candidate_features": spaces.Box(np.broadcast_to(low, (c.n_candidates, c.n_features)).copy(),
                                             np.broadcast_to(high, (c.n_candidates, c.n_features)).copy(),
                                             dtype=np.float32),
            "candidate_clusters": spaces.Box(0, c.n_topics - 1, shape=(c.n_candidates,), dtype=np.int64),
            "clicked": spaces.Box(-1, c.slate_size - 1, shape=(), dtype=np.int64),
            "clicked_cluster": spaces.Box(-1, c.n_topics - 1, shape=(), dtype=np.int64),
            "watch_time": spaces.Box(0.0, float(c.doc_length), shape=(), dtype=np.float64),
        })
        self.action_space = SlateSpace(c.n_candidates, c.slate_size)
        self._batch = BatchEnv(c, 1, seed=0 if seed is None else _seed_int(seed))
        self._initial_seed = seed
        self._done = True

    def _single(self, obs: dict) -> dict[str, np.ndarray]:
        return {
            "candidate_features": obs["candidate_features"][0],
            "candidate_clusters": obs["candidate_clusters"][0],
            "clicked": np.asarray(obs["clicked"][0], dtype=np.int64),
            "clicked_cluster": np.asarray(obs["clicked_cluster"][0], dtype=np.int64),
            "watch_time": np.asarray(obs["watch_time"][0], dtype=np.float64),
        }

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is None and self._initial_seed is not None:
            seed, self._initial_seed = self._initial_seed, None  # the constructor's seed, once
        if seed is None:
            seed = int(self.np_random.integers(0, 2**63 - 1))
        obs = self._batch.reset(seed=_seed_int(seed))
        self._done = False
        return self._single(obs), {}

    def step(self, action):
        if self._done:
            raise RuntimeError("episode is over: call reset()")
        obs, reward, terminated, info = self._batch.step(np.asarray(action).reshape(1, -1))
        term, trunc = bool(terminated[0]), bool(info["truncated"][0])
        self._done = term or trunc
        return self._single(obs), float(reward[0]), term, trunc, {}

    def privileged(self) -> dict[str, np.ndarray]:
        """Hidden state of the single user (interests (T,), candidate_quality (N,), ...)."""
        p = self._batch.privileged()
        return {"interests": p["interests"][0], "candidate_quality": p["candidate_quality"][0],
                "cluster_quality_means": p["cluster_quality_means"], "budget": p["budget"][0]}


# --------------------------------------------------------------------------- policies


class SlatePolicy(Protocol):
    """What :func:`evaluate` needs: ``reset(batch_size)`` and ``act(obs, env) -> (B, K) int``."""

    def reset(self, batch_size: int) -> None: ...

    def act(self, obs: dict, env: BatchEnv) -> np.ndarray: ...


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """(B, k) indices of the k largest scores per row, best first (stable ties: lower index)."""
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


class RandomPolicy:
    """K distinct candidates uniformly at random."""

    def __init__(self, seed: int = 0):
        self.seed = _seed_int(seed)
        self.rng = np.random.default_rng(self.seed)

    def reset(self, batch_size: int) -> None:
        pass

    def act(self, obs: dict, env: BatchEnv) -> np.ndarray:
        b, n = obs["candidate_clusters"].shape
        return _top_k(self.rng.random((b, n)), env.config.slate_size)


class _ScorePolicy:
    def reset(self, batch_size: int) -> None:
        pass

    def scores(self, obs: dict, env: BatchEnv) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def act(self, obs: dict, env: BatchEnv) -> np.ndarray:
        return _top_k(self.scores(obs, env), env.config.slate_size)


class MyopicPolicy(_ScorePolicy):
    """Privileged: the K candidates with the highest true interest ``u_c`` (most clickable)."""

    def scores(self, obs, env):
        return np.take_along_axis(env.privileged()["interests"], obs["candidate_clusters"], axis=1)


class QualityGreedyPolicy(_ScorePolicy):
    """Privileged: the K candidates whose cluster has the highest mean quality ``m_c``."""

    def scores(self, obs, env):
        return env.privileged()["cluster_quality_means"][obs["candidate_clusters"]]


class InterestQualityBlendPolicy(_ScorePolicy):
    """Privileged: top K of ``m_c + lam * u_c`` (lam = 0: quality-greedy; large: myopic)."""

    def __init__(self, lam: float = 2.0):
        if not math.isfinite(float(lam)) or lam < 0:
            raise ValueError(f"lam must be a finite number >= 0, got {lam!r}")
        self.lam = float(lam)

    def scores(self, obs, env):
        p = env.privileged()
        cl = obs["candidate_clusters"]
        return p["cluster_quality_means"][cl] + self.lam * np.take_along_axis(p["interests"], cl, axis=1)


class LongTermValuePolicy:
    """Privileged "long-term value" heuristic: click probability blended with budget gain.

    For a slate S with choice weights ``w_i`` (no click ``w_0``), the expected watch per step
    is ``R(S) = sum_i p_i L`` and the expected budget drain ``D(S) = sum_i p_i L (1 - rho m_i)
    + p_0 cost``. If the user stayed as she is, a session would last ``b / D`` steps and
    return ``b R / D``. The policy picks the K-subset maximising ``R(S) - weight * D(S)``:
    ``weight = 0`` is the myopic click maximiser; ``weight = R/D`` of the optimum maximises the
    stationary session return (Dinkelbach). The subset is found exactly by Dinkelbach
    iterations on top-K selections, vectorised over users. Uses the cluster-mean quality
    ``m_c`` (``use_true_quality=True``: the candidate's true quality).
    """

    def __init__(self, weight: float = 1.0, use_true_quality: bool = False, n_iter: int = 20):
        if not math.isfinite(float(weight)) or weight < 0:
            raise ValueError(f"weight must be a finite number >= 0, got {weight!r}")
        self.weight = float(weight)
        self.use_true_quality = bool(use_true_quality)
        self.n_iter = int(n_iter)

    def reset(self, batch_size: int) -> None:
        pass

    def act(self, obs: dict, env: BatchEnv) -> np.ndarray:
        c = env.config
        p = env.privileged()
        cl = obs["candidate_clusters"]
        u = np.take_along_axis(p["interests"], cl, axis=1)
        q = p["candidate_quality"] if self.use_true_quality else p["cluster_quality_means"][cl]
        w, w0 = _item_weights(u, c)
        lam = self.weight
        a = c.doc_length * (1.0 - lam + lam * c.refill_rate * q)   # per-click value of item
        a0 = -lam * c.no_click_cost                                  # value of no click
        # maximise (sum_S w a + w0 a0) / (sum_S w + w0) over |S| = K (Dinkelbach)
        theta = np.full(cl.shape[0], a0)
        k = c.slate_size
        for _ in range(self.n_iter):
            idx = _top_k(w * (a - theta[:, None]), k)
            ws = np.take_along_axis(w, idx, axis=1)
            new = ((ws * np.take_along_axis(a, idx, axis=1)).sum(1) + w0 * a0) / (ws.sum(1) + w0)
            if np.allclose(new, theta, rtol=0, atol=1e-12):
                break
            theta = new
        return idx


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class EvalResult:
    """Outcome of :func:`evaluate`: per-episode arrays and their means."""

    mean_return: MeanCI
    returns: np.ndarray
    mean_clicks: float
    mean_session_length: float
    clicks: np.ndarray
    session_lengths: np.ndarray

    @property
    def session_length_ci(self) -> MeanCI:
        return mean_ci(self.session_lengths)


def evaluate(policy, env_config: "SimulatorConfig | str" = "default", n_episodes: int = 1000,
             seed: int = 0, batch_size: int = 1000) -> EvalResult:
    """Run ``n_episodes`` sessions of ``policy`` and summarise them.

    The episodes depend only on ``(env_config, n_episodes, seed, batch_size)``: every policy
    meets the same users and candidate sets (common random numbers). Returns an
    :class:`EvalResult` (return in minutes with a 95% CI, clicks and steps per session).
    """
    config = get_preset(env_config)
    if isinstance(n_episodes, bool) or not isinstance(n_episodes, (int, np.integer)) or n_episodes < 1:
        raise ValueError(f"n_episodes must be an integer >= 1, got {n_episodes!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    seed = _seed_int(seed)
    returns, clicks, lengths = [], [], []
    for j, start in enumerate(range(0, n_episodes, batch_size)):
        b = min(batch_size, n_episodes - start)
        env = BatchEnv(config, b, seed=int(np.random.SeedSequence([seed, j]).generate_state(1)[0]))
        obs = env.reset()
        policy.reset(b)
        ret, ncl, nst = np.zeros(b), np.zeros(b, dtype=np.int64), np.zeros(b, dtype=np.int64)
        while obs["active"].any():
            active = obs["active"]
            slates = policy.act(obs, env)
            obs, reward, _, _ = env.step(slates)
            ret += reward
            ncl += (obs["clicked"] >= 0) & active
            nst += active
        returns.append(ret)
        clicks.append(ncl)
        lengths.append(nst)
    r, k, n = np.concatenate(returns), np.concatenate(clicks), np.concatenate(lengths)
    return EvalResult(mean_ci(r), r, float(k.mean()), float(n.mean()), k, n)


# --------------------------------------------------------------------------- notebook helpers

#: Reference policies by name (fresh instances from :func:`make_reference_policy`).
REFERENCE_POLICIES = ("random", "myopic", "quality-greedy", "long-term value")


def make_reference_policy(name: str, seed: int = 0, weight: float = 1.0, lam: float = 2.0):
    """A fresh reference policy by name: one of :data:`REFERENCE_POLICIES` or ``"blend"``."""
    makers = {"random": lambda: RandomPolicy(seed), "myopic": MyopicPolicy,
              "quality-greedy": QualityGreedyPolicy,
              "long-term value": lambda: LongTermValuePolicy(weight),
              "blend": lambda: InterestQualityBlendPolicy(lam)}
    if name not in makers:
        raise ValueError(f"policy name must be one of {sorted(makers)}, got {name!r}")
    return makers[name]()


def compare_policies(env_config: "SimulatorConfig | str" = "default", n_episodes: int = 300,
                     seed: int = 0, policies=REFERENCE_POLICIES, **overrides) -> dict[str, EvalResult]:
    """Evaluate reference policies by name on one config with fields replaced by ``overrides``.

    E.g. ``compare_policies(quality_max=1.0, no_click_weight=4.0, slate_size=2)``. Invalid
    overrides raise ``ValueError`` (unknown field names included). Returns name -> EvalResult,
    all on the same shared seed set.
    """
    config = get_preset(env_config)
    known = {f.name for f in fields(SimulatorConfig)}
    bad = set(overrides) - known
    if bad:
        raise ValueError(f"unknown SimulatorConfig fields {sorted(bad)}; known: {sorted(known)}")
    config = replace(config, **overrides).validate()
    return {name: evaluate(make_reference_policy(name, seed), config, n_episodes, seed=seed)
            for name in policies}


def session_trace(policy, env_config: "SimulatorConfig | str" = "default", n_users: int = 200,
                  seed: int = 0, max_len: int | None = None) -> dict[str, np.ndarray]:
    """Roll out ``policy`` for ``n_users`` sessions and record them step by step (privileged).

    Returns (B, L) arrays with L = the longest session (or ``max_len``): ``budget`` (minutes
    left *after* the step; frozen after the end), ``reward``, ``clicked`` (bool),
    ``clicked_quality`` (nan when no click), ``click_prob`` (probability of any click given the
    slate shown), ``active`` (user in session when the slate was shown), plus ``episode_return``
    and ``length`` (B,).
    """
    config = get_preset(env_config)
    env = BatchEnv(config, n_users, seed=seed)
    obs = env.reset()
    policy.reset(n_users)
    rec: dict[str, list] = {k: [] for k in ("budget", "reward", "clicked", "clicked_quality",
                                            "click_prob", "active")}
    t = 0
    while obs["active"].any() and (max_len is None or t < max_len):
        active = obs["active"]
        slate = policy.act(obs, env)
        cl = np.take_along_axis(obs["candidate_clusters"], env.check_slates(slate), axis=1)
        u = np.take_along_axis(env.privileged()["interests"], cl, axis=1)
        rec["click_prob"].append(1.0 - choice_probabilities(u, config)[:, -1])
        obs, reward, _, info = env.step(slate)
        rec["budget"].append(np.maximum(env.privileged()["budget"], 0.0))
        rec["reward"].append(reward)
        rec["clicked"].append((obs["clicked"] >= 0) & active)
        rec["clicked_quality"].append(np.where(active, info["clicked_quality"], np.nan))
        rec["active"].append(active)
        t += 1
    out = {k: np.stack(v, axis=1) for k, v in rec.items()}
    out["episode_return"] = out["reward"].sum(axis=1)
    out["length"] = out["active"].sum(axis=1)
    return out

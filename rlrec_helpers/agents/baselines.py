"""Baseline slate policies behind the same interface as the REINFORCE agent.

Every policy here implements the simulator's ``SlatePolicy`` protocol:
``reset(batch_size)`` then, each step, ``act(obs, env) -> (B, K)`` distinct candidate indices.

* ``RandomPolicy``, ``MyopicPolicy`` (highest true interest, *privileged*),
  ``QualityGreedyPolicy`` (highest cluster-mean quality, *privileged*),
  ``LongTermValuePolicy`` (the privileged long-term heuristic) and
  ``InterestQualityBlendPolicy`` ("cluster quality + λ · interest", *privileged*) are the
  simulator's reference policies, re-exported so that notebooks import every baseline from
  one place.
* :class:`LinUCBSlatePolicy` is a contextual bandit (``rlrec_helpers.bandits.LinUCB``, one
  disjoint arm per topic cluster, one model per user). It learns each user's click rate per
  cluster from the slates it shows and ranks candidates by the UCB index. It is **myopic by
  design**: it maximises the next click, never the session.
* :class:`EstimatedInterestBlendPolicy` is the blend with the interests *estimated* from
  clicks (the history-based counterpart of the privileged blend), and
  :class:`EstimatedInterestLongTermPolicy` the long-term heuristic with estimated interests.
* :class:`RevealedInterestBlendPolicy` (a privileged diagnostic) reveals the true interest of
  each cluster once it has been shown a given number of times: where does the estimate lose?
* :func:`history_free_control` builds the REINFORCE network with its history input switched
  off (the control agent of notebook 06).

The non-privileged policies (:class:`LinUCBSlatePolicy`, the REINFORCE agent) also serve one
user with ``recommend(history, candidates, k) -> (indices, scores)``.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from rlrec_helpers._validate import check_choice, check_int, check_real
from rlrec_helpers.agents.belief import validate_history
from rlrec_helpers.bandits import LinUCB
from rlrec_helpers.simulator import (  # noqa: F401  (re-exported)
    InterestQualityBlendPolicy,
    LongTermValuePolicy,
    MyopicPolicy,
    QualityGreedyPolicy,
    RandomPolicy,
    evaluate,
    get_preset,
)

#: Published best learned policy on the default environment (SlateQ, Ie et al. 2019).
SLATEQ_REFERENCE_RETURN = 174.6


class LinUCBSlatePolicy:
    """Per-user LinUCB over topic clusters, ranking candidates by their cluster's UCB index.

    Arms are the T clusters and the context is the constant 1, so each user's model is a
    ridge estimate of their click rate per cluster plus ``alpha`` times its width
    (Li et al. 2010, disjoint LinUCB). After every step each shown document is one update:
    reward 1 if it was clicked, else 0.

    Args:
        n_topics: number of clusters T (must equal the environment's ``config.n_topics``).
        alpha: exploration weight (>= 0).
        seed: random tie-breaking between equal indices (an integer >= 0). ``reset`` restarts
            the tie-breaking generator from it, so every ``simulator.evaluate`` call gives the
            same result for the same instance; within one call the stream runs on across batches
            (:meth:`reset_next_batch`).
    """

    def __init__(self, n_topics: int = 20, alpha: float = 0.5, seed: int = 0):
        self.n_topics = check_int("n_topics", n_topics, 1)
        self.alpha = check_real("alpha", alpha, 0)
        self.seed = check_int("seed", seed, 0)
        self.reset(1)

    def reset(self, batch_size: int) -> None:
        """Fresh bandits for ``batch_size`` users (an integer >= 1)."""
        batch_size = check_int("batch_size", batch_size, 1)
        self.rng = np.random.default_rng(self.seed)
        self.bandit = LinUCB(self.n_topics, 1, alpha=self.alpha)
        self.bandit.reset(batch_size)
        self._ones = np.ones((batch_size, 1))
        self._shown = None

    def reset_next_batch(self, batch_size: int) -> None:
        """The next batch of one ``evaluate`` call: fresh bandits, the tie-breaking stream runs on."""
        rng = self.rng
        self.reset(batch_size)
        self.rng = rng

    def _update(self, shown: np.ndarray, clicked: np.ndarray) -> None:
        for j in range(shown.shape[1]):
            self.bandit.update(shown[:, j], (clicked == j).astype(float), context=self._ones)

    def cluster_scores(self) -> np.ndarray:
        """UCB index per user and cluster, (B, T)."""
        return self.bandit.scores(self._ones)

    def act(self, obs: Mapping[str, np.ndarray], env=None) -> np.ndarray:
        clusters = np.asarray(obs["candidate_clusters"])
        if clusters.shape[0] != self._ones.shape[0]:
            raise ValueError(f"obs has {clusters.shape[0]} users but reset() was called with "
                             f"{self._ones.shape[0]}")
        env_topics = getattr(getattr(env, "config", None), "n_topics", None)
        if env_topics is not None and env_topics != self.n_topics:
            raise ValueError(f"n_topics={self.n_topics} but the environment has n_topics={env_topics}: "
                             f"build LinUCBSlatePolicy(n_topics={env_topics})")
        if clusters.size and (clusters.min() < 0 or clusters.max() >= self.n_topics):
            raise ValueError(f"obs['candidate_clusters'] holds topics in [{clusters.min()}, {clusters.max()}], "
                             f"outside [0, {self.n_topics}) (n_topics={self.n_topics})")
        if self._shown is not None:
            self._update(self._shown, np.asarray(obs["clicked"]))
        k = env.config.slate_size if env is not None else 3
        scores = np.take_along_axis(self.cluster_scores(), clusters, axis=1)
        scores = scores + 1e-9 * self.rng.random(scores.shape)  # random tie-breaking
        mask = obs.get("candidate_mask") if hasattr(obs, "get") else None
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != scores.shape:
                raise ValueError(f"obs['candidate_mask'] must have shape {scores.shape} "
                                 f"(users, candidates), got {mask.shape}")
            if not mask.all():
                if (mask.sum(axis=1) < k).any():
                    raise ValueError(f"obs['candidate_mask'] must allow at least k={k} candidates per user")
                scores = np.where(mask, scores, -np.inf)  # masked candidates are never chosen
        slates = np.argsort(-scores, axis=1)[:, :k]
        self._shown = np.take_along_axis(clusters, slates, axis=1)
        return slates

    def recommend(self, history, candidates, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
        """Replay ``history`` (as for the REINFORCE agent) into a fresh model; score candidates.

        ``candidates`` (N, F): the first T columns are the cluster one-hot. Returns the k
        best indices and their UCB indices.
        """
        cand = np.asarray(candidates, dtype=float)
        if cand.ndim != 2 or cand.shape[1] < self.n_topics:
            raise ValueError(f"candidates must have shape (N, >= {self.n_topics}), got {cand.shape}")
        check_int("k", k, 1, cand.shape[0], hi_name="N")  # N: the candidate count
        h = validate_history(history, self.n_topics)
        # A fresh one-user copy replays the history: the policy's own (batch) state is left untouched.
        local = LinUCBSlatePolicy(self.n_topics, self.alpha, self.seed)
        for t in range(h["clicked"].shape[0]):
            local._update(h["shown_clusters"][t:t + 1], h["clicked"][t:t + 1])
        cl = np.argmax(cand[:, :self.n_topics], axis=1)
        scores = local.cluster_scores()[0, cl]
        idx = np.argsort(-scores, kind="stable")[:k]
        return idx.astype(np.int64), scores[idx]


class _EstimatedInterestPolicy:
    """Shared part of the half-privileged policies: tracks an interest estimate per user from the
    slates shown and the clicks (``rlrec_helpers.agents.belief``), then picks slates from it."""

    def __init__(self, estimator: str):
        from rlrec_helpers.agents.belief import ESTIMATORS

        self.estimator = check_choice("estimator", estimator, ESTIMATORS)
        self.reset(1)

    def reset(self, batch_size: int) -> None:
        self._tracker = None
        self._shown = None

    @property
    def tracker(self):
        """The interest tracker (``ClickCounts`` or ``InterestBelief``) as of the last :meth:`act`
        (it has seen every response before that decision); ``None`` before the first one."""
        return self._tracker

    def act(self, obs: Mapping[str, np.ndarray], env) -> np.ndarray:
        from rlrec_helpers.agents.belief import check_user_model, make_tracker

        clusters = np.asarray(obs["candidate_clusters"])
        c = env.config
        if self._tracker is None:
            if c.user_model != "interest_evolution":   # they use the cluster quality means
                raise ValueError(f"{type(self).__name__} needs user_model='interest_evolution' "
                                 f"(presets 'default', 'costly_browsing'), got {c.user_model!r}")
            if self.estimator == "posterior":
                check_user_model(c)
            self._tracker = make_tracker(self.estimator, clusters.shape[0], c.n_topics,
                                         interest_step=c.interest_step, no_click_weight=c.no_click_weight)
        if self._shown is not None:
            self._tracker.update(self._shown, obs["clicked"], obs["active"])
        u_hat = self._interests(self._tracker.statistics()[..., 0], obs, env)
        slates = self._slates(u_hat, obs, env)
        self._shown = np.take_along_axis(clusters, slates, axis=1)
        return slates

    def _interests(self, estimate: np.ndarray, obs: Mapping[str, np.ndarray], env) -> np.ndarray:
        """The interests the policy uses: (B, T); here the estimate itself."""
        return estimate

    def _slates(self, u_hat: np.ndarray, obs: Mapping[str, np.ndarray], env) -> np.ndarray:
        raise NotImplementedError


class EstimatedInterestBlendPolicy(_EstimatedInterestPolicy):
    """"Cluster quality + λ · *estimated* interest": the blend with the true interests replaced
    by an estimate from the user's responses (half-privileged: the cluster quality means are
    privileged, the interests are not).

    ``estimator`` names the estimate of ``rlrec_helpers.agents.belief``: ``"click_rate"`` (the
    smoothed click rate, column 0 of ``cluster_statistics``) or ``"posterior"`` (the posterior
    mean of the Bayesian interest belief). It measures how much of the privileged blend's gain
    over quality-greedy a history-based estimate can recover.
    """

    def __init__(self, lam: float = 2.0, estimator: str = "click_rate"):
        self.lam = check_real("lam", lam, 0)   # as InterestQualityBlendPolicy
        super().__init__(estimator)

    def _slates(self, u_hat, obs, env):
        clusters = np.asarray(obs["candidate_clusters"])
        quality = env.privileged()["cluster_quality_means"]
        scores = quality[clusters] + self.lam * np.take_along_axis(u_hat, clusters, axis=1)
        return np.argsort(-scores, axis=1, kind="stable")[:, :env.config.slate_size]


class EstimatedInterestLongTermPolicy(_EstimatedInterestPolicy):
    """The long-term heuristic (:class:`LongTermValuePolicy`) with the true interests replaced
    by an estimate from the user's responses (half-privileged, like
    :class:`EstimatedInterestBlendPolicy`: cluster quality means privileged, interests not).

    Picks the K-slate maximising ``R(S) - weight · D(S)`` (expected watch minus expected budget
    drain per step) with choice weights ``û_c + 1``. Unlike the blend, a higher interest makes a
    cluster *worse* when its value ``a_c - θ`` is negative (liked but trashy). On
    ``costly_browsing`` it is the best history-based policy measured in notebook 06.
    """

    def __init__(self, weight: float = 0.7, estimator: str = "posterior"):
        self.weight = check_real("weight", weight, 0)
        super().__init__(estimator)

    def _slates(self, u_hat, obs, env):
        from rlrec_helpers.simulator import best_ratio_slates

        priv = {"interests": u_hat, "cluster_quality_means": env.privileged()["cluster_quality_means"]}
        w, a, w0, a0 = env.model.slate_terms(priv, self.weight, clusters=np.asarray(obs["candidate_clusters"]))
        return best_ratio_slates(w, a, w0, a0, env.config.slate_size, obs.get("candidate_mask"), n_iter=20)


class _RevealMixin:
    """The diagnostics' rule for when the user's *true* current interests replace the estimate:
    for every cluster shown to the user at least ``min_shows`` times, and for every cluster from
    decision ``from_step`` on (0-based: ``from_step = 0`` is the first slate). ``None`` switches a
    rule off; both off is the estimate itself."""

    def _init_reveal(self, min_shows: int | None, from_step: int | None) -> None:
        self.min_shows = check_int("min_shows", min_shows, 0, allow_none=True)  # None: never
        self.from_step = check_int("from_step", from_step, 0, allow_none=True)  # None: never

    def reset(self, batch_size: int) -> None:
        super().reset(batch_size)
        self._shows = None
        self._step = 0

    def _interests(self, estimate, obs, env):
        step, self._step = self._step, self._step + 1
        if self.from_step is not None and step >= self.from_step:
            return env.privileged()["interests"]
        if self.min_shows is None:
            return estimate
        b, t = estimate.shape
        if self._shows is None:
            self._shows = np.zeros((b, t), dtype=np.int64)
        if self._shown is not None:   # the slate shown at the previous step, to users still active
            rows = np.repeat(np.nonzero(obs["active"])[0], self._shown.shape[1])
            np.add.at(self._shows, (rows, self._shown[obs["active"]].ravel()), 1)
        return np.where(self._shows >= self.min_shows, env.privileged()["interests"], estimate)


class RevealedInterestBlendPolicy(_RevealMixin, EstimatedInterestBlendPolicy):
    """Diagnostic (privileged): the posterior blend, except that every cluster already shown to
    the user at least ``min_shows`` times uses the user's *true* current interest, and every
    cluster does from decision ``from_step`` on (``None``: never; see :class:`_RevealMixin`).

    ``min_shows = 0`` (or ``from_step = 0``) is the privileged blend; both ``None`` is the
    posterior blend. In between it measures where the blend with estimated interests loses: in
    clusters it never shows (an exploration problem), or in clusters it has shown but still knows
    imprecisely (too little evidence per showing).
    """

    def __init__(self, lam: float = 2.0, min_shows: int | None = 1, from_step: int | None = None):
        self._init_reveal(min_shows, from_step)
        super().__init__(lam, "posterior")


class RevealedInterestLongTermPolicy(_RevealMixin, EstimatedInterestLongTermPolicy):
    """Diagnostic (privileged): :class:`EstimatedInterestLongTermPolicy` on the posterior, with
    the true interests revealed as in :class:`RevealedInterestBlendPolicy` (after ``min_shows``
    showings of a cluster, or for every cluster from decision ``from_step`` on; ``None``: never).

    ``from_step = 0`` is the privileged :class:`~rlrec_helpers.simulator.LongTermValuePolicy`
    (same weight, cluster-mean qualities); both ``None`` is the long-term heuristic on the
    posterior, the best history-based policy measured in notebook 06. ``from_step = k`` prices
    the first k decisions' uncertainty: how much a policy that only sees the session could gain
    at most by knowing the user sooner (``benchmarks/information_limit.py``).
    """

    def __init__(self, weight: float = 0.7, min_shows: int | None = None, from_step: int | None = None):
        self._init_reveal(min_shows, from_step)
        super().__init__(weight, "posterior")


def history_free_control(env_config="default", hidden: int = 64):
    """A fresh REINFORCE agent whose encoder never sees the user's responses (control)."""
    from rlrec_helpers.agents.reinforce import AgentConfig, ReinforceAgent

    return ReinforceAgent(AgentConfig.for_env(env_config, hidden=hidden, use_history=False))


def tune_parameter(make_policy, values, env_config, *, n_episodes: int = 1000,
                   seed: int = 2024) -> tuple[float, dict[float, float]]:
    """Grid-search one parameter: ``make_policy(value)`` for each value; return (best value,
    {value: mean return}).

    Uses its own evaluation seed (2024) so that the value is never selected on the test
    episodes (``reinforce.EVAL_SEED``).
    """
    if len(values) == 0:
        raise ValueError("values must contain at least one value")
    results = {float(v): evaluate(make_policy(v), env_config, n_episodes=n_episodes,
                                  seed=seed).mean_return.mean for v in values}
    best = max(results, key=results.get)
    return best, results


def tune_blend(env_config, lams=(0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0), *, n_episodes: int = 1000,
               seed: int = 2024) -> tuple[float, dict[float, float]]:
    """Grid-search λ of ``InterestQualityBlendPolicy``; return (best λ, {λ: mean return})."""
    if len(lams) == 0:
        raise ValueError("lams must contain at least one value")
    return tune_parameter(InterestQualityBlendPolicy, lams, env_config, n_episodes=n_episodes, seed=seed)


def tune_estimated_long_term(env_config, weights=(0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0), *,
                             estimator: str = "posterior", n_episodes: int = 1000,
                             seed: int = 2024) -> tuple[float, dict[float, float]]:
    """Grid-search the weight of ``EstimatedInterestLongTermPolicy``; return (best, {weight: return})."""
    return tune_parameter(lambda w: EstimatedInterestLongTermPolicy(w, estimator), weights, env_config,
                          n_episodes=n_episodes, seed=seed)


def reference_policies(env_config="default", *, blend_lambda: float = 2.0, long_term_weight: float | None = None,
                       linucb_alpha: float = 0.5, seed: int = 0) -> dict[str, object]:
    """The baselines of notebook 06 by name (privileged ones are marked in the name).

    Only for interest-evolution configurations (``"default"``, ``"costly_browsing"``): the
    domain presets of notebook 08 use ``simulator.DOMAIN_POLICIES`` instead.
    """
    cfg = get_preset(env_config)
    if cfg.user_model != "interest_evolution":
        raise ValueError(f"env_config must be an interest-evolution configuration (user_model="
                         f"'interest_evolution', e.g. 'default', 'costly_browsing'), got user_model="
                         f"{cfg.user_model!r}; use simulator.DOMAIN_POLICIES for the domain presets")
    lt = LongTermValuePolicy() if long_term_weight is None else LongTermValuePolicy(long_term_weight)
    return {
        "random": RandomPolicy(seed),
        "myopic (privileged)": MyopicPolicy(),
        "quality-greedy (privileged)": QualityGreedyPolicy(),
        "long-term heuristic (privileged)": lt,
        f"blend λ={blend_lambda:g} (privileged)": InterestQualityBlendPolicy(blend_lambda),
        "LinUCB bandit": LinUCBSlatePolicy(cfg.n_topics, alpha=linucb_alpha, seed=seed),
    }

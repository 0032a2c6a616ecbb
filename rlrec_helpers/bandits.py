"""Multi-armed and contextual bandits, vectorised over independent runs (numpy only).

Every policy shares one small interface and keeps its state in arrays with a leading
*run* axis of length ``n_runs`` (R), so R independent seeds advance together::

    policy.reset(n_runs)                      # fresh state for R runs
    arms = policy.select(rng, context)        # (R,) int arm indices
    policy.update(arms, rewards, context)     # rewards: (R,) float

``context`` is ``None`` for context-free environments and an array of shape (R, d)
(features shared by all arms, e.g. the user's) or (R, K, d) (one feature vector per arm)
for contextual ones. Context-free policies ignore it.

Environments expose ``n_arms``, ``observe(rng, n_runs)`` (the context or ``None``),
``mean_rewards(context, n_runs)`` (expected reward of every arm, shape (R, K)) and
``draw(means, rng)`` (a random reward with the given means, shape (R,)).

:func:`run_bandit` drives a policy in an environment and returns a history of arrays of
shape (R, T); regret is the *pseudo-regret*, computed from expected rewards:
``regret[r, t] = sum_{s <= t} (max_a mu_s(a) - mu_s(a_s))``.

References: Auer, Cesa-Bianchi & Fischer (2002) for UCB1 and decaying ε-greedy;
Lai & Robbins (1985) for the lower bound; Li, Chu, Langford & Schapire (WWW 2010,
arXiv:1003.0146) for LinUCB (disjoint model); Agrawal & Goyal (2012, 2013) for
Thompson sampling and its linear version.
"""

from __future__ import annotations

import math

import numpy as np

from rlrec_helpers._validate import (check_finite_array, check_int, check_probabilities, check_probability,
                                      check_real)

# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------


def _probs_1d(probs) -> np.ndarray:
    """``probs`` as a 1-D (K,) array of probabilities in [0, 1], else ``ValueError``."""
    p = check_probabilities("probs", probs)
    if p.ndim != 1:
        raise ValueError(f"probs must be 1-D (n_arms,), got shape {p.shape}")
    return p


def _argmax_random_ties(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row-wise argmax of (R, K) ``values`` with ties broken uniformly at random."""
    is_max = values >= values.max(1, keepdims=True)
    return (is_max * rng.random(values.shape)).argmax(1)


# ---------------------------------------------------------------------------------------
# theory: KL divergence, Lai–Robbins
# ---------------------------------------------------------------------------------------


def bernoulli_kl(p, q) -> np.ndarray:
    """KL(Bernoulli(p) || Bernoulli(q)) in nats; p in [0, 1], q in (0, 1). Broadcasts.

    ``p`` and ``q`` must broadcast to one shape, else ``ValueError``.
    """
    p = check_probabilities("p", p)
    q = check_probabilities("q", q)
    if np.any(q <= 0.0) or np.any(q >= 1.0):
        raise ValueError(f"q must be in the open interval (0, 1), got {q!r}")
    try:
        np.broadcast_shapes(p.shape, q.shape)
    except ValueError:
        raise ValueError(f"p and q must broadcast to one shape, got shapes {p.shape} and {q.shape}") from None
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0) / q), 0.0)
        b = np.where(p < 1, (1 - p) * np.log(np.where(p < 1, 1 - p, 1.0) / (1 - q)), 0.0)
    return a + b


def lai_robbins_constant(probs) -> float:
    """C = sum over suboptimal arms of Δ_a / KL(p_a, p*) for Bernoulli arms ``probs`` (K,).

    Lai & Robbins (1985): any uniformly good policy has
    ``liminf_T E[regret(T)] / ln T >= C``. Requires 0 < p* < 1 and a 1-D ``probs``.
    """
    p = _probs_1d(probs)
    best = p.max()
    if not 0.0 < best < 1.0:
        raise ValueError(f"probs: the best arm's probability must be in (0, 1), got {best}")
    sub = p[p < best]
    if sub.size == 0:
        return 0.0
    return float(np.sum((best - sub) / bernoulli_kl(sub, best)))


def lai_robbins_curve(probs, horizon: int) -> np.ndarray:
    """The asymptotic lower-bound reference C · ln t for t = 1..horizon, shape (horizon,)."""
    horizon = check_int("horizon", horizon, 1)
    return lai_robbins_constant(probs) * np.log(np.arange(1, horizon + 1, dtype=float))


# ---------------------------------------------------------------------------------------
# environments
# ---------------------------------------------------------------------------------------


class BernoulliBandit:
    """K arms; arm a pays 1 with probability ``probs[a]`` and 0 otherwise."""

    def __init__(self, probs):
        p = check_probabilities("probs", probs)
        if p.ndim != 1:
            raise ValueError(f"probs must be 1-D (n_arms,), got shape {p.shape}")
        self.probs = p
        self.n_arms = int(p.size)

    @property
    def gaps(self) -> np.ndarray:
        """Δ_a = p* − p_a, shape (K,)."""
        return self.probs.max() - self.probs

    def observe(self, rng: np.random.Generator, n_runs: int):
        return None

    def mean_rewards(self, context, n_runs: int) -> np.ndarray:
        return np.broadcast_to(self.probs, (n_runs, self.n_arms))

    def draw(self, means: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return (rng.random(means.shape) < means).astype(float)

    def __repr__(self) -> str:
        return f"BernoulliBandit(probs={np.round(self.probs, 4).tolist()})"


def bernoulli_testbed(best: float = 0.5, others: float = 0.4, n_arms: int = 10,
                      best_index: int = 0) -> BernoulliBandit:
    """One arm with click probability ``best`` and ``n_arms − 1`` arms with ``others``."""
    best = check_probability("best", best)
    others = check_probability("others", others)
    n_arms = check_int("n_arms", n_arms, 2)
    check_int("best_index", best_index, 0, n_arms - 1, hi_name="n_arms - 1")
    probs = np.full(n_arms, others)
    probs[best_index] = best
    return BernoulliBandit(probs)


class GaussianBandit:
    """K arms with Gaussian rewards N(means[a], sigma²)."""

    def __init__(self, means, sigma: float = 1.0):
        m = np.asarray(means, dtype=float)
        if m.ndim != 1 or m.size == 0 or not np.all(np.isfinite(m)):
            raise ValueError(f"means must be a non-empty finite 1-D array, got {means!r}")
        self.means = m
        self.sigma = check_real("sigma", sigma, 0.0, lo_open=True)
        self.n_arms = int(m.size)

    def observe(self, rng, n_runs):
        return None

    def mean_rewards(self, context, n_runs: int) -> np.ndarray:
        return np.broadcast_to(self.means, (n_runs, self.n_arms))

    def draw(self, means: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return means + self.sigma * rng.standard_normal(means.shape)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class LogisticClickEnv:
    """Contextual click environment with a linear-logistic model of user × item features.

    Each step a new user arrives with features u ∈ R^d (u ~ N(0, I/d), so |u| ≈ 1). Item a
    has a unit feature vector v_a ∈ R^d and a popularity logit b_a. The user clicks item a
    with probability ``sigmoid(intercept + b_a + scale · u·v_a)``.

    With ``scale`` large compared with the spread of the b_a, different users prefer
    different items, so personalisation matters: the best single item for everybody is far
    from the best item for each user.

    The context handed to policies is ``[1, u]`` of shape (R, d + 1) (a bias feature plus
    the user features); items' features stay hidden, as in LinUCB's disjoint model, which
    learns one weight vector per item.

    ``intercept`` must be a finite number and ``seed`` (which draws the items) an integer >= 0.
    """

    def __init__(self, n_items: int = 10, dim: int = 5, scale: float = 1.5,
                 intercept: float = -2.0, popularity_sd: float = 0.3, seed: int = 0):
        self.n_arms = check_int("n_items", n_items, 1)
        self.dim = check_int("dim", dim, 1)
        self.scale = check_real("scale", scale, 0.0)
        self.intercept = check_real("intercept", intercept)
        self.popularity_sd = check_real("popularity_sd", popularity_sd, 0.0)
        rng = np.random.default_rng(check_int("seed", seed, 0, allow_none=True))
        v = rng.standard_normal((self.n_arms, self.dim))
        self.item_features = v / np.linalg.norm(v, axis=1, keepdims=True)
        self.item_bias = self.popularity_sd * rng.standard_normal(self.n_arms)
        self.context_dim = self.dim + 1

    def observe(self, rng: np.random.Generator, n_runs: int) -> np.ndarray:
        u = rng.standard_normal((n_runs, self.dim)) / math.sqrt(self.dim)
        return np.concatenate([np.ones((n_runs, 1)), u], axis=1)

    def click_probabilities(self, context: np.ndarray) -> np.ndarray:
        """Click probability of every item for finite contexts (R, d + 1) -> (R, K)."""
        context = check_finite_array("context", context, (None, self.context_dim))
        logits = self.intercept + self.item_bias + self.scale * context[:, 1:] @ self.item_features.T
        return _sigmoid(logits)

    def mean_rewards(self, context, n_runs: int) -> np.ndarray:
        return self.click_probabilities(context)

    def draw(self, means, rng):
        return (rng.random(means.shape) < means).astype(float)

    def population_ctr(self, n_users: int = 200_000, seed: int = 1) -> dict:
        """Monte-Carlo click rates: best single item for all users, per-user oracle, random.

        ``n_users``: an integer >= 1; ``seed``: an integer >= 0. Returns a dict of floats
        ``best_single_item``, ``oracle``, ``random``.
        """
        n_users = check_int("n_users", n_users, 1)
        rng = np.random.default_rng(check_int("seed", seed, 0, allow_none=True))
        p = self.click_probabilities(self.observe(rng, n_users))
        return {"best_single_item": float(p.mean(axis=0).max()),
                "oracle": float(p.max(axis=1).mean()),
                "random": float(p.mean())}


# ---------------------------------------------------------------------------------------
# policies
# ---------------------------------------------------------------------------------------


class Policy:
    """Base class. State lives in arrays with a leading run axis of length ``n_runs``.

    Public ``select``/``update`` validate their arguments and call ``_select``/``_update``,
    which :func:`run_bandit` calls directly (it creates valid arguments itself).
    """

    name = "policy"
    contextual = False

    def __init__(self, n_arms: int):
        self.n_arms = check_int("n_arms", n_arms, 1)
        self.n_runs = 0

    def reset(self, n_runs: int) -> None:
        """Fresh state for ``n_runs`` independent runs."""
        self.n_runs = check_int("n_runs", n_runs, 1)
        self._rows = np.arange(self.n_runs)
        self._offsets = self._rows * self.n_arms  # flat index of (run, arm 0)
        self.t = 0  # number of updates so far (the same in every run)

    def select(self, rng: np.random.Generator, context=None) -> np.ndarray:
        """Arm to play in every run, shape (R,) int; ``rng`` a ``numpy.random.Generator``."""
        self._require_reset()
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy Generator, got {rng!r}")
        return self._select(rng, self._check_context(context))

    def update(self, arms, rewards, context=None) -> None:
        """Record the reward (R,) each run got for its arm (R,)."""
        self._require_reset()
        arms = np.asarray(arms)
        rewards = np.asarray(rewards, dtype=float)
        if arms.shape != (self.n_runs,) or rewards.shape != (self.n_runs,):
            raise ValueError(f"arms and rewards must have shape ({self.n_runs},), got "
                             f"{arms.shape} and {rewards.shape}")
        if not np.issubdtype(arms.dtype, np.integer) or arms.min() < 0 or arms.max() >= self.n_arms:
            raise ValueError(f"arms must be integers in [0, {self.n_arms - 1}], got {arms!r}")
        if not np.all(np.isfinite(rewards)):
            raise ValueError("rewards must be finite")
        self._update(arms, rewards, self._check_context(context))

    def _require_reset(self):
        if self.n_runs == 0:
            raise ValueError("call reset(n_runs) before select/update")

    def _check_context(self, context):
        return context

    def _select(self, rng, context):  # pragma: no cover - abstract
        raise NotImplementedError

    def _update(self, arms, rewards, context):  # pragma: no cover - abstract
        raise NotImplementedError


class _CountingPolicy(Policy):
    """Keeps pull counts, reward sums and sample means per run and arm, shape (R, K)."""

    initial = 0.0

    def reset(self, n_runs: int) -> None:
        super().reset(n_runs)
        self.counts = np.zeros((self.n_runs, self.n_arms))
        self.sums = np.zeros((self.n_runs, self.n_arms))
        self.values = np.full((self.n_runs, self.n_arms), float(self.initial))
        self._c, self._s, self._v = self.counts.ravel(), self.sums.ravel(), self.values.ravel()

    def _update(self, arms, rewards, context=None) -> None:
        flat = self._offsets + arms
        self._c[flat] += 1.0
        self._s[flat] += rewards
        self._v[flat] = self._s[flat] / self._c[flat]
        self.t += 1

    @property
    def estimates(self) -> np.ndarray:
        """Sample mean reward of each arm (``initial`` before its first pull), shape (R, K)."""
        return self.values


class EpsilonGreedy(_CountingPolicy):
    """ε-greedy: with probability ε a uniformly random arm, else the best sample mean.

    Ties between best sample means are broken at random. ``epsilon = 0`` is pure
    exploitation (greedy). With ``decay_c`` set, ε follows Auer et al.'s schedule
    ε_t = min(epsilon, decay_c · K / (decay_d² · t)), t = 1, 2, ..., which gives logarithmic
    regret when ``decay_d`` is at most the smallest gap and ``decay_c`` is large enough.
    ``initial`` is the estimate of an arm never pulled.
    """

    def __init__(self, n_arms: int, epsilon: float = 0.1, *, decay_c: float | None = None,
                 decay_d: float = 0.1, initial: float = 0.0):
        super().__init__(n_arms)
        self.epsilon = check_probability("epsilon", epsilon)
        self.decay_c = check_real("decay_c", decay_c, 0.0, lo_open=True, allow_none=True)
        self.decay_d = check_real("decay_d", decay_d, 0.0, lo_open=True)
        self.initial = check_real("initial", initial)
        if self.decay_c is not None:
            self.name = f"ε-greedy (decaying, c={self.decay_c:g})"
        elif self.epsilon == 0.0:
            self.name = "greedy"
        else:
            self.name = f"ε-greedy (ε={self.epsilon:g})"

    def current_epsilon(self) -> float:
        """ε used at the next step."""
        if self.decay_c is None:
            return self.epsilon
        return min(self.epsilon, self.decay_c * self.n_arms / (self.decay_d ** 2 * (self.t + 1)))

    def _select(self, rng, context=None):
        greedy = _argmax_random_ties(self.values, rng)
        eps = self.current_epsilon()
        if eps == 0.0:
            return greedy
        # one uniform u per run: explore if u < eps; then u / eps is uniform on [0, 1)
        u = rng.random(self.n_runs)
        explore = u < eps
        return np.where(explore, np.minimum((u * (self.n_arms / eps)).astype(np.intp), self.n_arms - 1),
                        greedy)


class UCB1(_CountingPolicy):
    """UCB1 (Auer et al. 2002): play each arm once (in order), then the argmax of the index
    ``mean_a + sqrt(c · ln t / n_a)``, t = plays so far, n_a = plays of arm a (paper: c = 2).
    """

    name = "UCB1"

    def __init__(self, n_arms: int, c: float = 2.0):
        super().__init__(n_arms)
        self.c = check_real("c", c, 0.0, lo_open=True)

    def indices(self) -> np.ndarray:
        """UCB index of every arm, shape (R, K); +inf for arms never pulled."""
        with np.errstate(divide="ignore", invalid="ignore"):
            bonus = np.sqrt((self.c * math.log(max(self.t, 1))) / self.counts)
        return np.where(self.counts > 0, self.values + bonus, np.inf)

    def _select(self, rng, context=None):
        if self.t < self.n_arms:
            return np.full(self.n_runs, self.t)
        bonus = np.sqrt((self.c * math.log(self.t)) / self.counts)
        return np.argmax(self.values + bonus, axis=1)


class BernoulliTS(Policy):
    """Thompson sampling with independent Beta(alpha0, beta0) priors on each arm's mean.

    Posterior after s successes and f failures: Beta(alpha0 + s, beta0 + f). Rewards must
    be in [0, 1]; a fractional reward r adds r to alpha and 1 − r to beta. Beta draws are
    made as G_a / (G_a + G_b) with Gamma variates (exact, and faster than ``rng.beta``).
    """

    name = "Thompson sampling (Beta)"

    def __init__(self, n_arms: int, alpha0: float = 1.0, beta0: float = 1.0):
        super().__init__(n_arms)
        self.alpha0 = check_real("alpha0", alpha0, 0.0, lo_open=True)
        self.beta0 = check_real("beta0", beta0, 0.0, lo_open=True)

    def reset(self, n_runs):
        super().reset(n_runs)
        self._ab = np.empty((2, self.n_runs, self.n_arms))
        self._ab[0], self._ab[1] = self.alpha0, self.beta0
        self.alpha, self.beta = self._ab[0], self._ab[1]   # views, shape (R, K)
        self._a, self._b = self.alpha.ravel(), self.beta.ravel()

    def sample_means(self, rng) -> np.ndarray:
        """One posterior draw of every arm's mean, shape (R, K)."""
        g = rng.standard_gamma(self._ab)
        return g[0] / (g[0] + g[1])

    def _select(self, rng, context=None):
        return np.argmax(self.sample_means(rng), axis=1)

    def update(self, arms, rewards, context=None):
        r = np.asarray(rewards, dtype=float)
        if np.any(r < 0) or np.any(r > 1):
            raise ValueError(f"rewards must be in [0, 1] for Beta-Bernoulli Thompson sampling, got {rewards!r}")
        super().update(arms, rewards, context)

    def _update(self, arms, rewards, context=None):
        # run_bandit calls _update directly, so the [0, 1] check lives here too (it draws nothing
        # from the random stream); a reward outside [0, 1] would make a Beta parameter <= 0.
        if not np.all((rewards >= 0.0) & (rewards <= 1.0)):
            raise ValueError(f"rewards must be in [0, 1] for Beta-Bernoulli Thompson sampling "
                             f"(e.g. clicks, not Gaussian rewards), got {rewards!r}")
        flat = self._offsets + arms
        self._a[flat] += rewards
        self._b[flat] += 1.0 - rewards
        self.t += 1

    @property
    def posterior_mean(self) -> np.ndarray:
        """alpha / (alpha + beta), shape (R, K)."""
        return self.alpha / (self.alpha + self.beta)


class GaussianTS(Policy):
    """Thompson sampling with a conjugate Gaussian model of known noise variance.

    Prior N(prior_mean, prior_var) on each arm's mean; rewards ~ N(mean, noise_var).
    After n rewards with sum S the posterior is N(m, v) with
    ``1/v = 1/prior_var + n/noise_var`` and ``m = v · (prior_mean/prior_var + S/noise_var)``.
    """

    name = "Thompson sampling (Gaussian)"

    def __init__(self, n_arms: int, prior_mean: float = 0.0, prior_var: float = 1.0,
                 noise_var: float = 0.25):
        super().__init__(n_arms)
        self.prior_mean = check_real("prior_mean", prior_mean)
        self.prior_var = check_real("prior_var", prior_var, 0.0, lo_open=True)
        self.noise_var = check_real("noise_var", noise_var, 0.0, lo_open=True)

    def reset(self, n_runs):
        super().reset(n_runs)
        self.counts = np.zeros((self.n_runs, self.n_arms))
        self.sums = np.zeros((self.n_runs, self.n_arms))
        self._c, self._s = self.counts.ravel(), self.sums.ravel()

    def posterior(self) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and variance of every arm, each of shape (R, K)."""
        var = 1.0 / (1.0 / self.prior_var + self.counts / self.noise_var)
        mean = var * (self.prior_mean / self.prior_var + self.sums / self.noise_var)
        return mean, var

    def _select(self, rng, context=None):
        mean, var = self.posterior()
        return np.argmax(mean + np.sqrt(var) * rng.standard_normal(mean.shape), axis=1)

    def _update(self, arms, rewards, context=None):
        flat = self._offsets + arms
        self._c[flat] += 1.0
        self._s[flat] += rewards
        self.t += 1


class _LinearPolicy(Policy):
    """Disjoint linear model per arm: A_a = reg·I + Σ x xᵀ, b_a = Σ r x, θ_a = A_a⁻¹ b_a.

    Keeps ``A_inv`` (R, K, d, d), ``b`` and ``theta`` (R, K, d). A_a⁻¹ is updated with the
    Sherman–Morrison formula ``(A + x xᵀ)⁻¹ = A⁻¹ − (A⁻¹x)(A⁻¹x)ᵀ / (1 + xᵀA⁻¹x)``, so no
    matrix is ever inverted. ``context``: (R, d) features shared by all arms (e.g. the
    user's) or (R, K, d) one feature vector per arm.
    """

    contextual = True

    def __init__(self, n_arms: int, dim: int, reg: float = 1.0):
        super().__init__(n_arms)
        self.dim = check_int("dim", dim, 1)
        self.reg = check_real("reg", reg, 0.0, lo_open=True)

    def reset(self, n_runs):
        super().reset(n_runs)
        d = self.dim
        eye = np.eye(d) / self.reg
        self.A_inv = np.broadcast_to(eye, (self.n_runs, self.n_arms, d, d)).copy()
        self.b = np.zeros((self.n_runs, self.n_arms, d))
        self.theta = np.zeros((self.n_runs, self.n_arms, d))
        # flat views indexed by run * n_arms + arm (one integer index is faster than two)
        self._Af = self.A_inv.reshape(-1, d, d)
        self._bf = self.b.reshape(-1, d)
        self._thf = self.theta.reshape(-1, d)

    def _check_context(self, context):
        if context is None:
            raise ValueError("context is required by linear bandit policies")
        x = np.asarray(context, dtype=float)
        if x.shape not in ((self.n_runs, self.dim), (self.n_runs, self.n_arms, self.dim)):
            raise ValueError(f"context must have shape ({self.n_runs}, {self.dim}) or "
                             f"({self.n_runs}, {self.n_arms}, {self.dim}) = (n_runs, [n_arms,] dim), "
                             f"got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("context must be finite")
        return x

    def _mean_and_width(self, x):
        """x·θ_a and sqrt(xᵀA_a⁻¹x) for every run and arm, each (R, K)."""
        if x.ndim == 2:
            mean = np.einsum("rki,ri->rk", self.theta, x)
            quad = np.einsum("rkij,ri,rj->rk", self.A_inv, x, x)
        else:
            mean = np.einsum("rki,rki->rk", self.theta, x)
            quad = np.einsum("rkij,rki,rkj->rk", self.A_inv, x, x)
        if not (np.isfinite(mean).all() and np.isfinite(quad).all()):
            _context_overflow(x, "x·θ_a or xᵀA_a⁻¹x")
        return mean, np.sqrt(np.maximum(quad, 0.0))

    def _update(self, arms, rewards, context):
        x = context if context.ndim == 2 else context[self._rows, arms]   # (R, d)
        flat = self._offsets + arms
        a_inv = self._Af[flat]                                             # (R, d, d) copy
        ax = np.einsum("rij,rj->ri", a_inv, x)                             # A⁻¹x (A⁻¹ symmetric)
        denom = 1.0 + np.einsum("ri,ri->r", x, ax)
        if not np.isfinite(denom).all():   # Sherman-Morrison would leave A⁻¹ unchanged, θ wrong
            _context_overflow(x, "xᵀA⁻¹x")
        a_inv -= ax[:, :, None] * (ax[:, None, :] / denom[:, None, None])
        self._Af[flat] = a_inv
        b = self._bf[flat] + rewards[:, None] * x
        self._bf[flat] = b
        self._thf[flat] = np.einsum("rij,rj->ri", a_inv, b)
        self.t += 1


def _context_overflow(x: np.ndarray, what: str) -> None:
    """Raise the ``ValueError`` for a context too large for the linear model's arithmetic."""
    raise ValueError(f"context is too large for the linear model: {what} overflows to inf or NaN "
                     f"(largest |context| entry {float(np.abs(x).max()):.3g}); rescale the features, "
                     f"e.g. to unit norm")


class LinUCB(_LinearPolicy):
    """LinUCB, disjoint model (Li et al. 2010, Algorithm 1).

    Score of arm a: ``x·θ_a + alpha · sqrt(xᵀ A_a⁻¹ x)``; the arm with the largest score is
    played (ties at random).
    """

    name = "LinUCB"

    def __init__(self, n_arms: int, dim: int, alpha: float = 1.0, reg: float = 1.0):
        super().__init__(n_arms, dim, reg)
        self.alpha = check_real("alpha", alpha, 0.0)

    def scores(self, context) -> np.ndarray:
        """UCB score of every arm, shape (R, K)."""
        mean, width = self._mean_and_width(self._check_context(context))
        return mean + self.alpha * width

    def _select(self, rng, context):
        mean, width = self._mean_and_width(context)
        return _argmax_random_ties(mean + self.alpha * width, rng)


class LinearTS(_LinearPolicy):
    """Linear Thompson sampling (Agrawal & Goyal 2013) with a disjoint model per arm.

    Samples θ̃_a ~ N(θ_a, v² A_a⁻¹) and plays argmax x·θ̃_a. Each arm has its own independent
    θ̃_a, so x·θ̃_a ~ N(x·θ_a, v² xᵀA_a⁻¹x) exactly: the score is sampled in that
    one-dimensional form (the same distribution, without a Cholesky factorisation per step).
    """

    name = "linear Thompson sampling"

    def __init__(self, n_arms: int, dim: int, v: float = 0.5, reg: float = 1.0):
        super().__init__(n_arms, dim, reg)
        self.v = check_real("v", v, 0.0)

    def _select(self, rng, context):
        mean, width = self._mean_and_width(context)
        return np.argmax(mean + self.v * width * rng.standard_normal(mean.shape), axis=1)


# ---------------------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------------------


def run_bandit(policy: Policy, env, horizon: int, n_runs: int = 30, seed: int = 0,
               record_arms: bool = True) -> dict:
    """Run ``policy`` in ``env`` for ``horizon`` steps in ``n_runs`` independent runs.

    The runs share one ``numpy.random.default_rng(seed)`` stream but no state: every
    array has a leading run axis.

    Returns a dict of arrays of shape (n_runs, horizon): ``rewards`` observed rewards;
    ``expected`` expected reward of the chosen arm; ``optimal`` whether it was a best arm;
    ``regret`` cumulative pseudo-regret Σ_s (max_a μ_s(a) − μ_s(a_s)) in reward units;
    ``arms`` chosen arms (int32, only if ``record_arms``).
    """
    horizon = check_int("horizon", horizon, 1)
    n_runs = check_int("n_runs", n_runs, 1)
    seed = check_int("seed", seed, 0, allow_none=True)   # None: fresh entropy, as in numpy
    if policy.n_arms != env.n_arms:
        raise ValueError(f"policy.n_arms ({policy.n_arms}) must equal env.n_arms ({env.n_arms})")
    if policy.contextual and getattr(env, "context_dim", None) is None:
        raise ValueError(f"policy {policy.name!r} is contextual and needs an environment with "
                         f"contexts (env.context_dim set); {type(env).__name__} has none")
    rng = np.random.default_rng(seed)
    policy.reset(n_runs)
    rows = np.arange(n_runs)
    # (T, R) buffers: each step writes one contiguous row; transposed at the end
    rewards = np.empty((horizon, n_runs))
    expected = np.empty((horizon, n_runs))
    best = np.empty((horizon, n_runs))
    arms_hist = np.empty((horizon, n_runs), dtype=np.int32) if record_arms else None
    static_means = None
    if getattr(env, "context_dim", None) is None:          # context-free: means never change
        static_means = np.asarray(env.mean_rewards(None, 1), dtype=float)[0]
        best[:] = static_means.max()
    elif not policy.contextual:
        pass
    else:
        dim = getattr(policy, "dim", env.context_dim)
        if dim != env.context_dim:
            raise ValueError(f"policy dim ({dim}) must equal env.context_dim ({env.context_dim})")
    select, update, draw = policy._select, policy._update, env.draw
    for t in range(horizon):
        if static_means is None:
            context = env.observe(rng, n_runs)
            means = env.mean_rewards(context, n_runs)
            arms = select(rng, context)
            chosen = means[rows, arms]
            best[t] = means.max(axis=1)
        else:
            context = None
            arms = select(rng, None)
            chosen = static_means[arms]
        r = draw(chosen, rng)
        update(arms, r, context)
        rewards[t] = r
        expected[t] = chosen
        if record_arms:
            arms_hist[t] = arms
    gap = (best - expected).T
    out = {"rewards": np.ascontiguousarray(rewards.T), "expected": np.ascontiguousarray(expected.T),
           "optimal": gap <= 1e-12, "regret": np.cumsum(gap, axis=1)}
    if record_arms:
        out["arms"] = np.ascontiguousarray(arms_hist.T)
    return out


def regret_slope(cum_regret, start: float = 0.5, end: float = 1.0) -> np.ndarray:
    """Average regret per step between fractions ``start`` and ``end`` of the horizon.

    ``cum_regret``: non-empty, finite (R, T) cumulative regret -> (R,) slopes (regret units
    per step).
    """
    c = np.asarray(cum_regret, dtype=float)
    if c.ndim != 2:
        raise ValueError(f"cum_regret must be 2-D (n_runs, T), got shape {c.shape}")
    c = check_finite_array("cum_regret", c)
    start = check_probability("start", start)
    end = check_probability("end", end)
    T = c.shape[1]
    i0, i1 = int(round(start * T)), int(round(end * T))
    if not 0 <= i0 < i1 <= T or i1 - i0 < 1:
        raise ValueError(f"start and end must satisfy start < end and cover at least one step, "
                         f"got start={start}, end={end} for T={T}")
    before = c[:, i0 - 1] if i0 > 0 else np.zeros(c.shape[0])
    return (c[:, i1 - 1] - before) / (i1 - i0)


def epsilon_greedy_asymptotic_slope(probs, epsilon: float) -> float:
    """Regret per step of fixed-ε greedy once the greedy arm is the best one: ε · mean_a Δ_a.

    (Exploration picks any of the K arms uniformly, the best one included.) ``probs``: 1-D (K,).
    """
    p = _probs_1d(probs)
    eps = check_probability("epsilon", epsilon)
    return float(eps * np.mean(p.max() - p))


def compare_on_testbed(epsilon: float = 0.1, n_arms: int = 10, gap: float = 0.1,
                       best: float = 0.5, horizon: int = 2000, n_runs: int = 20,
                       seed: int = 0) -> dict:
    """Regret of greedy, ε-greedy(ε), UCB1 and Beta-TS on ``bernoulli_testbed(best, best − gap)``.

    The ε-greedy curve is always named ``"ε-greedy (ε=<epsilon>)"``, also for ε = 0 (then it is
    a second, independent set of greedy runs next to ``"greedy"``).

    Returns ``{"curves": name -> (n_runs, horizon) cumulative regret,
    "lai_robbins": (horizon,) C·ln t, "max_regret": (horizon,) gap·t, the regret of never showing
    the best arm (the most any policy can have), "lai_robbins_capped": (horizon,)
    min(C·ln t, gap·t), "probs": (n_arms,)}``. C·ln t is an asymptotic statement: for a small
    gap it exceeds gap·t over the whole horizon, hence the capped curve for plots. Pure; used by
    the notebook widget.
    """
    best = check_probability("best", best)
    gap = check_real("gap", gap, 0.0, best, lo_open=True, hi_name="best")
    seed = check_int("seed", seed, 0)
    env = bernoulli_testbed(best=best, others=best - gap, n_arms=n_arms)
    policies = [EpsilonGreedy(n_arms, 0.0), EpsilonGreedy(n_arms, epsilon), UCB1(n_arms),
                BernoulliTS(n_arms)]
    # With epsilon = 0 the second policy is also called "greedy"; give it its own name so that
    # its curve (an independent set of runs) does not silently overwrite the first one.
    policies[1].name = f"ε-greedy (ε={policies[1].epsilon:g})"
    curves = {}
    for i, pol in enumerate(policies):
        curves[pol.name] = run_bandit(pol, env, horizon, n_runs, seed=seed + i,
                                      record_arms=False)["regret"]
    lr = lai_robbins_curve(env.probs, horizon) if 0.0 < best < 1.0 else np.zeros(horizon)
    max_regret = gap * np.arange(1, horizon + 1, dtype=float)
    return {"curves": curves, "lai_robbins": lr, "max_regret": max_regret,
            "lai_robbins_capped": np.minimum(lr, max_regret), "probs": env.probs}

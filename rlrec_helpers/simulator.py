r"""A fast, faithful user simulator: RecSim's *interest evolution* plus four application domains.

numpy + gymnasium only. The default user model is a port of the interest-evolution
environment of RecSim (Ie et al. 2019, "RecSim: a configurable simulation platform for
recommender systems", arXiv:1909.04847), the environment of the SlateQ paper (Ie et al. 2019,
arXiv:1905.12767). The user-response model is **pluggable** (see *User models* below): four
more models give the application-domain presets of the article's §6 — ``"ecommerce"``,
``"social_media"``, ``"education"`` and ``"finance"`` — each with a long-term trade-off that a
myopic policy gets wrong. Every number below is a field of :class:`SimulatorConfig` or of the
model's parameter class (defaults in brackets).

Interest evolution (``user_model="interest_evolution"``; presets ``default``, ``costly_browsing``)
=================================================================================================

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
*Myopic* (:class:`MyopicPolicy`): the K highest true interests; *long-term*:
:class:`LongTermValuePolicy` / :class:`QualityGreedyPolicy` / :class:`InterestQualityBlendPolicy`.

User models
===========
``SimulatorConfig.user_model`` names a :class:`UserModel` subclass in :data:`USER_MODELS`;
``SimulatorConfig.model_params`` holds its parameters (``None``: defaults; else an instance of
:class:`EcommerceParams`, :class:`SocialMediaParams`, :class:`EducationParams` or
:class:`FinanceParams`). A user model supplies the users, the items, the features, the
candidate mask, the choice, the reward, the state update and the end of the session;
:class:`BatchEnv` supplies everything else (random streams, batching, truncation, autoreset,
the observation). Shared config fields: ``n_topics`` (T), ``n_candidates`` (N),
``slate_size`` (K), ``max_steps`` (200 for the domain presets: a safety net that never binds
for the reference policies) and ``doc_length``, the unit of ``obs["watch_time"]`` (an agent
divides by it). The interest-evolution fields are ignored by the other models.

Every domain model below uses a **multinomial choice**: the user picks slate item ``i`` with
probability ``w_i / (sum_{j in S} w_j + w_0)`` or nothing with ``w_0 / (...)``. Its features
are the T one-hot topic columns followed by the numeric columns listed
(``SimulatorConfig.feature_names``, width ``SimulatorConfig.n_features``). Items never depend
on the user state. **Myopic** (:class:`MyopicPolicy`) is the exact maximiser, over allowed
K-subsets, of the immediate expected reward ``(sum_S w_i a_i + w_0 a_0) / (sum_S w_i + w_0)``
using the true (privileged) state; the **long-term heuristic**
(:class:`LongTermHeuristicPolicy`) maximises the same ratio with ``a_i`` plus ``lambda`` x a
long-term term (``lambda = weight``, default the model's ``default_weight``), both solved
exactly by :func:`best_ratio_slates`.

``ecommerce`` (:class:`EcommerceModel`; T = 10 categories, N = 10, K = 3, ``doc_length`` = 1 price unit)
---------------------------------------------------------------------------------------------------------
* Item: category ``c`` uniform; "deal" badge ``d ~ Bernoulli(deal_prob [0.3])``; with
  ``v ~ U(0, 1)`` quality ``q = deal_quality_max [0.4] v`` for deals ("bargain bait"), else
  ``q = regular_quality_min [0.3] + (1 - 0.3) v``; price ``p = U(price_min [0.5], price_max [1.5])
  (1 - deal_discount [0.4] d)``; rating ``= clip(q + rating_noise [0.1] N(0, 1), 0, 1)``.
* Features: one-hot(c) | price p | rating | deal d (F = T + 3).
* User: interests ``u ~ U(-1, 1)^T``; price sensitivity ``beta ~ U(0.5, 1.5)``; trust
  ``tau_0 = trust_init [1]``; patience ``P_0 = patience [15]`` page views.
* Choice: ``w_i = tau exp(u_{c_i} + deal_appeal [1] d_i - beta p_i)``, ``w_0 = exp(no_buy_utility [1])``.
* Purchase of item i: reward = engagement = revenue ``p_i``;
  trust ``tau <- clip(tau exp(trust_rate [0.5] (q_i - quality_ref [0.5])), trust_min [0.2], trust_max [2])``.
* Patience: every step ``P <- P - visit_cost [1]``; after a purchase also
  ``P <- P + patience_rate [2] (q_i - q_ref)``. The session ends when ``P <= 0``.
* Trade-off: the deal badge and the lower price convert *now*, but low quality erodes trust
  (fewer purchases later) and patience (shorter sessions). Quality is visible through the
  rating and the deal flag. Myopic: ``a_i = p_i``, ``a_0 = 0`` (expected revenue);
  heuristic: ``a_i = p_i + lambda (q_i - q_ref)``, ``lambda = 2``.

``social_media`` (:class:`SocialMediaModel`; T = 10 topics, N = 10, K = 3, ``doc_length`` L = 1 minute)
---------------------------------------------------------------------------------------------------------
* Item: topic ``c`` uniform; length ``l ~ U(length_min [0.5], length_max [1.5])``.
* User: interests ``u ~ U(-1, 1)^T``; fatigue ``f = 0`` in ``[0, 1]^T``; energy
  ``E_0 = energy [10]`` minutes.
* Features: one-hot(c) | fatigue ``f_c`` (the user's fatigue with the item's topic: a
  deterministic function of her observed clicks, hence observable) | length l (F = T + 2).
* Choice: ``w_i = exp(interest_weight [2] u_c - fatigue_penalty [0.5] f_c)``,
  ``w_0 = exp(no_click_utility [0.5])``.
* Click on item i (topic c, fatigue ``f_c`` before the click): reward = engagement = dwell
  ``d = L l (0.3 + 0.35 (1 + u_c)) (1 - dwell_fatigue [0.3] f_c)`` minutes.
* Energy: every step ``E <- E - scroll_cost [0.2]``; after a click also
  ``E <- E - d + refresh_rate [0.8] d (1 - 2 f_c)`` (a fresh topic refreshes, a repeated one
  bores). The session ends when ``E <= 0``.
* Fatigue: after a click ``f_c <- f_c + fatigue_step [0.5] (1 - f_c)``; then, every step,
  ``f <- fatigue_decay [0.8] f`` for all topics.
* Trade-off: the favourite topic wins the click now but repeating it drains the energy;
  diversity sustains sessions. Myopic: ``a_i = d_i``, ``a_0 = 0``; heuristic (the drain
  objective ``R - lambda D`` of :class:`LongTermValuePolicy`): ``a_i = d_i - lambda (s + d_i
  (1 - rho (1 - 2 f_c)))``, ``a_0 = -lambda s``, ``lambda = 2``.

``education`` (:class:`EducationModel`; T = 6 skills, N = 10, K = 3, ``doc_length`` = 1 (score))
-------------------------------------------------------------------------------------------------
* Skills form chains of ``chain_length`` [3]: ``pre(s) = s - 1`` unless ``s mod 3 = 0``
  (0 -> 1 -> 2, 3 -> 4 -> 5), or ``prerequisites`` (-1: none; acyclic).
* Item (exercise): skill ``s`` uniform; difficulty ``delta ~ U(difficulty_min [0], difficulty_max [0.5])``.
* Learner: mastery ``m ~ U(0, mastery_init_max [0.1])^T``; motivation ``M_0 = motivation [12]``;
  lesson length ``H = lesson_length [40]`` steps; the platform's level estimate ``ell = 0``.
* Readiness ``r_s = min(1, m_pre(s) / readiness_level [0.3])`` (1 without prerequisite).
* Choice (which exercise to attempt): ``w_i = exp(-difficulty_aversion [1] delta_i)``,
  skip ``w_0 = exp(skip_utility [-1.5])``.
* Attempt of item i (skill s): solved with probability
  ``p_i = r_s sigmoid((m_s + zone_width [0.2] - delta_i) / success_slope [0.05])``; if solved,
  mastery ``m_s <- m_s + g_i`` with ``g_i = learning_rate [0.5] r_s (delta_i - m_s)^+`` (too easy
  items teach nothing) and ``ell_s <- ell_s + learning_rate (delta_i - ell_s)^+`` (the
  mastery update with ``r = 1``).
  Reward = ``reward_scale [100] g_i`` (mastery points); engagement = 1 if solved, else 0.
* Motivation: every step ``M <- M - step_cost [1]``; ``+ success_bonus [1]`` if solved,
  ``- failure_cost [1]`` if failed. The session ends when ``M <= 0`` (drop-out) or after H steps.
* Features: one-hot(s) | difficulty | depth of s in its chain / max depth | stretch
  ``(delta - ell_s)^+`` | review ``(ell_s - delta)^+`` | prerequisite level ``ell_pre(s)`` (1 without
  prerequisite) (F = T + 5); all but the depth in units of ``level_unit`` [0.1] (so
  ``difficulty = delta / 0.1``); ``ell`` uses only observed successes, so it is observable.
* Trade-off: hard exercises teach more if solved but fail often, and failures end the session.
  Myopic: ``a_i = 100 p_i g_i``, ``a_0 = 0``; heuristic: ``a_i = 100 p_i g_i + lambda (p_i
  success_bonus - (1 - p_i) failure_cost)``, ``lambda = 4``.

``finance`` (:class:`FinanceModel`; T = 8 product categories, N = 10, K = 3, ``doc_length`` = 1 point)
-------------------------------------------------------------------------------------------------------
* Risk class of category c: ``k(c) = category_class[c]`` (default ``c // 2``: 4 classes).
* Item (product): candidates ``0 .. n_safe - 1`` [4] are drawn uniformly from the class-0
  categories (the platform always offers its savings products), the others uniformly from all
  T; volatility ``sigma = sigma_{k(c)} U(1 - 0.3, 1 + 0.3)`` with ``class_volatility``
  ``sigma_k`` [(0.02, 0.04, 0.06, 0.08)] per period; expected return ``mu = r_f + S sigma`` with
  ``r_f = risk_free [0.002]`` and Sharpe ratio ``S ~ U(sharpe_min [0.1], sharpe_max [0.5])``.
* User: interests ``u ~ U(-1, 1)^T``; risk class ``k_u ~ Categorical(class_probs
  [(0.1, 0.3, 0.3, 0.3)])``; risk aversion ``gamma ~ U(0.5, 3)``; loss tolerance ``L =
  class_tolerance[k_u] [(0.016, 0.032, 0.048, 0.064)] U(1 - 0.2, 1 + 0.2)`` (0.8 ``sigma_k``);
  horizon ``H = horizon`` [60] periods; strikes ``loss_strikes`` [1].
* **Mask**: ``candidate_mask_i = k(c_i) <= k_u``: no product above the user's risk class may
  be recommended (:meth:`BatchEnv.step` raises ``ValueError``). The ``n_safe >= K`` class-0
  candidates are always allowed.
* Features: one-hot(c) | ``mu / return_unit [0.05]`` | ``sigma / max_k sigma_k`` |
  ``k(c) / (R - 1)`` | relative risk ``sigma / sigma_{k_u}`` | shortfall probability
  ``Phi((-L_{k_u} - mu) / sigma)`` with the class tolerance ``L_{k_u} = class_tolerance[k_u]``
  (F = T + 5). The user's risk class is known to the platform (it defines the mask), so the
  last two columns are observable; her own tolerance ``L`` (+-20 %) is not.
* Choice (invest in one product or none): ``w_i = exp(u_c + return_appeal [1] mu_i / 0.05)``,
  ``w_0 = exp(no_invest_utility [0.5])``.
* Investment in i: reward = engagement = the risk-adjusted utility (certainty-equivalent
  return, percentage points) ``CE_i = reward_scale [100] (mu_i - gamma sigma_i^2 / 2)``. The
  realised return is ``R ~ N(mu_i, sigma_i^2)``; a loss beyond the tolerance, ``R < -L``, i.e.
  with probability ``Phi_i = Phi((-L - mu_i) / sigma_i)`` (:func:`normal_cdf`), costs a strike;
  at ``loss_strikes`` strikes the user leaves (churn).
* Every step ``H <- H - 1``; the session ends at ``H = 0`` or at churn.
* Trade-off: within the allowed classes, risky products have the highest utility *now* but
  risk churn. Myopic: ``a_i = CE_i``, ``a_0 = 0``; heuristic: ``a_i = CE_i - lambda Phi_i
  (H - 1) / strikes_left`` (utility minus the expected loss of the remaining periods),
  ``lambda = 1``.

Observation and privileged state
================================
Every preset has the same observation (dict of arrays, B users): ``candidate_features``
(B, N, F) float32, ``candidate_clusters`` (B, N) int64 topic/category in [0, T),
``candidate_mask`` (B, N) bool (True = may be recommended; all True except finance),
``clicked`` (B,) slate position chosen at the previous step or -1, ``clicked_cluster`` (B,)
or -1, ``watch_time`` (B,) engagement of that response in ``doc_length`` units (minutes
watched, revenue, dwell minutes, 1 = solved, utility points), ``active`` (B,) bool. The
hidden state (interests, qualities, budget / trust, patience / fatigue, energy / mastery,
motivation / risk aversion, tolerance, ...) is exposed by :meth:`BatchEnv.privileged` for
oracle baselines and plots only. :class:`InterestEvolutionEnv` (alias :data:`SimulatorEnv`) is
the single-user ``gymnasium.Env`` for any preset; its :class:`SlateSpace` samples only
always-allowed candidates unless given ``sample(mask=obs["candidate_mask"])``.

Random streams
==============
Users, documents and choices use separate generators derived from the seed, and every row
draws its documents and its choice uniforms (``UserModel.n_uniforms`` per row: 2 for interest
evolution (choice, interest move), 1 for e-commerce and social media (choice), 2 for education
(choice, success) and finance (choice, churn)) every step whether active or not. So the same
seed gives identical users and candidate sets to every policy (common random numbers), which
makes policy comparisons on :func:`evaluate`'s shared seed set low-variance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, NamedTuple, Protocol

import numpy as np

from rlrec_helpers._validate import (check_choice, check_distribution, check_finite_array, check_int,
                                     check_real, is_int)
from rlrec_helpers.stats import MeanCI, check_ci_count, mean_ci

__all__ = [
    "SimulatorConfig", "PRESETS", "get_preset", "cluster_quality_means",
    "choice_probabilities", "interest_update", "BatchEnv", "InterestEvolutionEnv", "SimulatorEnv", "GYM_IDS",
    "SlateSpace", "SlatePolicy", "RandomPolicy", "MyopicPolicy", "QualityGreedyPolicy",
    "LongTermValuePolicy", "InterestQualityBlendPolicy", "LongTermHeuristicPolicy", "EvalResult",
    "evaluate", "evaluation_envs", "reference_episode", "SLATEQ_REFERENCE", "REFERENCE_POLICIES", "DOMAIN_POLICIES",
    "make_reference_policy", "compare_policies", "truncation_summary", "session_trace",
    "UserModel", "UserResponse", "USER_MODELS", "make_user_model", "InterestEvolutionModel",
    "EcommerceModel", "SocialMediaModel", "EducationModel", "FinanceModel",
    "EcommerceParams", "SocialMediaParams", "EducationParams", "FinanceParams",
    "DOMAIN_PRESETS", "best_ratio_slates", "normal_cdf",
    "DOMAIN_TABLE", "domain_table", "count_unsuitable", "MaskIgnoringPolicy", "session_story",
]

#: The SlateQ paper's simulation table rows (average return, default environment).
SLATEQ_REFERENCE = {"random": 159.2, "myopic": 166.3}

_CHOICE_MODELS = ("proportional", "mnl")


def _check_fields(obj, rules: dict[str, tuple[float, float, bool, bool]]) -> None:
    """``rules[name] = (low, high, low_open, high_open)``: the field ``obj.name`` must be a
    finite number in the interval (an infinite end is no bound)."""
    for name, (lo, hi, lo_open, hi_open) in rules.items():
        check_real(name, getattr(obj, name), lo, hi, lo_open=lo_open, hi_open=hi_open)


def _check_range_pair(obj, lo_name: str, hi_name: str) -> None:
    if getattr(obj, lo_name) > getattr(obj, hi_name):
        raise ValueError(f"{lo_name} must be <= {hi_name}, got {getattr(obj, lo_name)} > "
                         f"{getattr(obj, hi_name)}")


_INF = math.inf

#: Bound on the utility parameters that enter ``exp`` in the choice models (no-choice
#: utilities, appeal / interest weights, the mnl ``no_click_weight``): ``|v| <= 50``. Beyond
#: it ``exp`` overflows (or all weights underflow to 0) and the simulator would produce NaN
#: probabilities or raise ``OverflowError``; ``validate`` rejects such values instead.
MAX_UTILITY = 50.0
_U = MAX_UTILITY


# --------------------------------------------------------------------------- domain parameters


@dataclass(frozen=True)
class EcommerceParams:
    """Parameters of the ``"ecommerce"`` user model (equations in the module docstring).
    The utilities that enter ``exp`` must lie in ``[-MAX_UTILITY, MAX_UTILITY]`` = [-50, 50].

    Units: prices and revenue in reference-price units (``SimulatorConfig.doc_length`` = 1),
    patience in page views.
    """

    deal_prob: float = 0.3           # pi_deal: share of "deal" (bargain-bait) items
    deal_quality_max: float = 0.4    # deal items: q ~ U(0, deal_quality_max)
    regular_quality_min: float = 0.3  # regular items: q ~ U(regular_quality_min, 1)
    price_min: float = 0.5           # list price ~ U(price_min, price_max)
    price_max: float = 1.5
    deal_discount: float = 0.4       # deal price = list price * (1 - deal_discount)
    rating_noise: float = 0.1        # rating = clip(q + rating_noise * N(0, 1), 0, 1)
    deal_appeal: float = 1.0         # gamma: utility bonus of the deal badge
    price_sensitivity_min: float = 0.5   # beta ~ U(min, max), per user
    price_sensitivity_max: float = 1.5
    no_buy_utility: float = 1.0      # v_0
    trust_init: float = 1.0          # tau_0
    trust_min: float = 0.2
    trust_max: float = 2.0
    trust_rate: float = 0.5          # kappa: tau <- tau * exp(kappa (q - q_ref))
    quality_ref: float = 0.5         # q_ref
    patience: float = 15.0           # P_0 page views
    visit_cost: float = 1.0          # patience spent per page view
    patience_rate: float = 2.0       # rho: P <- P + rho (q - q_ref) after a purchase

    def validate(self, config: "SimulatorConfig") -> "EcommerceParams":
        _check_fields(self, {
            "deal_prob": (0, 1, False, False), "deal_quality_max": (0, 1, False, False),
            "regular_quality_min": (0, 1, False, False), "price_min": (0, _INF, True, True),
            "price_max": (0, _INF, True, True), "deal_discount": (0, 1, False, True),
            "rating_noise": (0, _INF, False, True), "deal_appeal": (-_U, _U, False, False),
            "price_sensitivity_min": (0, _INF, False, True), "price_sensitivity_max": (0, _INF, False, True),
            "no_buy_utility": (-_U, _U, False, False), "trust_init": (0, _INF, True, True),
            "trust_min": (0, _INF, True, True), "trust_max": (0, _INF, True, True),
            "trust_rate": (0, _U, False, False), "quality_ref": (0, 1, False, False),
            "patience": (0, _INF, True, True), "visit_cost": (0, _INF, False, True),
            "patience_rate": (0, _INF, False, True)})
        _check_range_pair(self, "price_min", "price_max")
        _check_range_pair(self, "price_sensitivity_min", "price_sensitivity_max")
        _check_range_pair(self, "trust_min", "trust_init")
        _check_range_pair(self, "trust_init", "trust_max")
        if self.visit_cost == 0 and config.max_steps >= 10**6:
            raise ValueError("visit_cost = 0 needs max_steps < 1e6 so that sessions end")
        return self


@dataclass(frozen=True)
class SocialMediaParams:
    """Parameters of the ``"social_media"`` user model (equations in the module docstring).
    The utilities that enter ``exp`` must lie in ``[-MAX_UTILITY, MAX_UTILITY]`` = [-50, 50].

    Units: dwell time and energy in minutes (``SimulatorConfig.doc_length`` = L minutes).
    """

    interest_weight: float = 2.0     # a: utility weight of the interest u_c
    fatigue_penalty: float = 0.5     # psi: utility penalty of fatigue f_c
    length_min: float = 0.5          # post length l ~ U(length_min, length_max) (x L minutes)
    length_max: float = 1.5
    no_click_utility: float = 0.5    # v_0
    dwell_fatigue: float = 0.3       # psi_d: dwell shrinks by (1 - psi_d f_c)
    fatigue_step: float = 0.5        # kappa_f: f_c <- f_c + kappa_f (1 - f_c) after a click
    fatigue_decay: float = 0.8       # delta_f: f <- delta_f f every step
    energy: float = 10.0             # E_0 minutes
    scroll_cost: float = 0.2         # minutes spent per step
    refresh_rate: float = 0.8        # rho: E <- E - d + rho d (1 - 2 f_c)

    def validate(self, config: "SimulatorConfig") -> "SocialMediaParams":
        _check_fields(self, {
            "interest_weight": (-_U, _U, False, False), "fatigue_penalty": (0, _INF, False, True),
            "length_min": (0, _INF, True, True), "length_max": (0, _INF, True, True),
            "no_click_utility": (-_U, _U, False, False), "dwell_fatigue": (0, 1, False, False),
            "fatigue_step": (0, 1, False, False), "fatigue_decay": (0, 1, False, False),
            "energy": (0, _INF, True, True), "scroll_cost": (0, _INF, False, True),
            "refresh_rate": (0, 1, False, True)})
        _check_range_pair(self, "length_min", "length_max")
        if self.scroll_cost == 0 and config.max_steps >= 10**6:
            raise ValueError("scroll_cost = 0 needs max_steps < 1e6 so that sessions end")
        return self


@dataclass(frozen=True)
class EducationParams:
    """Parameters of the ``"education"`` user model (equations in the module docstring).
    The utilities that enter ``exp`` must lie in ``[-MAX_UTILITY, MAX_UTILITY]`` = [-50, 50].

    Units: mastery and difficulty in [0, 1]; reward in mastery points (``reward_scale`` x
    mastery); motivation in steps. ``prerequisites[s]`` is the skill that must be learned
    before skill ``s`` (-1: none); ``None`` means chains of ``chain_length`` skills
    (with the default ``chain_length`` = 3: 0 -> 1 -> 2, 3 -> 4 -> 5, ...).
    """

    prerequisites: tuple[int, ...] | None = None
    chain_length: int = 3
    mastery_init_max: float = 0.1    # m_s ~ U(0, mastery_init_max) for every skill
    difficulty_min: float = 0.0      # delta ~ U(difficulty_min, difficulty_max)
    difficulty_max: float = 0.5
    zone_width: float = 0.2          # b: P(success) = r_s sigmoid((m_s + b - delta) / tau)
    success_slope: float = 0.05      # tau
    readiness_level: float = 0.3     # theta: r_s = min(1, m_pre(s) / theta)
    learning_rate: float = 0.5       # eta: m_s <- m_s + eta r_s (delta - m_s)^+ on success
    reward_scale: float = 100.0      # reward = reward_scale * mastery gain
    difficulty_aversion: float = 1.0  # alpha: choice utility -alpha delta
    skip_utility: float = -1.5       # v_0
    motivation: float = 12.0         # M_0
    step_cost: float = 1.0           # motivation spent per step
    success_bonus: float = 1.0       # motivation regained after a solved exercise
    failure_cost: float = 1.0        # extra motivation lost after a failed attempt
    lesson_length: float = 40.0      # H: the session also ends after H steps
    level_unit: float = 0.1          # difficulty-like feature columns are in units of level_unit

    def prereq_array(self, n_topics: int) -> np.ndarray:
        if self.prerequisites is not None:
            return np.asarray(self.prerequisites, dtype=np.int64)
        s = np.arange(n_topics)
        return np.where(s % self.chain_length == 0, -1, s - 1)

    def validate(self, config: "SimulatorConfig") -> "EducationParams":
        check_int("chain_length", self.chain_length, 1)
        if self.prerequisites is not None:
            try:
                p = np.asarray(self.prerequisites)
            except ValueError:   # a ragged sequence
                p = np.zeros(0)
            t = config.n_topics
            if p.shape != (t,) or p.dtype.kind not in "iu" or np.any(p < -1) or np.any(p >= t) \
                    or np.any(p == np.arange(t)):
                raise ValueError(f"prerequisites must be None or {t} integers in [-1, n_topics) "
                                 f"with prerequisites[s] != s, got {self.prerequisites!r}")
            for s in range(t):  # acyclic: following prerequisites from any skill ends at -1
                seen, cur = 0, s
                while cur >= 0 and seen <= t:
                    cur, seen = int(p[cur]), seen + 1
                if cur >= 0:
                    raise ValueError("prerequisites must not contain a cycle")
        _check_fields(self, {
            "mastery_init_max": (0, 1, False, False), "difficulty_min": (0, 1, False, False),
            "difficulty_max": (0, 1, False, False), "zone_width": (-1, 1, False, False),
            "success_slope": (0, _INF, True, True), "readiness_level": (0, 1, True, False),
            "learning_rate": (0, 1, False, False), "reward_scale": (0, _INF, True, True),
            "difficulty_aversion": (-_U, _U, False, False), "skip_utility": (-_U, _U, False, False),
            "motivation": (0, _INF, True, True), "step_cost": (0, _INF, True, True),
            "success_bonus": (0, _INF, False, True), "failure_cost": (0, _INF, False, True),
            "lesson_length": (0, _INF, True, True), "level_unit": (0, _INF, True, True)})
        _check_range_pair(self, "difficulty_min", "difficulty_max")
        if self.success_bonus >= self.step_cost and config.max_steps >= 10**6 and self.lesson_length >= 10**6:
            raise ValueError("success_bonus >= step_cost needs max_steps < 1e6 so that sessions end")
        return self


@dataclass(frozen=True)
class FinanceParams:
    """Parameters of the ``"finance"`` user model (equations in the module docstring).
    The utilities that enter ``exp`` must lie in ``[-MAX_UTILITY, MAX_UTILITY]`` = [-50, 50].

    Units: returns per period as fractions (0.01 = 1 %); reward in percentage points of
    certainty-equivalent return; horizon in periods (steps).
    ``category_class[c]`` is the risk class of product category ``c``: ``n_topics`` integers in
    [0, len(class_volatility)) (not floats, strings or bools); ``None``: ``c // 2``, which needs
    ``ceil(n_topics / 2)`` risk classes. ``class_probs`` and ``class_tolerance`` list one entry per
    risk class of ``class_volatility``.
    """

    category_class: tuple[int, ...] | None = None
    class_volatility: tuple[float, ...] = (0.02, 0.04, 0.06, 0.08)  # sigma_k per risk class
    volatility_spread: float = 0.3   # sigma = sigma_k * U(1 - spread, 1 + spread)
    risk_free: float = 0.002         # r_f
    sharpe_min: float = 0.1          # mu = r_f + s sigma, s ~ U(sharpe_min, sharpe_max)
    sharpe_max: float = 0.5
    class_probs: tuple[float, ...] = (0.1, 0.3, 0.3, 0.3)  # P(user risk class = k)
    class_tolerance: tuple[float, ...] = (0.016, 0.032, 0.048, 0.064)  # L_k: loss tolerance
    tolerance_spread: float = 0.2    # L = L_k * U(1 - spread, 1 + spread)
    risk_aversion_min: float = 0.5   # gamma ~ U(min, max)
    risk_aversion_max: float = 3.0
    return_appeal: float = 1.0       # alpha: choice utility alpha mu / return_unit
    return_unit: float = 0.05
    no_invest_utility: float = 0.5   # v_0
    horizon: float = 60.0            # H periods
    loss_strikes: int = 1            # the user leaves at her loss_strikes-th loss beyond tolerance
    n_safe: int = 4                  # candidates 0..n_safe-1 are always risk class 0
    reward_scale: float = 100.0      # reward = reward_scale (mu - gamma sigma^2 / 2)

    def classes(self, n_topics: int) -> np.ndarray:
        if self.category_class is not None:
            return np.asarray(self.category_class, dtype=np.int64)
        return np.arange(n_topics, dtype=np.int64) // 2

    def validate(self, config: "SimulatorConfig") -> "FinanceParams":
        t = config.n_topics
        r = len(self.class_volatility)
        if r < 1:
            raise ValueError("class_volatility must list at least one risk class")
        if self.category_class is None:  # the default c // 2 uses classes 0 .. ceil(t / 2) - 1
            if r < (t + 1) // 2:
                raise ValueError(f"class_volatility must list at least {(t + 1) // 2} risk classes for the "
                                 f"default category_class (category c has risk class c // 2, so "
                                 f"n_topics={t} needs ceil(n_topics / 2) = {(t + 1) // 2}), got {r}")
        else:  # check the raw values: classes() casts to int64 (0.7 -> 0, "1" -> 1)
            try:
                raw = np.asarray(self.category_class)
            except ValueError:  # a ragged sequence
                raw = None
            if raw is None or raw.shape != (t,) or raw.dtype.kind not in "iu" or np.any(raw < 0) \
                    or np.any(raw >= r):
                raise ValueError(f"category_class must be None or {t} integers in [0, {r}) "
                                 f"(one risk class per category), got {self.category_class!r}")
        cls = self.classes(t)
        if not np.any(cls == 0):
            raise ValueError("category_class must give at least one category risk class 0")
        for name in ("class_volatility", "class_probs", "class_tolerance"):
            v = np.asarray(getattr(self, name), dtype=float)
            if v.shape != (r,) or not np.all(np.isfinite(v)) or np.any(v < 0):
                raise ValueError(f"{name} must be {r} finite numbers >= 0, got {getattr(self, name)!r}")
        if np.any(np.asarray(self.class_volatility) <= 0) or np.any(np.asarray(self.class_tolerance) <= 0):
            raise ValueError("class_volatility and class_tolerance must be > 0")
        check_distribution("class_probs", self.class_probs)
        _check_fields(self, {
            "volatility_spread": (0, 1, False, True), "risk_free": (-1, 1, True, True),
            "sharpe_min": (-_INF, _INF, True, True), "sharpe_max": (-_INF, _INF, True, True),
            "tolerance_spread": (0, 1, False, True), "risk_aversion_min": (0, _INF, False, True),
            "risk_aversion_max": (0, _INF, False, True), "return_appeal": (-_U, _U, False, False),
            "return_unit": (0, _INF, True, True), "no_invest_utility": (-_U, _U, False, False),
            "horizon": (0, _INF, True, True), "reward_scale": (0, _INF, True, True)})
        _check_range_pair(self, "sharpe_min", "sharpe_max")
        _check_range_pair(self, "risk_aversion_min", "risk_aversion_max")
        # the return's choice utility return_appeal * mu / return_unit enters exp: bound it
        mu_max = abs(self.risk_free) + max(abs(self.sharpe_min), abs(self.sharpe_max)) * \
            max(self.class_volatility) * (1 + self.volatility_spread)
        appeal = abs(self.return_appeal) * mu_max / self.return_unit
        if not appeal <= MAX_UTILITY:
            raise ValueError(f"return_appeal * expected return / return_unit (the choice utility of a "
                             f"product's return) must be in [-{MAX_UTILITY}, {MAX_UTILITY}]: "
                             f"|return_appeal| * max|mu| / return_unit = {appeal:.4g}; lower return_appeal, "
                             f"sharpe_min/sharpe_max or class_volatility, or raise return_unit")
        check_int("loss_strikes", self.loss_strikes, 1)
        check_int("n_safe", self.n_safe, config.slate_size, config.n_candidates,
                  lo_name="slate_size", hi_name="n_candidates")
        return self


_PARAM_TYPES = (EcommerceParams, SocialMediaParams, EducationParams, FinanceParams)


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class SimulatorConfig:
    """Every parameter of the simulator (defaults = RecSim / SlateQ interest evolution).

    Units: lengths, budgets and costs in minutes for the interest-evolution model. See the
    module docstring for the equations.

    ``user_model`` selects the user-response model (a key of :data:`USER_MODELS`) and
    ``model_params`` its parameters (``None``: the model's defaults; else an instance of the
    model's parameter class, e.g. :class:`EcommerceParams`). The interest-evolution fields
    ``n_trashy`` .. ``quality_means`` (and ``time_budget``, ``choice_model``,
    ``no_click_weight``, ``no_click_cost``) are used by ``"interest_evolution"`` only;
    ``n_topics``, ``n_candidates``, ``slate_size``, ``max_steps`` and ``doc_length`` (the unit
    of ``obs["watch_time"]``: minutes per document, or the domain's engagement unit) are shared
    by every model.
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
    user_model: str = "interest_evolution"
    model_params: Any = None

    def validate(self) -> "SimulatorConfig":
        """Raise ``ValueError`` naming the first invalid field; return ``self`` if valid."""
        for name in ("n_topics", "n_candidates", "slate_size", "max_steps"):
            check_int(name, getattr(self, name), 1)
        check_choice("user_model", self.user_model, USER_MODELS)
        check_int("slate_size", self.slate_size, 1, self.n_candidates, hi_name="n_candidates")
        check_real("doc_length", self.doc_length, 0, lo_open=True)
        if self.user_model == "interest_evolution":
            self._validate_interest_evolution()
        ptype = USER_MODELS[self.user_model].params_type
        if self.model_params is not None:
            if ptype is None or not isinstance(self.model_params, ptype):
                want = "None" if ptype is None else f"None or a {ptype.__name__}"
                raise ValueError(f"model_params must be {want} for user_model={self.user_model!r}, "
                                 f"got {type(self.model_params).__name__}")
            self.model_params.validate(self)
        elif ptype is not None:
            ptype().validate(self)
        return self

    def _validate_interest_evolution(self) -> None:
        check_int("n_trashy", self.n_trashy, 0, self.n_topics, hi_name="n_topics")
        _check_fields(self, {
            "quality_min": (-_INF, 0, False, False), "quality_max": (0, _INF, False, True),
            "quality_std": (0, _INF, False, True),
            "time_budget": (0, _INF, True, True), "no_click_weight": (-_INF, _INF, True, True),
            "no_click_cost": (0, _INF, False, True), "refill_rate": (0, 1, False, True),
            "interest_step": (0, 1, False, False)})
        check_choice("choice_model", self.choice_model, _CHOICE_MODELS)
        if self.choice_model == "proportional" and self.no_click_weight <= 0:
            raise ValueError(f"no_click_weight must be > 0 for the proportional model, got {self.no_click_weight}")
        if self.choice_model == "mnl" and not -MAX_UTILITY <= self.no_click_weight <= MAX_UTILITY:
            raise ValueError(f"no_click_weight must be in [-{MAX_UTILITY}, {MAX_UTILITY}] for the mnl model "
                             f"(it enters exp), got {self.no_click_weight}")
        if self.no_click_cost == 0 and self.max_steps >= 10**6:
            raise ValueError("no_click_cost = 0 needs max_steps < 1e6 so that sessions end")
        check_real("quality_signal_noise", self.quality_signal_noise, 0, allow_none=True)
        if self.quality_means is not None:
            qm = np.asarray(self.quality_means, dtype=float)
            if qm.shape != (self.n_topics,) or not np.all(np.isfinite(qm)):
                raise ValueError(f"quality_means must be None or {self.n_topics} finite numbers, "
                                 f"got shape {qm.shape}")

    @property
    def params(self):
        """The user model's parameters (``model_params`` or the model's defaults; None for
        interest evolution, whose parameters are this config's own fields)."""
        ptype = USER_MODELS[self.user_model].params_type
        if self.model_params is not None or ptype is None:
            return self.model_params
        return ptype()

    @property
    def n_features(self) -> int:
        """F: width of a candidate's feature vector: the T one-hot category columns followed by
        the user model's numeric columns (interest evolution: [+ noisy quality signal])."""
        return USER_MODELS[self.user_model].feature_width(self)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Names of the F feature columns (``topic_0`` .. ``topic_{T-1}``, then numeric ones)."""
        return tuple(f"topic_{i}" for i in range(self.n_topics)) + \
            USER_MODELS[self.user_model].numeric_feature_names(self)


def cluster_quality_means(config: SimulatorConfig) -> np.ndarray:
    """(T,) mean quality m_c of each cluster (trashy ones first)."""
    if config.quality_means is not None:
        return np.asarray(config.quality_means, dtype=float).copy()
    n_nut = config.n_topics - config.n_trashy
    return np.concatenate([np.linspace(config.quality_min, 0.0, config.n_trashy),
                           np.linspace(0.0, config.quality_max, n_nut)])


# --------------------------------------------------------------------------- model pieces


def _item_weights(scores: np.ndarray, config: SimulatorConfig) -> tuple[np.ndarray, float]:
    """Choice weights of items with scores ``u.f`` and the no-click weight."""
    if config.choice_model == "proportional":
        return scores + 1.0, float(config.no_click_weight)
    return np.exp(scores), float(np.exp(config.no_click_weight - 1.0))


def _interest_evolution_config(config) -> SimulatorConfig:
    config = get_preset(config)
    if config.user_model != "interest_evolution":
        raise ValueError(f"config must use user_model='interest_evolution', got {config.user_model!r}")
    return config


def choice_probabilities(scores, config: "SimulatorConfig | str" = "default") -> np.ndarray:
    """Click probabilities of a slate (interest-evolution model).

    Args:
        scores: (..., K) user scores ``u . f`` of the slate items, in [-1, 1].
    Returns:
        (..., K + 1) probabilities: the K slate positions, then no click (last column).
    """
    config = _interest_evolution_config(config)
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
    config = _interest_evolution_config(config)
    u = np.asarray(u_c, dtype=float)
    if not np.all(np.isfinite(u)) or np.any(np.abs(u) > 1 + 1e-9):
        raise ValueError("u_c must be finite with values in [-1, 1]")
    alpha = config.interest_step * (1.0 - np.abs(u))
    delta = alpha * (1.0 - u)
    up = np.clip(u + delta, -1.0, 1.0)
    down = np.clip(u - delta, -1.0, 1.0)
    return np.stack([up, down]), (u + 1.0) / 2.0


def _seed_int(seed) -> int:
    return check_int("seed", seed, 0)


def normal_cdf(x) -> np.ndarray:
    """Standard normal CDF, numpy only (Abramowitz & Stegun 7.1.26 erf, |error| < 1.5e-7)."""
    x = np.asarray(x, dtype=float)
    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-z * z)
    return 0.5 * (1.0 + np.sign(x) * erf)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=float)))


def _top_k(scores: np.ndarray, k: int, mask: np.ndarray | None = None) -> np.ndarray:
    """(B, k) indices of the k largest scores per row, best first (stable ties: lower index).

    With ``mask`` (B, N) bool, only allowed (True) candidates are chosen (each row must have
    at least k of them)."""
    if mask is not None and not mask.all():
        scores = np.where(mask, scores, -np.inf)
    scores = np.asarray(scores)
    if 0 <= k <= 4 and scores.ndim == 2 and k <= scores.shape[1] and scores.dtype.kind == "f" \
            and scores.dtype.itemsize <= 8 and np.isfinite(scores).all():   # float64 holds them exactly
        # Same result as the stable sort below, about 20% faster for a small k: k passes of
        # argmax (the first of equal maxima, as the stable sort), each chosen entry set to -inf
        # (below every finite score, so it is never chosen again).
        x = np.array(scores, dtype=float)
        rows = np.arange(x.shape[0])
        top = np.empty((x.shape[0], k), dtype=np.intp)
        for j in range(k):
            top[:, j] = i = x.argmax(axis=1)
            x[rows, i] = -np.inf
        return top
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def _has_duplicate_in_row(a: np.ndarray) -> bool:
    """Whether some row of the (B, K) integer array repeats a value (pairwise for small K)."""
    k = a.shape[1]
    if k <= 1:
        return False
    if k <= 6:
        return any(bool(np.any(a[:, i] == a[:, j])) for i in range(k) for j in range(i + 1, k))
    s = np.sort(a, axis=1)
    return bool(np.any(s[:, 1:] == s[:, :-1]))


def _sample_choice(w: np.ndarray, w0, uniform: np.ndarray) -> np.ndarray:
    """Slate position chosen with probability ``w_i / (sum w + w0)``; K means no click.

    ``w`` (B, K) non-negative float weights, ``w0`` scalar or (B,), ``uniform`` (B,) in [0, 1)."""
    if w.shape[1] > 8:
        cum = np.cumsum(w, axis=1)
        total = cum[:, -1] + w0
        x = uniform * total
        return (x[:, None] >= cum).sum(axis=1)
    # small K: the same running sums as np.cumsum, column by column (faster on (B, K) rows)
    cums = [w[:, 0]]
    for j in range(1, w.shape[1]):
        cums.append(cums[-1] + w[:, j])
    x = uniform * (cums[-1] + w0)
    pos = (x >= cums[0]).astype(np.int64)
    for c in cums[1:]:
        pos += x >= c
    return pos


def best_ratio_slates(w: np.ndarray, a: np.ndarray, w0, a0, k: int, mask: np.ndarray | None = None,
                      n_iter: int = 50) -> np.ndarray:
    """The K-subset S maximising ``(sum_S w_i a_i + w0 a0) / (sum_S w_i + w0)``, per row.

    This is the expected value of a slate under a choice model that picks item i with
    probability ``w_i / (sum_S w + w0)`` (no choice: ``w0``) with value ``a_i`` (no choice:
    ``a0``). Solved exactly by Dinkelbach iterations: for a fixed ratio ``theta`` the best
    slate is the top K of ``w_i (a_i - theta)``. Args: ``w``, ``a`` (B, N) finite, ``w >= 0``
    (0: an item that is never chosen, e.g. interest -1 in the proportional model); ``w0`` >= 0
    (> 0 in a row with a zero ``w``) and ``a0`` finite, scalars or (B,); ``k`` integer in
    [1, N]; ``mask`` (B, N) bool of allowed candidates, at least ``k`` per row; ``n_iter``
    integer >= 0 (iterations; 0 = one top-K at ``theta = a0``). Returns (B, K) candidate
    indices (best first). Invalid arguments raise ``ValueError``.
    """
    w = np.asarray(w, dtype=float)
    a = np.asarray(a, dtype=float)
    if w.ndim != 2 or w.shape[0] < 1 or w.shape[1] < 1:
        raise ValueError(f"w must be 2-D (B, N) with B, N >= 1, got shape {w.shape}")
    b, n = w.shape
    if a.shape != w.shape:
        raise ValueError(f"a must have the shape of w, (B, N) = {w.shape}, got {a.shape}")
    check_int("k", k, 1, n, hi_name="N")
    check_int("n_iter", n_iter, 0)
    if not np.isfinite(w).all():
        raise ValueError("w must be finite (choice weights >= 0), got NaN or inf")
    if w.min() < 0.0:
        raise ValueError(f"w must be >= 0 (choice weights), got a minimum of {w.min()}")
    if not np.isfinite(a).all():
        raise ValueError("a must be finite (per-choice values), got NaN or inf")
    try:
        w0 = np.broadcast_to(np.asarray(w0, dtype=float), (b,))
        a0 = np.broadcast_to(np.asarray(a0, dtype=float), (b,))
    except ValueError:
        raise ValueError(f"w0 and a0 must be scalars or shape (B,) = ({b},), got shapes "
                         f"{np.shape(w0)} and {np.shape(a0)}") from None
    if not (np.isfinite(w0).all() and w0.min() >= 0.0):
        raise ValueError(f"w0 must be finite and >= 0 (no-choice weight), got {w0}")
    if w0.min() == 0.0 and (w[w0 == 0.0] <= 0.0).any():
        raise ValueError("w0 must be > 0 in rows where some w is 0 (else a slate's choice "
                         "probabilities are undefined)")
    if not np.isfinite(a0).all():
        raise ValueError(f"a0 must be finite (no-choice value), got {a0}")
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != w.shape or mask.dtype != bool:
            raise ValueError(f"mask must be a bool array of the shape of w, (B, N) = {w.shape}, "
                             f"got {mask.dtype} {mask.shape}")
        if not mask.all():
            allowed = mask.sum(axis=1)
            if allowed.min() < k:
                row = int(np.argmin(allowed))
                raise ValueError(f"mask must allow at least k={k} candidates in every row; row {row} "
                                 f"allows {int(allowed[row])}")
    theta = a0.copy()
    idx = _top_k(w * (a - theta[:, None]), k, mask)
    for _ in range(n_iter):
        idx = _top_k(w * (a - theta[:, None]), k, mask)
        ws = np.take_along_axis(w, idx, axis=1)
        new = ((ws * np.take_along_axis(a, idx, axis=1)).sum(1) + w0 * a0) / (ws.sum(1) + w0)
        if np.allclose(new, theta, rtol=0, atol=1e-12):
            break
        theta = new
    return idx


# --------------------------------------------------------------------------- user models


class UserResponse(NamedTuple):
    """What a :class:`UserModel` returns for one step of B users (all arrays (B,)).

    ``choice``: slate position chosen (K = no click); ``reward``; ``engagement`` (the value
    reported as ``obs["watch_time"]``, in units of ``doc_length``); ``end``: the session is
    over (for active rows: ``terminated``); ``info``: extra per-row arrays for ``step``'s info.
    """

    choice: np.ndarray
    reward: np.ndarray
    engagement: np.ndarray
    end: np.ndarray
    info: dict


class UserModel:
    """A pluggable user-response model: users, items, choice, reward, state update, end.

    :class:`BatchEnv` owns the random streams, the batch bookkeeping (active rows, step
    counts, truncation, autoreset) and the observation; a user model supplies the rest:

    * ``sample_users(rng, n) -> state``: dict of (n, ...) arrays (the hidden user state);
    * ``sample_items(rng, b) -> items``: dict of (b, N) arrays with at least ``"cluster"``
      (int topic in [0, T)); items never depend on the user state, so every policy meets
      the same candidates (common random numbers);
    * ``features(items, state)`` (B, N, F) float32: T one-hot columns, then the numeric
      columns named by ``numeric_feature_names``; ``candidate_mask(items, state)`` (B, N)
      bool (True = may be recommended);
    * ``respond(state, items, slates, uniforms, active) -> UserResponse``: updates ``state``
      in place for active rows only, using ``uniforms`` (B, ``n_uniforms``) from the choice
      stream;
    * ``privileged(state, items)``: copies of the hidden state for oracle policies and plots;
    * ``slate_terms(priv, weight)`` -> ``(w, a, w0, a0)``: choice weights and per-choice
      values of the candidates such that the (long-term-adjusted) expected value of slate S
      is ``(sum_S w a + w0 a0) / (sum_S w + w0)``; ``weight = 0`` gives the immediate
      expected reward (the myopic objective), ``weight > 0`` adds the model's long-term term.
      The domain models read the candidates' topics from ``priv["clusters"]``; interest
      evolution's ``privileged()`` has no ``"clusters"`` key, so its ``slate_terms`` also needs
      ``clusters=obs["candidate_clusters"]`` (B, N).
    """

    name: ClassVar[str] = ""
    params_type: ClassVar[type | None] = None
    n_uniforms: ClassVar[int] = 2
    numeric_features: ClassVar[tuple[str, ...]] = ()
    global_privileged: ClassVar[tuple[str, ...]] = ()
    #: weight of the long-term term used by :class:`LongTermHeuristicPolicy` by default
    default_weight: ClassVar[float] = 1.0

    def __init__(self, config: SimulatorConfig):
        self.config = config
        self.params = config.params

    # -- description
    @classmethod
    def numeric_feature_names(cls, config: SimulatorConfig) -> tuple[str, ...]:
        return cls.numeric_features

    @classmethod
    def feature_width(cls, config: SimulatorConfig) -> int:
        return config.n_topics + len(cls.numeric_feature_names(config))

    def numeric_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of the numeric feature columns."""
        n = len(self.numeric_feature_names(self.config))
        return np.zeros(n, np.float32), np.ones(n, np.float32)

    def feature_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.numeric_bounds()
        t = self.config.n_topics
        return (np.concatenate([np.zeros(t, np.float32), np.asarray(lo, np.float32)]),
                np.concatenate([np.ones(t, np.float32), np.asarray(hi, np.float32)]))

    def engagement_bounds(self) -> tuple[float, float]:
        return 0.0, float(self.config.doc_length)

    def always_allowed(self) -> tuple[int, ...] | None:
        """Candidate positions allowed in every state (None: no masking in this model)."""
        return None

    # -- dynamics (abstract)
    def sample_users(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def sample_items(self, rng: np.random.Generator, b: int) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def features(self, items: dict, state: dict) -> np.ndarray:
        raise NotImplementedError

    def candidate_mask(self, items: dict, state: dict) -> np.ndarray:
        return np.ones(items["cluster"].shape, dtype=bool)

    def respond(self, state: dict, items: dict, slates: np.ndarray, uniforms: np.ndarray,
                active: np.ndarray) -> UserResponse:
        """The users' response to ``slates`` (B, K), updating ``state`` in place. ``slates`` must
        already be valid (:meth:`BatchEnv.check_slates`: distinct indices in [0, N)); a model
        may index the candidates without checking them again."""
        raise NotImplementedError

    def privileged(self, state: dict, items: dict) -> dict[str, np.ndarray]:
        raise NotImplementedError

    #: (label, privileged key, reduction over the last axis or None) of the per-user hidden
    #: quantities that tell a session's story (see :func:`session_story`)
    story_fields: ClassVar[tuple[tuple[str, str, str | None], ...]] = ()

    def story_state(self, priv: dict) -> dict[str, np.ndarray]:
        """Per-user hidden quantities (B,) named by :attr:`story_fields` (privileged; plots only)."""
        out = {}
        for label, key, reduce in self.story_fields:
            v = np.asarray(priv[key], dtype=float)
            out[label] = v if reduce is None else getattr(np, reduce)(v, axis=-1)
        return out

    # -- reference policies
    def slate_terms(self, priv: dict, weight: float):
        raise NotImplementedError

    def myopic_slates(self, obs: dict, priv: dict, k: int) -> np.ndarray:
        """Slates maximising the immediate expected reward (privileged)."""
        w, a, w0, a0 = self.slate_terms(priv, 0.0)
        return best_ratio_slates(w, a, w0, a0, k, obs.get("candidate_mask"))

    def heuristic_slates(self, obs: dict, priv: dict, k: int, weight: float | None = None) -> np.ndarray:
        """Slates maximising the long-term-adjusted expected value (privileged heuristic)."""
        w, a, w0, a0 = self.slate_terms(priv, self.default_weight if weight is None else weight)
        return best_ratio_slates(w, a, w0, a0, k, obs.get("candidate_mask"))


class InterestEvolutionModel(UserModel):
    """RecSim's interest-evolution model (the module docstring's first part)."""

    name = "interest_evolution"
    n_uniforms = 2
    global_privileged = ("cluster_quality_means",)
    story_fields = (("budget (min)", "budget", None), ("max interest", "interests", "max"))

    def __init__(self, config: SimulatorConfig):
        super().__init__(config)
        self.means = cluster_quality_means(config)
        self._eye = np.eye(config.n_topics, dtype=np.float32)

    @classmethod
    def numeric_feature_names(cls, config):
        return () if config.quality_signal_noise is None else ("quality_signal",)

    def numeric_bounds(self):
        n = len(self.numeric_feature_names(self.config))
        big = np.float32(np.finfo(np.float32).max)
        return np.full(n, -big, np.float32), np.full(n, big, np.float32)

    def sample_users(self, rng, n):
        interests = rng.uniform(-1.0, 1.0, size=(n, self.config.n_topics))
        budget = np.full(n, float(self.config.time_budget))
        return {"interests": interests, "budget": budget}

    def sample_items(self, rng, b):
        c = self.config
        n = c.n_candidates
        clusters = rng.integers(0, c.n_topics, size=(b, n))
        quality = self.means.take(clusters) + c.quality_std * rng.standard_normal((b, n))
        items = {"cluster": clusters, "quality": quality}
        if c.quality_signal_noise is not None:
            items["signal"] = quality + c.quality_signal_noise * rng.standard_normal((b, n))
        return items

    def features(self, items, state):
        feats = self._eye.take(items["cluster"], axis=0)   # one-hot topics (B, N, T); take: faster than eye[cl]
        if self.config.quality_signal_noise is not None:
            feats = np.concatenate([feats, items["signal"][..., None].astype(np.float32)], axis=-1)
        return feats

    def respond(self, state, items, slates, uniforms, active):
        c = self.config
        a = slates
        rows = np.arange(a.shape[0])
        interests, budget0 = state["interests"], state["budget"]
        flat = a + (rows * items["cluster"].shape[1])[:, None]      # (B, K) flat indices: take is
        shown_clusters = items["cluster"].take(flat)                # faster than [rows[:, None], a]
        shown_quality = items["quality"].take(flat)                                      # (B, K)
        scores = interests.take(shown_clusters + (rows * interests.shape[1])[:, None])    # (B, K)
        w, w0 = _item_weights(scores, c)
        pos = _sample_choice(w, w0, uniforms[:, 0])                             # K means no click
        click = (pos < c.slate_size) & active
        pos_c = np.minimum(pos, c.slate_size - 1)
        cl = shown_clusters[rows, pos_c]
        q = shown_quality[rows, pos_c]
        watch = np.where(click, np.minimum(budget0, c.doc_length), 0.0)
        # budget: drain, refill with quality after a click; step penalty after no click
        budget = budget0 - watch + c.refill_rate * watch * q
        budget = np.where(click, budget, budget0 - np.where(active, c.no_click_cost, 0.0))
        # interest evolution on the clicked topic
        u_c = interests[rows, cl]
        delta = c.interest_step * (1.0 - np.abs(u_c)) * (1.0 - u_c)
        up = uniforms[:, 1] < (u_c + 1.0) / 2.0
        new_u = np.minimum(np.maximum(np.where(up, u_c + delta, u_c - delta), -1.0), 1.0)   # clip, faster
        interests[rows, cl] = np.where(click, new_u, u_c)
        state["budget"] = budget
        return UserResponse(pos, watch, watch, budget <= 0.0,
                            {"clicked_quality": np.where(click, q, np.nan)})

    def privileged(self, state, items):
        return {"interests": state["interests"].copy(), "candidate_quality": items["quality"].copy(),
                "cluster_quality_means": self.means.copy(), "budget": state["budget"].copy()}

    def slate_terms(self, priv, weight, cluster_means: bool = True, clusters=None):
        """``(w, a, w0, a0)`` of the long-term-value objective ``R - weight D`` (see
        :class:`LongTermValuePolicy`). Needs the candidates' topics: ``clusters`` (B, N), e.g.
        ``obs["candidate_clusters"]``, or ``priv["clusters"]`` (which :meth:`privileged` of this
        model does not provide, unlike the domain models')."""
        c = self.config
        if clusters is None and "clusters" not in priv:
            raise ValueError("clusters must be given for interest evolution (its privileged() has no "
                             "'clusters' key): pass clusters=obs['candidate_clusters'], shape (B, N)")
        cl = priv["clusters"] if clusters is None else clusters
        u = np.take_along_axis(priv["interests"], cl, axis=1)
        q = priv["cluster_quality_means"][cl] if cluster_means else priv["candidate_quality"]
        w, w0 = _item_weights(u, c)
        lam = float(weight)
        a = c.doc_length * (1.0 - lam + lam * c.refill_rate * q)   # per-click value of item
        a0 = -lam * c.no_click_cost                                  # value of no click
        return w, a, w0, a0

    def myopic_slates(self, obs, priv, k):
        """Top K true interests ``u_c`` (the most clickable candidates)."""
        u = np.take_along_axis(priv["interests"], obs["candidate_clusters"], axis=1)
        return _top_k(u, k, obs.get("candidate_mask"))

    def heuristic_slates(self, obs, priv, k, weight=None):
        w, a, w0, a0 = self.slate_terms(priv, self.default_weight if weight is None else weight,
                                        clusters=obs["candidate_clusters"])
        return best_ratio_slates(w, a, w0, a0, k, obs.get("candidate_mask"), n_iter=20)


# --------------------------------------------------------------------------- application domains


class EcommerceModel(UserModel):
    """E-commerce: purchases give revenue; cheap low-quality "deals" erode trust and patience."""

    name = "ecommerce"
    params_type = EcommerceParams
    n_uniforms = 1
    numeric_features = ("price", "rating", "deal")
    default_weight = 2.0
    story_fields = (("trust", "trust", None), ("patience (views)", "patience", None))

    def numeric_bounds(self):
        p = self.params
        return (np.array([p.price_min * (1 - p.deal_discount), 0.0, 0.0], np.float32),
                np.array([p.price_max, 1.0, 1.0], np.float32))

    def engagement_bounds(self):
        return 0.0, float(self.params.price_max)

    def sample_users(self, rng, n):
        p = self.params
        return {"interests": rng.uniform(-1.0, 1.0, size=(n, self.config.n_topics)),
                "price_sensitivity": rng.uniform(p.price_sensitivity_min, p.price_sensitivity_max, size=n),
                "trust": np.full(n, float(p.trust_init)),
                "patience": np.full(n, float(p.patience))}

    def sample_items(self, rng, b):
        c, p = self.config, self.params
        shape = (b, c.n_candidates)
        cluster = rng.integers(0, c.n_topics, size=shape)
        deal = rng.random(shape) < p.deal_prob
        u = rng.random(shape)
        quality = np.where(deal, u * p.deal_quality_max, p.regular_quality_min + u * (1.0 - p.regular_quality_min))
        price = rng.uniform(p.price_min, p.price_max, size=shape) * (1.0 - p.deal_discount * deal)
        rating = np.clip(quality + p.rating_noise * rng.standard_normal(shape), 0.0, 1.0)
        return {"cluster": cluster, "deal": deal, "quality": quality, "price": price, "rating": rating}

    def features(self, items, state):
        t = self.config.n_topics
        eye = np.eye(t, dtype=np.float32)
        num = np.stack([items["price"], items["rating"], items["deal"].astype(float)], axis=-1)
        return np.concatenate([eye[items["cluster"]], num.astype(np.float32)], axis=-1)

    def _weights(self, interests, beta, trust, cluster, deal, price):
        p = self.params
        u = np.take_along_axis(interests, cluster, axis=1)
        v = u + p.deal_appeal * deal - beta[:, None] * price
        return trust[:, None] * np.exp(v), math.exp(p.no_buy_utility)

    def respond(self, state, items, slates, uniforms, active):
        c, p = self.config, self.params
        rows = np.arange(slates.shape[0])
        take = lambda x: np.take_along_axis(x, slates, axis=1)  # noqa: E731
        w, w0 = self._weights(state["interests"], state["price_sensitivity"], state["trust"],
                              take(items["cluster"]), take(items["deal"]), take(items["price"]))
        pos = _sample_choice(w, w0, uniforms[:, 0])
        buy = (pos < c.slate_size) & active
        pos_c = np.minimum(pos, c.slate_size - 1)
        price = take(items["price"])[rows, pos_c]
        q = take(items["quality"])[rows, pos_c]
        revenue = np.where(buy, price, 0.0)
        trust = np.clip(state["trust"] * np.exp(p.trust_rate * (q - p.quality_ref)), p.trust_min, p.trust_max)
        state["trust"] = np.where(buy, trust, state["trust"])
        state["patience"] = (state["patience"] - p.visit_cost * active
                             + np.where(buy, p.patience_rate * (q - p.quality_ref), 0.0))
        return UserResponse(pos, revenue, revenue, state["patience"] <= 0.0,
                            {"clicked_quality": np.where(buy, q, np.nan)})

    def privileged(self, state, items):
        return {"interests": state["interests"].copy(), "price_sensitivity": state["price_sensitivity"].copy(),
                "trust": state["trust"].copy(), "patience": state["patience"].copy(),
                "clusters": items["cluster"].copy(), "candidate_quality": items["quality"].copy(),
                "candidate_price": items["price"].copy(), "candidate_deal": items["deal"].copy()}

    def slate_terms(self, priv, weight):
        p = self.params
        w, w0 = self._weights(priv["interests"], priv["price_sensitivity"], priv["trust"],
                              priv["clusters"], priv["candidate_deal"], priv["candidate_price"])
        a = priv["candidate_price"] + float(weight) * (priv["candidate_quality"] - p.quality_ref)
        return w, a, w0, 0.0


class SocialMediaModel(UserModel):
    """Social media: dwell time; repeating a topic builds fatigue that drains the session."""

    name = "social_media"
    params_type = SocialMediaParams
    n_uniforms = 1
    numeric_features = ("fatigue", "length")
    default_weight = 2.0
    story_fields = (("energy (min)", "energy", None), ("max topic fatigue", "fatigue", "max"))

    def numeric_bounds(self):
        return (np.array([0.0, self.params.length_min], np.float32),
                np.array([1.0, self.params.length_max], np.float32))

    def engagement_bounds(self):
        return 0.0, float(self.config.doc_length * self.params.length_max)

    def sample_users(self, rng, n):
        t = self.config.n_topics
        return {"interests": rng.uniform(-1.0, 1.0, size=(n, t)), "fatigue": np.zeros((n, t)),
                "energy": np.full(n, float(self.params.energy))}

    def sample_items(self, rng, b):
        c, p = self.config, self.params
        shape = (b, c.n_candidates)
        return {"cluster": rng.integers(0, c.n_topics, size=shape),
                "length": rng.uniform(p.length_min, p.length_max, size=shape)}

    def features(self, items, state):
        eye = np.eye(self.config.n_topics, dtype=np.float32)
        f = np.take_along_axis(state["fatigue"], items["cluster"], axis=1)
        num = np.stack([f, items["length"]], axis=-1).astype(np.float32)
        return np.concatenate([eye[items["cluster"]], num], axis=-1)

    def _terms(self, interests, fatigue, cluster, length):
        """Choice weights w, no-click weight, dwell d if chosen, fatigue f of the items."""
        p, L = self.params, self.config.doc_length
        u = np.take_along_axis(interests, cluster, axis=1)
        f = np.take_along_axis(fatigue, cluster, axis=1)
        w = np.exp(p.interest_weight * u - p.fatigue_penalty * f)
        dwell = L * length * (0.3 + 0.35 * (1.0 + u)) * (1.0 - p.dwell_fatigue * f)
        return w, math.exp(p.no_click_utility), dwell, f

    def respond(self, state, items, slates, uniforms, active):
        c, p = self.config, self.params
        rows = np.arange(slates.shape[0])
        shown = np.take_along_axis(items["cluster"], slates, axis=1)
        w, w0, dwell, f = self._terms(state["interests"], state["fatigue"], shown,
                                      np.take_along_axis(items["length"], slates, axis=1))
        pos = _sample_choice(w, w0, uniforms[:, 0])
        click = (pos < c.slate_size) & active
        pos_c = np.minimum(pos, c.slate_size - 1)
        d = np.where(click, dwell[rows, pos_c], 0.0)
        fc = f[rows, pos_c]
        cl = shown[rows, pos_c]
        state["energy"] = (state["energy"] - p.scroll_cost * active - d
                           + p.refresh_rate * d * (1.0 - 2.0 * fc))
        fat = state["fatigue"]
        fat[rows, cl] = np.where(click, fc + p.fatigue_step * (1.0 - fc), fc)
        fat *= np.where(active, p.fatigue_decay, 1.0)[:, None]
        return UserResponse(pos, d, d, state["energy"] <= 0.0,
                            {"clicked_fatigue": np.where(click, fc, np.nan)})

    def privileged(self, state, items):
        return {"interests": state["interests"].copy(), "fatigue": state["fatigue"].copy(),
                "energy": state["energy"].copy(), "clusters": items["cluster"].copy(),
                "candidate_length": items["length"].copy()}

    def slate_terms(self, priv, weight):
        p = self.params
        w, w0, dwell, f = self._terms(priv["interests"], priv["fatigue"], priv["clusters"],
                                      priv["candidate_length"])
        lam = float(weight)
        drain = p.scroll_cost + dwell * (1.0 - p.refresh_rate * (1.0 - 2.0 * f))
        return w, dwell - lam * drain, w0, -lam * p.scroll_cost


class EducationModel(UserModel):
    """Education: mastery gains from exercises in the learner's zone; failures cost motivation."""

    name = "education"
    params_type = EducationParams
    n_uniforms = 2
    numeric_features = ("difficulty", "depth", "stretch", "review", "prerequisite_level")
    default_weight = 4.0
    story_fields = (("motivation", "motivation", None), ("mean mastery", "mastery", "mean"))

    def __init__(self, config):
        super().__init__(config)
        self.prereq = self.params.prereq_array(config.n_topics)
        depth = np.zeros(config.n_topics)
        for s in range(config.n_topics):
            cur = s
            while self.prereq[cur] >= 0:
                cur = int(self.prereq[cur])
                depth[s] += 1
        self.depth = depth / max(depth.max(), 1.0)

    def numeric_bounds(self):
        p = self.params
        hi = 1.0 / p.level_unit
        return (np.array([p.difficulty_min * hi, 0.0, 0.0, 0.0, 0.0], np.float32),
                np.array([p.difficulty_max * hi, 1.0, hi, hi, hi], np.float32))

    def engagement_bounds(self):
        return 0.0, 1.0

    def sample_users(self, rng, n):
        p, t = self.params, self.config.n_topics
        return {"mastery": rng.uniform(0.0, p.mastery_init_max, size=(n, t)),
                "level": np.zeros((n, t)), "motivation": np.full(n, float(p.motivation)),
                "steps_left": np.full(n, float(p.lesson_length))}

    def sample_items(self, rng, b):
        c, p = self.config, self.params
        shape = (b, c.n_candidates)
        return {"cluster": rng.integers(0, c.n_topics, size=shape),
                "difficulty": rng.uniform(p.difficulty_min, p.difficulty_max, size=shape)}

    def features(self, items, state):
        eye = np.eye(self.config.n_topics, dtype=np.float32)
        d, cl, lev = items["difficulty"], items["cluster"], state["level"]
        gap = d - np.take_along_axis(lev, cl, axis=1)
        pre = self.prereq[cl]
        pre_lev = np.where(pre < 0, 1.0, np.take_along_axis(lev, np.maximum(pre, 0), axis=1))
        lu = self.params.level_unit
        num = np.stack([d / lu, self.depth[cl], np.maximum(gap, 0.0) / lu, np.maximum(-gap, 0.0) / lu,
                        pre_lev / lu], axis=-1).astype(np.float32)
        return np.concatenate([eye[items["cluster"]], num], axis=-1)

    def readiness(self, mastery: np.ndarray) -> np.ndarray:
        """(B, T) readiness r_s = min(1, m_pre(s) / theta) (1 without prerequisite)."""
        pre = np.maximum(self.prereq, 0)
        r = np.minimum(1.0, mastery[:, pre] / self.params.readiness_level)
        return np.where(self.prereq < 0, 1.0, r)

    def _terms(self, mastery, cluster, difficulty):
        """Choice weights, no-click weight, success probability, mastery gain on success."""
        p = self.params
        m = np.take_along_axis(mastery, cluster, axis=1)
        r = np.take_along_axis(self.readiness(mastery), cluster, axis=1)
        ps = r * _sigmoid((m + p.zone_width - difficulty) / p.success_slope)
        gain = p.learning_rate * r * np.maximum(difficulty - m, 0.0)
        return np.exp(-p.difficulty_aversion * difficulty), math.exp(p.skip_utility), ps, gain

    def respond(self, state, items, slates, uniforms, active):
        c, p = self.config, self.params
        rows = np.arange(slates.shape[0])
        shown = np.take_along_axis(items["cluster"], slates, axis=1)
        diff = np.take_along_axis(items["difficulty"], slates, axis=1)
        w, w0, ps, gain = self._terms(state["mastery"], shown, diff)
        pos = _sample_choice(w, w0, uniforms[:, 0])
        attempt = (pos < c.slate_size) & active
        pos_c = np.minimum(pos, c.slate_size - 1)
        success = attempt & (uniforms[:, 1] < ps[rows, pos_c])
        g = np.where(success, gain[rows, pos_c], 0.0)
        cl = shown[rows, pos_c]
        state["mastery"][rows, cl] += g
        lev = state["level"]  # the platform's estimate: the mastery update with r = 1, from successes
        lc = lev[rows, cl]
        lev[rows, cl] = np.where(success, lc + p.learning_rate * np.maximum(diff[rows, pos_c] - lc, 0.0), lc)
        state["motivation"] = (state["motivation"] - p.step_cost * active
                               + np.where(success, p.success_bonus, 0.0)
                               - np.where(attempt & ~success, p.failure_cost, 0.0))
        state["steps_left"] = state["steps_left"] - 1.0 * active
        end = (state["motivation"] <= 0.0) | (state["steps_left"] <= 0.0)
        return UserResponse(pos, p.reward_scale * g, success.astype(float), end,
                            {"success": success,
                             "attempted_success_prob": np.where(attempt, ps[rows, pos_c], np.nan)})

    def privileged(self, state, items):
        _, _, ps, gain = self._terms(state["mastery"], items["cluster"], items["difficulty"])
        return {"mastery": state["mastery"].copy(), "level": state["level"].copy(),
                "motivation": state["motivation"].copy(), "steps_left": state["steps_left"].copy(),
                "readiness": self.readiness(state["mastery"]),
                "clusters": items["cluster"].copy(), "candidate_difficulty": items["difficulty"].copy(),
                "success_prob": ps, "success_gain": gain}

    def slate_terms(self, priv, weight):
        p = self.params
        w, w0, ps, gain = self._terms(priv["mastery"], priv["clusters"], priv["candidate_difficulty"])
        a = p.reward_scale * ps * gain + float(weight) * (ps * p.success_bonus - (1.0 - ps) * p.failure_cost)
        return w, a, w0, 0.0


class FinanceModel(UserModel):
    """Finance: risk-adjusted utility; products above the user's risk class are masked; losses
    beyond the user's tolerance make her leave."""

    name = "finance"
    params_type = FinanceParams
    n_uniforms = 2
    numeric_features = ("expected_return", "volatility", "risk_class", "relative_risk", "shortfall_prob")
    default_weight = 1.0
    story_fields = (("periods left", "periods_left", None), ("strikes left", "strikes_left", None))

    def __init__(self, config):
        super().__init__(config)
        p = self.params
        self.classes = p.classes(config.n_topics)
        self.safe_categories = np.flatnonzero(self.classes == 0)
        self.class_vol = np.asarray(p.class_volatility, dtype=float)
        self.vol_ref = float(self.class_vol.max())
        self.n_classes = len(p.class_volatility)

    def _return_range(self):
        p = self.params
        vols = np.array([self.class_vol.min() * (1 - p.volatility_spread),
                         self.vol_ref * (1 + p.volatility_spread)])
        mus = p.risk_free + np.outer([p.sharpe_min, p.sharpe_max], vols)
        return float(mus.min()), float(mus.max()), float(vols.min()), float(vols.max())

    def numeric_bounds(self):
        p = self.params
        mu_lo, mu_hi, v_lo, v_hi = self._return_range()
        return (np.array([mu_lo / p.return_unit, v_lo / self.vol_ref, 0.0, v_lo / self.vol_ref, 0.0],
                         np.float32),
                np.array([mu_hi / p.return_unit, v_hi / self.vol_ref, 1.0, v_hi / self.class_vol.min(), 1.0],
                         np.float32))

    def engagement_bounds(self):
        p = self.params
        mu_lo, mu_hi, _, v_hi = self._return_range()
        lo = p.reward_scale * (mu_lo - p.risk_aversion_max * v_hi ** 2 / 2)
        hi = p.reward_scale * mu_hi
        return min(lo, 0.0), max(hi, 0.0)

    def always_allowed(self):
        return tuple(range(self.params.n_safe))

    def sample_users(self, rng, n):
        p = self.params
        interests = rng.uniform(-1.0, 1.0, size=(n, self.config.n_topics))
        cum = np.cumsum(p.class_probs)
        risk_class = np.minimum(np.searchsorted(cum, rng.random(n), side="right"), self.n_classes - 1)
        gamma = rng.uniform(p.risk_aversion_min, p.risk_aversion_max, size=n)
        tol = np.asarray(p.class_tolerance)[risk_class] * rng.uniform(1 - p.tolerance_spread,
                                                                      1 + p.tolerance_spread, size=n)
        return {"interests": interests, "risk_class": risk_class.astype(np.int64), "risk_aversion": gamma,
                "tolerance": tol, "periods_left": np.full(n, float(p.horizon)),
                "strikes_left": np.full(n, float(p.loss_strikes))}

    def sample_items(self, rng, b):
        c, p = self.config, self.params
        n, ns = c.n_candidates, p.n_safe
        safe = self.safe_categories[rng.integers(0, self.safe_categories.size, size=(b, ns))]
        rest = rng.integers(0, c.n_topics, size=(b, n - ns))
        cluster = np.concatenate([safe, rest], axis=1)
        vol = self.class_vol[self.classes[cluster]] * rng.uniform(1 - p.volatility_spread,
                                                                  1 + p.volatility_spread, size=(b, n))
        ret = p.risk_free + rng.uniform(p.sharpe_min, p.sharpe_max, size=(b, n)) * vol
        return {"cluster": cluster, "volatility": vol, "expected_return": ret}

    def features(self, items, state):
        p = self.params
        eye = np.eye(self.config.n_topics, dtype=np.float32)
        k = self.classes[items["cluster"]]
        scale = max(self.n_classes - 1, 1)
        user_vol = self.class_vol[state["risk_class"]][:, None]
        class_tol = np.asarray(p.class_tolerance)[state["risk_class"]][:, None]
        ret, vol = items["expected_return"], items["volatility"]
        num = np.stack([ret / p.return_unit, vol / self.vol_ref, k / scale, vol / user_vol,
                        normal_cdf((-class_tol - ret) / vol)], axis=-1)
        return np.concatenate([eye[items["cluster"]], num.astype(np.float32)], axis=-1)

    def candidate_mask(self, items, state):
        return self.classes[items["cluster"]] <= state["risk_class"][:, None]

    def _terms(self, interests, gamma, tol, cluster, ret, vol):
        """Choice weights, no-choice weight, utility (reward) if chosen, churn probability."""
        p = self.params
        u = np.take_along_axis(interests, cluster, axis=1)
        w = np.exp(u + p.return_appeal * ret / p.return_unit)
        util = p.reward_scale * (ret - gamma[:, None] * vol ** 2 / 2.0)
        churn = normal_cdf((-tol[:, None] - ret) / vol)
        return w, math.exp(p.no_invest_utility), util, churn

    def respond(self, state, items, slates, uniforms, active):
        c = self.config
        rows = np.arange(slates.shape[0])
        take = lambda x: np.take_along_axis(x, slates, axis=1)  # noqa: E731
        w, w0, util, churn_p = self._terms(state["interests"], state["risk_aversion"], state["tolerance"],
                                           take(items["cluster"]), take(items["expected_return"]),
                                           take(items["volatility"]))
        pos = _sample_choice(w, w0, uniforms[:, 0])
        invest = (pos < c.slate_size) & active
        pos_c = np.minimum(pos, c.slate_size - 1)
        reward = np.where(invest, util[rows, pos_c], 0.0)
        loss = invest & (uniforms[:, 1] < churn_p[rows, pos_c])
        state["periods_left"] = state["periods_left"] - 1.0 * active
        state["strikes_left"] = state["strikes_left"] - 1.0 * loss
        churn = loss & (state["strikes_left"] <= 0.0)
        return UserResponse(pos, reward, reward, (state["periods_left"] <= 0.0) | churn,
                            {"loss_beyond_tolerance": loss, "churned": churn})

    def privileged(self, state, items):
        _, _, util, churn = self._terms(state["interests"], state["risk_aversion"], state["tolerance"],
                                        items["cluster"], items["expected_return"], items["volatility"])
        return {"interests": state["interests"].copy(), "risk_class": state["risk_class"].copy(),
                "risk_aversion": state["risk_aversion"].copy(), "tolerance": state["tolerance"].copy(),
                "periods_left": state["periods_left"].copy(), "strikes_left": state["strikes_left"].copy(),
                "clusters": items["cluster"].copy(),
                "candidate_return": items["expected_return"].copy(),
                "candidate_volatility": items["volatility"].copy(), "candidate_utility": util,
                "churn_prob": churn}

    def slate_terms(self, priv, weight):
        w, w0, util, churn = self._terms(priv["interests"], priv["risk_aversion"], priv["tolerance"],
                                         priv["clusters"], priv["candidate_return"],
                                         priv["candidate_volatility"])
        strikes = np.maximum(priv["strikes_left"], 1.0)[:, None]
        future = np.maximum(priv["periods_left"] - 1.0, 0.0)[:, None] / strikes
        return w, util - float(weight) * churn * future, w0, 0.0


#: User models by name (``SimulatorConfig.user_model``).
USER_MODELS: dict[str, type[UserModel]] = {
    m.name: m for m in (InterestEvolutionModel, EcommerceModel, SocialMediaModel, EducationModel,
                        FinanceModel)}


def make_user_model(config: "SimulatorConfig | str") -> UserModel:
    """The user model instance of a (validated) config or preset name."""
    config = get_preset(config)
    return USER_MODELS[config.user_model](config)


# --------------------------------------------------------------------------- presets

#: The four application-domain presets (article §6), each with its own user model.
DOMAIN_PRESETS: dict[str, SimulatorConfig] = {
    "ecommerce": SimulatorConfig(user_model="ecommerce", n_topics=10, doc_length=1.0, max_steps=200),
    "social_media": SimulatorConfig(user_model="social_media", n_topics=10, doc_length=1.0, max_steps=200),
    "education": SimulatorConfig(user_model="education", n_topics=6, doc_length=1.0, max_steps=200),
    "finance": SimulatorConfig(user_model="finance", n_topics=8, doc_length=1.0, max_steps=200),
}

PRESETS: dict[str, SimulatorConfig] = {
    "default": SimulatorConfig(),
    "costly_browsing": SimulatorConfig(no_click_cost=4.0),
    **DOMAIN_PRESETS,
}


#: The unit of each preset's reward (and return), for axis labels and printed tables.
REWARD_UNITS: dict[str, str] = {"default": "minutes watched", "costly_browsing": "minutes watched",
                                "ecommerce": "price units", "social_media": "minutes of dwell",
                                "education": "mastery points", "finance": "utility points"}


def get_preset(name: "str | SimulatorConfig") -> SimulatorConfig:
    """A validated config: a preset name from :data:`PRESETS` or a config passed through."""
    if isinstance(name, SimulatorConfig):
        return name.validate()
    return PRESETS[check_choice("preset", name, PRESETS)].validate()


# --------------------------------------------------------------------------- batch environment


def _array_or_ragged(value, expected: str) -> np.ndarray:
    """``np.asarray(value)``; ragged nesting (e.g. ``[[0, 1, 2], [0, 1]]``), for which numpy
    raises its own "inhomogeneous shape" error, raises ``ValueError("<expected>, got a ragged
    <type>")`` instead (``expected`` names the argument and its shape)."""
    try:
        return np.asarray(value)
    except ValueError:
        raise ValueError(f"{expected}, got a ragged {type(value).__name__}") from None


class BatchEnv:
    """B independent users advanced together with numpy (see the module docstring).

    Args:
        config: a :class:`SimulatorConfig` or a preset name.
        batch_size: B >= 1 users.
        seed: non-negative integer; the same seed gives the same trajectories.
        autoreset: if True a finished user is replaced at once by a fresh user (its row's
            obs is then the new user's first observation, ``info["episode_return"]`` and
            ``info["episode_length"]`` hold the finished session); if False finished users
            stay inactive (reward 0, slate ignored) until :meth:`reset`. Their rows of the
            slates passed to ``step`` must still hold K distinct indices in [0, N) (no -1
            padding); only the candidate-mask check is skipped for them.

    ``step`` returns ``(obs, reward (B,), terminated (B,), info)``; ``info["truncated"]`` (B,)
    flags sessions cut at ``max_steps``. See :meth:`reset` for the observation dict. The user
    model (``self.model``, a :class:`UserModel`) supplies the dynamics; pass ``user_model`` (an
    instance built on the same config) to plug in a model outside :data:`USER_MODELS`, e.g. a
    subclass that draws candidates from a fixed item catalogue.
    """

    def __init__(self, config: "SimulatorConfig | str" = "default", batch_size: int = 1,
                 seed: int = 0, autoreset: bool = False, user_model: "UserModel | None" = None):
        self.config = get_preset(config)
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.autoreset = bool(autoreset)
        self._seed = _seed_int(seed)
        if user_model is None:
            user_model = USER_MODELS[self.config.user_model](self.config)
        elif not isinstance(user_model, UserModel):
            raise ValueError(f"user_model must be None or a UserModel instance, got {type(user_model).__name__}")
        elif user_model.config != self.config:
            raise ValueError("user_model.config must equal the environment's config")
        self.model: UserModel = user_model
        self._rows = np.arange(self.batch_size)
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

    def _sample_docs(self) -> None:
        self._items = self.model.sample_items(self._doc_rng, self.batch_size)
        self._clusters = self._items["cluster"]
        self._mask = self.model.candidate_mask(self._items, self._state)

    def _obs(self) -> dict[str, np.ndarray]:
        return {
            "candidate_features": self.model.features(self._items, self._state),
            "candidate_clusters": self._clusters.copy(),
            "clicked": self._clicked.copy(),
            "clicked_cluster": self._clicked_cluster.copy(),
            "watch_time": self._watch.copy(),
            "active": self._active.copy(),
            "candidate_mask": self._mask.copy(),
        }

    def reset(self, seed: int | None = None) -> dict[str, np.ndarray]:
        """Start B fresh sessions (reseeding all streams if ``seed`` is given).

        Returns the observation dict: ``candidate_features`` (B, N, F) float32 (T one-hot
        topic columns, then the user model's numeric columns, see
        ``SimulatorConfig.feature_names``), ``candidate_clusters`` (B, N) int64,
        ``candidate_mask`` (B, N) bool (True = may be recommended; all True except in the
        finance model), ``clicked`` (B,) int64 slate position clicked at the previous step
        (-1: none / after reset), ``clicked_cluster`` (B,) int64 (-1: none), ``watch_time``
        (B,) float64 engagement of the previous response (minutes watched, or the domain's
        unit, see ``doc_length``), ``active`` (B,) bool.
        """
        if seed is None and getattr(self, "_fresh", False):
            self._fresh = False
            return self._obs()
        self._fresh = False
        if seed is not None:
            self._seed_streams(_seed_int(seed))
        b = self.batch_size
        self._state = self.model.sample_users(self._user_rng, b)
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
        """Validated (B, K) int64 slates of distinct, allowed indices in [0, N); else ``ValueError``.

        Every row, finished users' rows included, must hold K distinct integer indices in
        [0, N) (pad a finished row with any valid slate, e.g. ``0 .. K-1``, not with -1). A
        slate of an active user containing a candidate with ``candidate_mask == False`` raises
        ``ValueError``; that mask check alone is skipped for finished users."""
        a = self._check_slate_indices(slates)
        if not self._mask.all():
            bad = ~np.take_along_axis(self._mask, a, axis=1).all(axis=1) & self._active
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise ValueError(f"slates must only contain allowed candidates (obs['candidate_mask']); "
                                 f"row {row} shows masked candidate(s) "
                                 f"{sorted(int(i) for i in a[row] if not self._mask[row, i])}")
        return a

    def _check_slate_indices(self, slates) -> np.ndarray:
        """:meth:`check_slates` without the ``candidate_mask`` check (shape, dtype, range, distinct)."""
        c = self.config
        shape = f"slates must have shape (batch_size, slate_size) = ({self.batch_size}, {c.slate_size})"
        a = _array_or_ragged(slates, f"{shape}: one row of slate_size candidate indices per user")
        if a.shape != (self.batch_size, c.slate_size):
            raise ValueError(f"{shape}, got {a.shape}")
        if a.dtype.kind not in "iu":
            if a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
                a = a.astype(np.int64)
            else:
                raise ValueError(f"slates must hold integer candidate indices, got dtype {a.dtype}")
        a = a.astype(np.int64, copy=False)
        if a.size and (a.min() < 0 or a.max() >= c.n_candidates):
            raise ValueError(f"slate indices must be in [0, n_candidates={c.n_candidates}), "
                             f"got values in [{a.min()}, {a.max()}]")
        if _has_duplicate_in_row(a):
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
        uniforms = self._choice_rng.random((self.batch_size, self.model.n_uniforms))
        resp = self.model.respond(self._state, self._items, a, uniforms, active)
        pos = resp.choice
        click = (pos < c.slate_size) & active
        cl = self._clusters[rows, a[rows, np.minimum(pos, c.slate_size - 1)]]
        reward = np.where(active, resp.reward, 0.0)
        watch = np.where(active, resp.engagement, 0.0)
        self._steps += active
        self._ep_return += reward
        terminated = active & resp.end
        truncated = active & ~terminated & (self._steps >= c.max_steps)
        done = terminated | truncated
        self._clicked = np.where(click, pos, -1).astype(np.int64)
        self._clicked_cluster = np.where(click, cl, -1).astype(np.int64)
        self._watch = watch
        info: dict[str, Any] = {"truncated": truncated, **resp.info}
        if self.autoreset:
            info["episode_return"] = np.where(done, self._ep_return, np.nan)
            info["episode_length"] = np.where(done, self._steps, 0)
            if done.any():
                idx = np.nonzero(done)[0]
                new = self.model.sample_users(self._user_rng, idx.size)
                for key, value in new.items():
                    self._state[key][idx] = value
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

        Interest evolution: ``interests`` (B, T), ``candidate_quality`` (B, N),
        ``cluster_quality_means`` (T,), ``budget`` (B,) minutes. Other models: see their
        section of the module docstring (user state, then the candidates' hidden attributes).
        """
        return self.model.privileged(self._state, self._items)

# --------------------------------------------------------------------------- reference loop


def reference_episode(config: "SimulatorConfig | str", rng: np.random.Generator,
                      choose=None) -> tuple[float, int, int]:
    """One session simulated the straightforward way: a per-user Python loop, same semantics.

    Used as the speed baseline of ``benchmarks/simulator.py`` and as an independent check of
    :class:`BatchEnv` in the tests. ``choose(clusters, interests, quality_means, K)`` returns
    the slate (a list of K distinct integer indices in [0, N), else ``ValueError``, as in
    :meth:`BatchEnv.check_slates`); default: random slate.
    Returns ``(return, n_clicks, n_steps)``. Interest-evolution configs only.
    """
    c = _interest_evolution_config(config)
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
            if len(slate) != c.slate_size or not all(is_int(i) and 0 <= i < c.n_candidates for i in slate) \
                    or len(set(slate)) != c.slate_size:
                raise ValueError(f"choose must return slate_size={c.slate_size} distinct integer candidate "
                                 f"indices in [0, n_candidates={c.n_candidates}), got {slate!r}")
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
    """K distinct indices in [0, N): ``sample`` draws without replacement, ``contains`` checks it.

    ``sample(mask=obs["candidate_mask"])`` draws only allowed candidates. Without a mask it
    draws from ``always_allowed`` (positions allowed in every state, e.g. the finance model's
    guaranteed low-risk products) when given, else from all N candidates.
    """

    def __init__(self, n_candidates: int, slate_size: int, seed=None,
                 always_allowed: tuple[int, ...] | None = None):
        super().__init__([n_candidates] * slate_size, dtype=np.int64, seed=seed)
        self.n_candidates, self.slate_size = int(n_candidates), int(slate_size)
        if always_allowed is not None:
            allowed = np.unique(np.asarray(always_allowed, dtype=np.int64))
            if allowed.size < self.slate_size or allowed.min() < 0 or allowed.max() >= self.n_candidates:
                raise ValueError(f"always_allowed must hold >= slate_size={self.slate_size} indices "
                                 f"in [0, {self.n_candidates}), got {always_allowed!r}")
            always_allowed = tuple(int(i) for i in allowed)
        self.always_allowed = always_allowed

    def sample(self, mask=None, probability=None) -> np.ndarray:  # noqa: D102
        if mask is not None:
            m = np.asarray(mask)
            if m.shape != (self.n_candidates,):
                raise ValueError(f"mask must have shape ({self.n_candidates},), got {m.shape}")
            allowed = np.flatnonzero(m.astype(bool))
            if allowed.size < self.slate_size:
                raise ValueError(f"mask must allow >= slate_size={self.slate_size} candidates, "
                                 f"got {allowed.size}")
            return self.np_random.choice(allowed, size=self.slate_size, replace=False).astype(np.int64)
        if self.always_allowed is not None:
            return self.np_random.choice(np.asarray(self.always_allowed), size=self.slate_size,
                                         replace=False).astype(np.int64)
        return self.np_random.choice(self.n_candidates, size=self.slate_size, replace=False).astype(np.int64)

    def contains(self, x) -> bool:  # noqa: D102
        if not super().contains(x):
            return False
        x = np.asarray(x)
        return np.unique(x).size == x.size


class InterestEvolutionEnv(gym.Env):
    """One user of any simulator preset as a ``gymnasium.Env`` (alias :data:`SimulatorEnv`).

    Same dynamics as :class:`BatchEnv` (it runs a batch of one). Observation: a dict with
    ``candidate_features`` (N, F) float32, ``candidate_clusters`` (N,) int64,
    ``candidate_mask`` (N,) bool, ``clicked`` () int64, ``clicked_cluster`` () int64,
    ``watch_time`` () float64; action: K distinct candidate indices (:class:`SlateSpace`; a
    masked candidate raises ``ValueError``); reward: the model's reward (minutes watched for
    interest evolution). ``privileged()`` as in BatchEnv, for the single user. ``seed``
    (constructor): the seed of the first ``reset()`` if that reset gets no seed of its own; an
    explicit ``reset(seed=...)`` always takes precedence (see :meth:`reset`).
    """

    metadata = {"render_modes": []}

    def __init__(self, config: "SimulatorConfig | str" = "default", seed: int | None = None):
        super().__init__()
        self.config = get_preset(config)
        c = self.config
        self._batch = BatchEnv(c, 1, seed=0 if seed is None else _seed_int(seed))
        model = self._batch.model
        low, high = model.feature_bounds()
        e_lo, e_hi = model.engagement_bounds()
        n, f = c.n_candidates, c.n_features
        self.observation_space = spaces.Dict({
            "candidate_features": spaces.Box(np.broadcast_to(low, (n, f)).copy(),
                                             np.broadcast_to(high, (n, f)).copy(), dtype=np.float32),
            "candidate_clusters": spaces.Box(0, c.n_topics - 1, shape=(n,), dtype=np.int64),
            "clicked": spaces.Box(-1, c.slate_size - 1, shape=(), dtype=np.int64),
            "clicked_cluster": spaces.Box(-1, c.n_topics - 1, shape=(), dtype=np.int64),
            "watch_time": spaces.Box(float(e_lo), float(e_hi), shape=(), dtype=np.float64),
            "candidate_mask": spaces.Box(0, 1, shape=(n,), dtype=np.bool_),
        })
        self.action_space = SlateSpace(n, c.slate_size, always_allowed=model.always_allowed())
        self._initial_seed = seed
        self._done = True

    def _single(self, obs: dict) -> dict[str, np.ndarray]:
        return {
            "candidate_features": obs["candidate_features"][0],
            "candidate_clusters": obs["candidate_clusters"][0],
            "clicked": np.asarray(obs["clicked"][0], dtype=np.int64),
            "clicked_cluster": np.asarray(obs["clicked_cluster"][0], dtype=np.int64),
            "watch_time": np.asarray(obs["watch_time"][0], dtype=np.float64),
            "candidate_mask": obs["candidate_mask"][0],
        }

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start an episode. ``seed``: as in gymnasium (re-seeds the env; later seedless resets
        continue from it). The constructor's ``seed`` acts as the seed of the first reset only,
        and only if that reset gets no ``seed`` of its own."""
        if seed is None:
            seed = self._initial_seed   # the constructor's seed, for the very first reset only
        self._initial_seed = None       # an explicit reset(seed=...) also drops it
        # Seed gymnasium's np_random with the same seed, so that the seeds of the later
        # episodes (drawn from it) are reproducible too.
        super().reset(seed=None if seed is None else _seed_int(seed))
        if seed is None:
            seed = int(self.np_random.integers(0, 2**63 - 1))
        obs = self._batch.reset(seed=_seed_int(seed))
        self._done = False
        return self._single(obs), {}

    def step(self, action):
        if self._done:
            raise RuntimeError("episode is over: call reset()")
        k, n = self.config.slate_size, self.config.n_candidates
        a = _array_or_ragged(action, f"action must have shape (slate_size,) = ({k},): a flat sequence of "
                                     f"candidate indices")
        if a.shape != (k,):
            raise ValueError(f"action must have shape (slate_size,) = ({k},), got {a.shape}")
        if a.dtype.kind not in "iu" or a.min() < 0 or a.max() >= n or len(set(a.tolist())) != k:
            raise ValueError(f"action must be slate_size={k} distinct integer candidate indices in "
                             f"[0, n_candidates={n}), got {a.tolist()}")
        obs, reward, terminated, info = self._batch.step(a.reshape(1, -1))
        term, trunc = bool(terminated[0]), bool(info["truncated"][0])
        self._done = term or trunc
        return self._single(obs), float(reward[0]), term, trunc, {}

    def privileged(self) -> dict[str, np.ndarray]:
        """Hidden state of the single user (interest evolution: interests (T,),
        candidate_quality (N,), cluster_quality_means (T,), budget ())."""
        p = self._batch.privileged()
        keep = self._batch.model.global_privileged
        return {k: (v if k in keep else v[0]) for k, v in p.items()}


#: The gymnasium environment works for every preset; this is its general name.
SimulatorEnv = InterestEvolutionEnv

#: gymnasium ids, one per preset, registered when this module is imported:
#: ``gymnasium.make("rlrec/costly_browsing-v0")`` is ``SimulatorEnv("costly_browsing")`` behind
#: gymnasium's usual wrappers (keyword arguments such as ``seed=`` are passed through).
GYM_IDS: dict[str, str] = {name: f"rlrec/{name}-v0" for name in PRESETS}


def _register_gym_envs() -> None:
    for name, env_id in GYM_IDS.items():
        if env_id not in gym.registry:   # a re-import (importlib.reload) must not re-register
            gym.register(id=env_id, entry_point="rlrec_helpers.simulator:InterestEvolutionEnv",
                         kwargs={"config": name})


_register_gym_envs()

# --------------------------------------------------------------------------- policies


class SlatePolicy(Protocol):
    """What :func:`evaluate` needs: ``reset(batch_size)`` and ``act(obs, env) -> (B, K) int``.

    ``reset(batch_size)`` starts a new run of B users. Optional: ``reset_next_batch(batch_size)``,
    which :func:`evaluate` and :func:`count_unsuitable` call instead of ``reset`` for the 2nd,
    3rd, ... batch of one call, for a policy whose ``reset`` restarts a random stream
    (:class:`RandomPolicy`): the stream then runs on across the batches of one call.
    """

    def reset(self, batch_size: int) -> None: ...

    def act(self, obs: dict, env: BatchEnv) -> np.ndarray: ...


def _check_slate_policy(name: str, policy) -> None:
    """``ValueError`` naming ``name`` unless ``policy`` has ``reset(batch_size)`` and ``act(obs, env)``
    (the :class:`SlatePolicy` protocol); e.g. a bare function is refused before any episode runs."""
    if not (callable(getattr(policy, "act", None)) and callable(getattr(policy, "reset", None))):
        raise ValueError(f"{name} must be a slate policy with reset(batch_size) and act(obs, env), "
                         f"got {type(policy).__name__}")


class RandomPolicy:
    """K distinct allowed candidates uniformly at random.

    :meth:`reset` restarts the random stream at ``seed``, so every :func:`evaluate` (or
    :func:`session_trace`, ...) call of one instance shows the same random slates: the result
    depends on the seed only, not on the calls made before. Within one :func:`evaluate` call the
    stream runs on across its batches (:meth:`reset_next_batch`). A loop of your own that calls
    ``reset`` before each run gets the same random numbers in every run; use a new seed per run
    to get different ones.
    """

    def __init__(self, seed: int = 0):
        self.seed = _seed_int(seed)
        self.rng = np.random.default_rng(self.seed)

    def reset(self, batch_size: int) -> None:
        """Start a new run: the random stream restarts at ``seed``."""
        self.rng = np.random.default_rng(self.seed)

    def reset_next_batch(self, batch_size: int) -> None:
        """Next batch of the same run: the random stream goes on (no restart)."""

    def act(self, obs: dict, env: BatchEnv) -> np.ndarray:
        b, n = obs["candidate_clusters"].shape
        return _top_k(self.rng.random((b, n)), env.config.slate_size, obs.get("candidate_mask"))


class _ScorePolicy:
    def reset(self, batch_size: int) -> None:
        pass

    def scores(self, obs: dict, env: BatchEnv) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def act(self, obs: dict, env: BatchEnv) -> np.ndarray:
        return _top_k(self.scores(obs, env), env.config.slate_size, obs.get("candidate_mask"))


def _require_interest_evolution(env, policy) -> None:
    if not isinstance(env.model, InterestEvolutionModel):
        raise ValueError(f"{type(policy).__name__} needs user_model='interest_evolution', got "
                         f"{env.config.user_model!r}; use MyopicPolicy or LongTermHeuristicPolicy")


class MyopicPolicy(_ScorePolicy):
    """Privileged: the allowed K-slate with the highest immediate expected reward.

    Interest evolution: the K candidates with the highest true interest ``u_c`` (most
    clickable; the expected watch time of a slate grows with every item's interest). Other
    user models: the exact maximiser of the expected reward of the next step under the
    model's choice probabilities (:func:`best_ratio_slates` with the model's
    ``slate_terms(priv, 0)``).
    """

    def scores(self, obs, env):
        """Interest evolution only: the true interest ``u_c`` of each candidate (B, N)."""
        _require_interest_evolution(env, self)
        return np.take_along_axis(env.privileged()["interests"], obs["candidate_clusters"], axis=1)

    def act(self, obs: dict, env: BatchEnv) -> np.ndarray:
        return env.model.myopic_slates(obs, env.privileged(), env.config.slate_size)


class QualityGreedyPolicy(_ScorePolicy):
    """Privileged: the K candidates whose cluster has the highest mean quality ``m_c``."""

    def scores(self, obs, env):
        _require_interest_evolution(env, self)
        return env.privileged()["cluster_quality_means"][obs["candidate_clusters"]]


class InterestQualityBlendPolicy(_ScorePolicy):
    """Privileged: top K of ``m_c + lam * u_c`` (lam = 0: quality-greedy; large: myopic)."""

    def __init__(self, lam: float = 2.0):
        self.lam = check_real("lam", lam, 0)

    def scores(self, obs, env):
        _require_interest_evolution(env, self)
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
    ``m_c`` (``use_true_quality=True``: the candidate's true quality). ``n_iter``: the number of
    Dinkelbach iterations, an integer >= 0.
    """

    def __init__(self, weight: float = 1.0, use_true_quality: bool = False, n_iter: int = 20):
        self.weight = check_real("weight", weight, 0)
        self.use_true_quality = bool(use_true_quality)
        self.n_iter = check_int("n_iter", n_iter, 0)

    def reset(self, batch_size: int) -> None:
        pass

    def act(self, obs: dict, env: BatchEnv) -> np.ndarray:
        _require_interest_evolution(env, self)
        w, a, w0, a0 = env.model.slate_terms(env.privileged(), self.weight,
                                             cluster_means=not self.use_true_quality,
                                             clusters=obs["candidate_clusters"])
        # maximise (sum_S w a + w0 a0) / (sum_S w + w0) over |S| = K (Dinkelbach)
        return best_ratio_slates(w, a, w0, a0, env.config.slate_size, obs.get("candidate_mask"),
                                 n_iter=self.n_iter)


class LongTermHeuristicPolicy:
    """Privileged long-term heuristic of the environment's user model (any preset).

    Picks the allowed K-slate maximising ``(sum_S w_i a_i + w0 a0) / (sum_S w_i + w0)`` where
    ``a_i`` = immediate expected reward of candidate i + ``weight`` x the model's long-term
    term (see the module docstring: trust and patience for e-commerce, energy drain for
    social media, motivation for education, churn risk for finance; the drain ``R - weight D``
    of :class:`LongTermValuePolicy` for interest evolution). ``weight = 0`` is the myopic
    objective; ``weight=None`` uses the model's tuned ``default_weight``.
    """

    def __init__(self, weight: float | None = None):
        self.weight = check_real("weight", weight, 0, allow_none=True)

    def reset(self, batch_size: int) -> None:
        pass

    def act(self, obs: dict, env: BatchEnv) -> np.ndarray:
        return env.model.heuristic_slates(obs, env.privileged(), env.config.slate_size, self.weight)


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


def evaluation_envs(env_config: "SimulatorConfig | str", n_episodes: int, seed: int, batch_size: int = 1000,
                    user_model: "UserModel | None" = None):
    """Yield the batch environments of :func:`evaluate`'s shared seed set: ``n_episodes`` users
    in batches of at most ``batch_size``, batch j seeded from ``(seed, j)`` (common random numbers)."""
    config = get_preset(env_config)
    check_int("n_episodes", n_episodes, 1)
    check_int("batch_size", batch_size, 1)
    seed = _seed_int(seed)
    for j, start in enumerate(range(0, n_episodes, batch_size)):
        b = min(batch_size, n_episodes - start)
        yield BatchEnv(config, b, seed=int(np.random.SeedSequence([seed, j]).generate_state(1)[0]),
                       user_model=user_model)


def _reset_policy(policy, batch_size: int, first: bool) -> None:
    """``policy.reset`` for a call's first batch, ``reset_next_batch`` (if any) for the later ones."""
    if first or not hasattr(policy, "reset_next_batch"):
        policy.reset(batch_size)
    else:
        policy.reset_next_batch(batch_size)


def evaluate(policy, env_config: "SimulatorConfig | str" = "default", n_episodes: int = 1000,
             seed: int = 0, batch_size: int = 1000, user_model: "UserModel | None" = None) -> EvalResult:
    """Run ``n_episodes`` sessions of ``policy`` and summarise them.

    The episodes depend only on ``(env_config, n_episodes, seed, batch_size)``: every policy
    meets the same users and candidate sets (common random numbers). ``policy.reset`` is called
    before the first batch, and ``policy.reset_next_batch`` (if the policy has it, else ``reset``)
    before each later one (see :class:`SlatePolicy`). Returns an
    :class:`EvalResult` (return in the model's reward unit — minutes for interest evolution —
    with a 95% CI, clicks and steps per session). ``user_model`` is passed to :class:`BatchEnv`.
    ``n_episodes`` must be >= 2 (the CI needs at least 2 values), and ``policy`` a
    :class:`SlatePolicy` (``ValueError`` otherwise, before any episode runs).
    """
    check_ci_count("n_episodes", n_episodes)
    _check_slate_policy("policy", policy)
    returns, clicks, lengths = [], [], []
    for env in evaluation_envs(env_config, n_episodes, seed, batch_size, user_model):
        b = env.batch_size
        obs = env.reset()
        _reset_policy(policy, b, first=not returns)
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
#: Reference policies that work with every user model (compare_policies' default for them).
DOMAIN_POLICIES = ("random", "myopic", "heuristic")


def make_reference_policy(name: str, seed: int = 0, weight: float = 1.0, lam: float = 2.0,
                          heuristic_weight: float | None = None):
    """A fresh reference policy by name: one of :data:`REFERENCE_POLICIES`, ``"blend"`` or
    ``"heuristic"`` (:class:`LongTermHeuristicPolicy` with ``heuristic_weight``)."""
    makers = {"random": lambda: RandomPolicy(seed), "myopic": MyopicPolicy,
              "quality-greedy": QualityGreedyPolicy,
              "long-term value": lambda: LongTermValuePolicy(weight),
              "blend": lambda: InterestQualityBlendPolicy(lam),
              "heuristic": lambda: LongTermHeuristicPolicy(heuristic_weight)}
    return makers[check_choice("name", name, makers)]()


def compare_policies(env_config: "SimulatorConfig | str" = "default", n_episodes: int = 300,
                     seed: int = 0, policies=None, **overrides) -> dict[str, EvalResult]:
    """Evaluate reference policies by name on one config with fields replaced by ``overrides``.

    E.g. ``compare_policies(quality_max=1.0, no_click_weight=4.0, slate_size=2)``. Invalid
    overrides raise ``ValueError`` (unknown field names included). ``policies`` defaults to
    :data:`REFERENCE_POLICIES` (interest evolution) or :data:`DOMAIN_POLICIES` (other user
    models). Returns name -> EvalResult, all on the same shared seed set.
    """
    config = get_preset(env_config)
    known = {f.name for f in fields(SimulatorConfig)}
    bad = set(overrides) - known
    if bad:
        raise ValueError(f"unknown SimulatorConfig fields {sorted(bad)}; known: {sorted(known)}")
    config = replace(config, **overrides).validate()
    if policies is None:
        policies = REFERENCE_POLICIES if config.user_model == "interest_evolution" else DOMAIN_POLICIES
    return {name: evaluate(make_reference_policy(name, seed), config, n_episodes, seed=seed)
            for name in policies}


def truncation_summary(results: "dict[str, EvalResult]",
                       config: "SimulatorConfig | str" = "default") -> dict[str, Any]:
    """Which share of each policy's sessions ran into the ``max_steps`` cap of ``config``.

    A truncated session's return measures the cap, not the policy. Under interest evolution this
    happens when a click on quality above ``1 / refill_rate`` refills more budget than it costs.

    Args:
        results: policy name (at least one) -> an evaluation result with a non-empty, finite
            1-D ``session_lengths`` array (steps; e.g. an :class:`EvalResult` of
            :func:`compare_policies`).
        config: the config (or preset name) the results were evaluated on.
    Returns:
        ``{"max_steps": int`` (the cap, steps), ``"break_even_quality": float | None`` (``1 /
        refill_rate``, in document-quality units; None unless the user model is
        ``"interest_evolution"`` with ``refill_rate > 0``), ``"truncated": {name: share}}``
        (the fraction in [0, 1] of sessions with ``session_lengths >= max_steps``, in the
        order of ``results``).
    Raises:
        ValueError: naming the bad argument (empty ``results``, a result without
            ``session_lengths``, an empty or non-finite one, an invalid config).
    """
    cfg = get_preset(config)
    if len(results) == 0:
        raise ValueError(f"results must map at least one policy name to its evaluation result, got {results!r}")
    truncated = {}
    for name, r in results.items():
        if not hasattr(r, "session_lengths"):
            raise ValueError(f"results[{name!r}] must have a session_lengths array (e.g. a simulator.EvalResult), "
                             f"got {type(r).__name__}")
        lengths = check_finite_array(f"results[{name!r}].session_lengths", r.session_lengths, ndim=1)
        truncated[name] = float(np.mean(lengths >= cfg.max_steps))
    interest = cfg.user_model == "interest_evolution" and cfg.refill_rate > 0
    return {"max_steps": cfg.max_steps, "break_even_quality": 1 / cfg.refill_rate if interest else None,
            "truncated": truncated}


def session_trace(policy, env_config: "SimulatorConfig | str" = "default", n_users: int = 200,
                  seed: int = 0, max_len: int | None = None) -> dict[str, np.ndarray]:
    """Roll out ``policy`` for ``n_users`` sessions and record them step by step (privileged).

    ``n_users`` >= 1; ``max_len`` None or >= 1 (steps). Returns (B, L) arrays with L = the
    longest session (or ``max_len``): ``budget`` (minutes left *after* the step; frozen after
    the end), ``reward``, ``clicked`` (bool),
    ``clicked_quality`` (nan when no click), ``click_prob`` (probability of any click given the
    slate shown), ``active`` (user in session when the slate was shown), plus ``episode_return``
    and ``length`` (B,). Interest-evolution configs only.
    """
    config = _interest_evolution_config(env_config)
    check_int("n_users", n_users, 1)
    check_int("max_len", max_len, 1, allow_none=True)
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


#: One row per preset of article §6: the MDP in words (rendered as a table in notebook 08).
DOMAIN_TABLE: tuple[dict[str, str], ...] = (
    {"preset": "ecommerce", "article": "§6.1 e-commerce",
     "observed state": "history of shown categories, purchases, revenue; candidates' price, rating, deal badge",
     "hidden state": "category interests, price sensitivity, trust, patience",
     "action": "slate of 3 of 10 products",
     "reward": "revenue of the purchase (price units)",
     "long-term effect": "low-quality deals erode trust (fewer purchases) and patience (shorter visits)",
     "myopic trap": "pushes cheap 'bargain bait' that converts now"},
    {"preset": "social_media", "article": "§6.2 social media",
     "observed state": "history of shown topics, clicks, dwell; candidates' topic fatigue and length",
     "hidden state": "topic interests, fatigue per topic, energy",
     "action": "slate of 3 of 10 posts",
     "reward": "dwell time (minutes)",
     "long-term effect": "repeating a topic bores (drains energy); fresh topics refresh",
     "myopic trap": "serves the favourite topic until the user leaves"},
    {"preset": "education", "article": "§6.3 online education",
     "observed state": "history of exercises and successes; difficulty, stretch over the estimated level, prerequisite level",
     "hidden state": "mastery per skill, motivation",
     "action": "slate of 3 of 10 exercises",
     "reward": "mastery gain (points)",
     "long-term effect": "failures cost motivation (drop-out); too-easy items teach nothing; prerequisites unlock skills",
     "myopic trap": "hard exercises with the best immediate expected gain cause drop-out"},
    {"preset": "finance", "article": "§6.4 financial investment",
     "observed state": "history of products and investments; return, volatility, risk class, shortfall probability",
     "hidden state": "interests, risk aversion, own loss tolerance, strikes",
     "action": "slate of 3 of 10 products, only those allowed by the user's risk class (action mask)",
     "reward": "risk-adjusted utility (certainty-equivalent return, points)",
     "long-term effect": "a loss beyond the user's tolerance makes her leave (churn)",
     "myopic trap": "recommends the riskiest allowed products, which churn users"},
)


def domain_table():
    """The four application presets as a pandas DataFrame (one row each, from :data:`DOMAIN_TABLE`)."""
    import pandas as pd

    return pd.DataFrame(list(DOMAIN_TABLE)).set_index("preset")


class MaskIgnoringPolicy:
    """``policy`` fed observations whose ``candidate_mask`` says "all allowed": an audit of what
    the mask prevents (use it with :func:`count_unsuitable`; :meth:`BatchEnv.step` refuses the
    forbidden slates it may produce)."""

    def __init__(self, policy: SlatePolicy):
        self.policy = policy

    def reset(self, batch_size: int) -> None:
        self.policy.reset(batch_size)

    def reset_next_batch(self, batch_size: int) -> None:
        _reset_policy(self.policy, batch_size, first=False)

    def act(self, obs: dict, env) -> np.ndarray:
        return self.policy.act({**obs, "candidate_mask": np.ones_like(obs["candidate_mask"])}, env)


def count_unsuitable(policy, env_config: "SimulatorConfig | str" = "finance", n_episodes: int = 1000,
                     seed: int = 0, batch_size: int = 1000) -> dict[str, int]:
    """Count shown products that ``candidate_mask`` forbids, in up to ``n_episodes`` sessions.

    Counted from the policy's slates *before* they reach :meth:`BatchEnv.step`, for active
    users only, on :func:`evaluate`'s seed set. Counting **stops at the first step whose
    slates contain a forbidden product**: ``BatchEnv.step`` refuses such slates, so the
    sessions cannot go on. The counts then cover only the steps up to and including that one
    (for a policy that ignores the mask, typically the first step of the first batch), so
    ``unsuitable / shown`` is a rate over those steps, not over all sessions. A policy that
    respects the mask runs all ``n_episodes`` sessions and gets ``unsuitable == 0``. Returns
    ``{"shown": items shown to active users, "unsuitable": items shown with candidate_mask
    False, "masked_available": shown slots where the candidate set contained a forbidden item}``.
    """
    shown = unsuitable = exposed = 0
    for j, env in enumerate(evaluation_envs(env_config, n_episodes, seed, batch_size)):
        obs = env.reset()
        _reset_policy(policy, env.batch_size, first=j == 0)
        while obs["active"].any():
            active = obs["active"]
            # checked like BatchEnv.step (shape, integers in [0, N), distinct) but the mask:
            # a negative index would otherwise wrap round to the last candidates
            slates = env._check_slate_indices(policy.act(obs, env))
            ok = np.take_along_axis(obs["candidate_mask"], slates, axis=1)
            shown += int(active.sum()) * slates.shape[1]
            unsuitable += int((~ok & active[:, None]).sum())
            exposed += int((~obs["candidate_mask"]).any(axis=1)[active].sum()) * slates.shape[1]
            if unsuitable:  # BatchEnv.step would refuse the slate: stop and report
                return {"shown": shown, "unsuitable": unsuitable, "masked_available": exposed}
            obs, _, _, _ = env.step(slates)
    return {"shown": shown, "unsuitable": unsuitable, "masked_available": exposed}


def session_story(policy, env_config: "SimulatorConfig | str" = "ecommerce", seed: int = 0,
                  max_len: int | None = None):
    """One user's session step by step, with the hidden state (privileged; for plots and widgets).

    Returns a pandas DataFrame, one row per step: ``step``, ``shown`` (categories of the slate,
    e.g. ``"3 7 1"``), ``choice`` (category chosen or ``"-"``), ``reward``, ``return``
    (cumulative) and the model's :attr:`UserModel.story_fields` *after* the step. ``max_len``:
    None or an integer >= 1, the most steps recorded.
    """
    import pandas as pd

    config = get_preset(env_config)
    check_int("max_len", max_len, 1, allow_none=True)
    env = BatchEnv(config, 1, seed=seed)
    obs = env.reset()
    policy.reset(1)
    story_labels = [f[0] for f in env.model.story_fields]
    rows, total, t = [], 0.0, 0
    while obs["active"][0] and (max_len is None or t < max_len):
        slate = env.check_slates(policy.act(obs, env))
        cats = obs["candidate_clusters"][0, slate[0]]
        obs, reward, _, info = env.step(slate)
        total += float(reward[0])
        pos = int(obs["clicked"][0])
        state = env.model.story_state(env.privileged())
        rows.append({"step": t, "shown": " ".join(str(int(c)) for c in cats),
                     "choice": str(int(cats[pos])) if pos >= 0 else "-",
                     "reward": float(reward[0]), "return": total,
                     **{k: float(state[k][0]) for k in story_labels}})
        t += 1
    return pd.DataFrame(rows, columns=["step", "shown", "choice", "reward", "return", *story_labels])

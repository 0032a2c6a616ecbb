"""Tests of the simulator's pluggable user models and the four application-domain presets."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlrec_helpers import simulator as S
from rlrec_helpers.simulator import (
    DOMAIN_PRESETS, BatchEnv, EcommerceParams, EducationParams, FinanceParams, InterestEvolutionEnv,
    LongTermHeuristicPolicy, MyopicPolicy, RandomPolicy, SimulatorConfig, SocialMediaParams,
    evaluate, get_preset, make_user_model,
)

DOMAINS = ("ecommerce", "social_media", "education", "finance")
OBS_KEYS = {"candidate_features", "candidate_clusters", "candidate_mask", "clicked", "clicked_cluster",
            "watch_time", "active"}


def _cfg(preset: str, params=None, **fields) -> SimulatorConfig:
    cfg = dataclasses.replace(get_preset(preset), **fields)
    if params is not None:
        cfg = dataclasses.replace(cfg, model_params=params)
    return cfg.validate()


# ----------------------------------------------------------------- registry and configuration


def test_domain_presets_registered_and_unknown_names_rejected():
    assert set(DOMAIN_PRESETS) == set(DOMAINS) and set(DOMAINS) <= set(S.PRESETS)
    for name in DOMAINS:
        assert get_preset(name).user_model == name
    with pytest.raises(ValueError, match="ecommerce") as err:
        get_preset("retail")
    assert "finance" in str(err.value) and "default" in str(err.value)
    with pytest.raises(ValueError, match="user_model"):
        SimulatorConfig(user_model="banking").validate()
    with pytest.raises(ValueError, match="model_params"):
        SimulatorConfig(user_model="finance", n_topics=8, model_params=EcommerceParams()).validate()
    with pytest.raises(ValueError, match="model_params"):
        SimulatorConfig(model_params=FinanceParams()).validate()  # interest evolution takes none


@pytest.mark.parametrize("preset,params,field", [
    ("ecommerce", EcommerceParams(deal_prob=1.5), "deal_prob"),
    ("ecommerce", EcommerceParams(price_min=2.0), "price_min"),
    ("ecommerce", EcommerceParams(trust_init=5.0), "trust_init"),
    ("social_media", SocialMediaParams(fatigue_decay=1.2), "fatigue_decay"),
    ("social_media", SocialMediaParams(refresh_rate=1.0), "refresh_rate"),
    ("education", EducationParams(prerequisites=(-1, 0, 1)), "prerequisites"),
    ("education", EducationParams(prerequisites=(1, 0, -1, -1, -1, -1)), "cycle"),
    ("education", EducationParams(success_slope=0.0), "success_slope"),
    ("finance", FinanceParams(class_probs=(0.5, 0.5, 0.5, 0.5)), "class_probs"),
    ("finance", FinanceParams(n_safe=2), "n_safe"),
    ("finance", FinanceParams(category_class=(1, 1, 1, 1, 2, 2, 3, 3)), "category_class"),
    ("finance", FinanceParams(class_volatility=(0.01, -0.03, 0.06, 0.12)), "class_volatility"),
])
def test_invalid_domain_params_raise_naming_field(preset, params, field):
    with pytest.raises(ValueError, match=field):
        _cfg(preset, params)
    with pytest.raises(ValueError):
        BatchEnv(dataclasses.replace(get_preset(preset), model_params=params), 2, seed=0)


def test_finance_class_probs_must_be_a_distribution():
    with pytest.raises(ValueError) as err:
        _cfg("finance", FinanceParams(class_probs=(0.5, 0.5, 0.5, 0.5)))
    assert str(err.value) == "class_probs must sum to 1 (within 1e-06), got a sum of 2.0"
    # the package-wide tolerance (1e-9 before): rounded shares within 1e-6 are accepted
    cfg = _cfg("finance", FinanceParams(class_probs=(0.1, 0.3, 0.3, 0.3000009)))
    assert cfg.model_params.class_probs[3] == 0.3000009
    with pytest.raises(ValueError, match=r"^class_probs must sum to 1 \(within 1e-06\), got a sum of 1\.0000011"):
        _cfg("finance", FinanceParams(class_probs=(0.1, 0.3, 0.3, 0.3000011)))


@pytest.mark.parametrize("preset,params,field", [
    ("ecommerce", EcommerceParams(no_buy_utility=1000.0), "no_buy_utility"),
    ("ecommerce", EcommerceParams(deal_appeal=800.0), "deal_appeal"),
    ("ecommerce", EcommerceParams(trust_rate=2000.0), "trust_rate"),
    ("social_media", SocialMediaParams(no_click_utility=800.0), "no_click_utility"),
    ("social_media", SocialMediaParams(no_click_utility=-800.0), "no_click_utility"),
    ("social_media", SocialMediaParams(interest_weight=800.0), "interest_weight"),
    ("education", EducationParams(skip_utility=800.0), "skip_utility"),
    ("education", EducationParams(difficulty_aversion=-2000.0), "difficulty_aversion"),
    ("finance", FinanceParams(no_invest_utility=800.0), "no_invest_utility"),
    ("finance", FinanceParams(return_appeal=800.0), "return_appeal"),
    ("finance", FinanceParams(return_unit=1e-6), "return_unit"),
])
def test_utilities_fed_to_exp_are_bounded(preset, params, field):
    with pytest.raises(ValueError, match=field) as err:
        _cfg(preset, params)
    assert "50" in str(err.value)
    with pytest.raises(ValueError, match=field):
        BatchEnv(dataclasses.replace(get_preset(preset), model_params=params), 2, seed=0)


@pytest.mark.parametrize("preset,field", [
    ("ecommerce", "no_buy_utility"), ("social_media", "no_click_utility"), ("education", "skip_utility"),
    ("finance", "no_invest_utility"),
])
def test_utilities_at_the_bound_run_without_overflow(preset, field):
    ptype = type(get_preset(preset).params)
    for v in (S.MAX_UTILITY, -S.MAX_UTILITY):
        cfg = _cfg(preset, ptype(**{field: v}))
        env = BatchEnv(cfg, 8, seed=0)
        obs = env.reset()
        with np.errstate(all="raise"):
            for _ in range(5):
                obs, r, *_ = env.step(RandomPolicy(0).act(obs, env))
                assert np.all(np.isfinite(r))


def test_education_docstring_describes_the_default_chains():
    p = EducationParams()
    np.testing.assert_array_equal(p.prereq_array(6), [-1, 0, 1, -1, 3, 4])  # 0->1->2, 3->4->5
    assert "0 -> 1 -> 2, 3 -> 4 -> 5" in " ".join(EducationParams.__doc__.split())
    assert "0 -> 1 -> 2 -> 3" not in EducationParams.__doc__


@pytest.mark.parametrize("preset", DOMAINS)
def test_observation_interface_is_the_same_for_every_preset(preset):
    cfg = get_preset(preset)
    env = BatchEnv(preset, 6, seed=1)
    obs = env.reset()
    default_keys = set(BatchEnv("default", 2, seed=0).reset())
    assert set(obs) == default_keys == OBS_KEYS
    b, n, f, t = 6, cfg.n_candidates, cfg.n_features, cfg.n_topics
    assert obs["candidate_features"].shape == (b, n, f) and obs["candidate_features"].dtype == np.float32
    assert len(cfg.feature_names) == f and cfg.feature_names[:t] == tuple(f"topic_{i}" for i in range(t))
    assert obs["candidate_mask"].shape == (b, n) and obs["candidate_mask"].dtype == bool
    assert obs["candidate_clusters"].dtype == np.int64 and obs["clicked"].dtype == np.int64
    assert obs["watch_time"].dtype == np.float64 and obs["active"].all()
    for _ in range(5):
        feats = obs["candidate_features"]
        np.testing.assert_array_equal(feats[..., :t], np.eye(t, dtype=np.float32)[obs["candidate_clusters"]])
        assert np.all((obs["candidate_clusters"] >= 0) & (obs["candidate_clusters"] < t))
        if preset != "finance":
            assert obs["candidate_mask"].all()
        obs, r, term, info = env.step(RandomPolicy(2).act(obs, env))
        assert r.shape == (b,) and term.dtype == bool and info["truncated"].shape == (b,)
        clicked = obs["clicked"] >= 0
        assert np.all(obs["watch_time"][~clicked] == 0)


def test_n_features_reports_the_width():
    widths = {"ecommerce": 10 + 3, "social_media": 10 + 2, "education": 6 + 5, "finance": 8 + 5}
    for name, width in widths.items():
        assert get_preset(name).n_features == width
    assert get_preset("default").n_features == 20
    assert dataclasses.replace(get_preset("default"), quality_signal_noise=0.3).n_features == 21


# ----------------------------------------------------------------- one step, checked by hand


def _respond(model, state, items, slates, uniforms, active=None):
    state = {k: np.array(v, dtype=float if k != "risk_class" else np.int64) for k, v in state.items()}
    items = {k: np.array(v) for k, v in items.items()}
    b = len(slates)
    out = model.respond(state, items, np.array(slates), np.array(uniforms, dtype=float),
                        np.ones(b, bool) if active is None else np.array(active))
    return out, state


def test_ecommerce_one_step_by_hand():
    cfg = _cfg("ecommerce", n_topics=2, n_candidates=3, slate_size=2)
    m = make_user_model(cfg)
    state = {"interests": [[0.5, -0.5]] * 3, "price_sensitivity": [1.0] * 3, "trust": [1.0] * 3,
             "patience": [5.0] * 3}
    items = {"cluster": [[0, 1, 0]] * 3, "deal": [[True, False, False]] * 3,
             "quality": [[0.2, 0.9, 0.6]] * 3, "price": [[0.6, 1.0, 1.2]] * 3, "rating": [[0.2, 0.9, 0.6]] * 3}
    # weights: deal e^(0.5 + 1 - 0.6) = 2.4596, regular e^(-0.5 - 1) = 0.2231, no purchase e^1 = 2.7183
    total = math.exp(0.9) + math.exp(-1.5) + math.e
    u = [0.5 * math.exp(0.9) / total, (math.exp(0.9) + 0.5 * math.exp(-1.5)) / total, 0.99]
    out, st_ = _respond(m, state, items, [[0, 1]] * 3, [[x] for x in u])
    np.testing.assert_array_equal(out.choice, [0, 1, 2])
    np.testing.assert_allclose(out.reward, [0.6, 1.0, 0.0])
    np.testing.assert_allclose(out.engagement, out.reward)
    np.testing.assert_allclose(st_["trust"], [math.exp(0.5 * (0.2 - 0.5)), math.exp(0.5 * 0.4), 1.0])
    np.testing.assert_allclose(st_["patience"], [5 - 1 + 2 * (0.2 - 0.5), 5 - 1 + 2 * 0.4, 4.0])
    assert not out.end.any()
    # myopic objective = expected revenue of the slate
    priv = {"interests": np.array(state["interests"]), "price_sensitivity": np.ones(3), "trust": np.ones(3),
            "clusters": np.array(items["cluster"]), "candidate_deal": np.array(items["deal"]),
            "candidate_price": np.array(items["price"]), "candidate_quality": np.array(items["quality"])}
    w, a, w0, a0 = m.slate_terms(priv, 0.0)
    np.testing.assert_allclose(w[0, :2], [math.exp(0.9), math.exp(-1.5)])
    np.testing.assert_allclose(a[0], [0.6, 1.0, 1.2])
    _, a2, _, _ = m.slate_terms(priv, 2.0)
    np.testing.assert_allclose(a2[0], [0.6 + 2 * (0.2 - 0.5), 1.0 + 2 * 0.4, 1.2 + 2 * 0.1])


def test_social_media_one_step_by_hand():
    cfg = _cfg("social_media", n_topics=2, n_candidates=2, slate_size=1)
    m = make_user_model(cfg)
    state = {"interests": [[0.6, 0.0]] * 2, "fatigue": [[0.5, 0.0]] * 2, "energy": [10.0, 0.1]}
    items = {"cluster": [[0, 1]] * 2, "length": [[1.0, 1.5]] * 2}
    out, st_ = _respond(m, state, items, [[0], [0]], [[0.0], [0.999]])
    dwell = 1.0 * (0.3 + 0.35 * 1.6) * (1 - 0.3 * 0.5)  # = 0.731 minutes
    np.testing.assert_allclose(out.reward, [dwell, 0.0])
    np.testing.assert_array_equal(out.choice, [0, 1])
    # energy: scroll cost, dwell drained, refresh rho d (1 - 2 f) = 0 at f = 0.5
    np.testing.assert_allclose(st_["energy"], [10 - 0.2 - dwell, 0.1 - 0.2])
    np.testing.assert_array_equal(out.end, [False, True])
    # fatigue: clicked topic f + 0.5 (1 - f), then every topic decays by 0.8
    np.testing.assert_allclose(st_["fatigue"], [[0.75 * 0.8, 0.0], [0.5 * 0.8, 0.0]])
    # a fresh topic refreshes the energy: f = 0 -> E - 0.2 - d + 0.8 d
    out, st_ = _respond(m, state, items, [[1], [1]], [[0.0], [0.0]])
    d1 = 1.5 * (0.3 + 0.35 * 1.0)
    np.testing.assert_allclose(st_["energy"], [10 - 0.2 - 0.2 * d1, 0.1 - 0.2 - 0.2 * d1])
    np.testing.assert_allclose(st_["fatigue"][0], [0.4, 0.5 * 0.8])


def test_education_one_step_by_hand():
    cfg = _cfg("education", EducationParams(chain_length=2), n_topics=2, n_candidates=2, slate_size=1)
    m = make_user_model(cfg)
    np.testing.assert_array_equal(m.prereq, [-1, 0])
    state = {"mastery": [[0.2, 0.1]] * 3, "level": [[0.2, 0.0]] * 3, "motivation": [5.0] * 3,
             "steps_left": [40.0, 40.0, 1.0]}
    items = {"cluster": [[0, 1]] * 3, "difficulty": [[0.3, 0.3]] * 3}
    p_succ = 1 / (1 + math.exp(-(0.2 + 0.2 - 0.3) / 0.05))  # sigmoid(2) = 0.8808
    out, st_ = _respond(m, state, items, [[0]] * 3, [[0.0, 0.5], [0.0, 0.95], [0.0, 0.5]])
    np.testing.assert_allclose(out.reward, [100 * 0.5 * 0.1, 0.0, 5.0])   # gain eta (delta - m)
    np.testing.assert_allclose(out.engagement, [1.0, 0.0, 1.0])
    np.testing.assert_allclose(st_["mastery"][:, 0], [0.25, 0.2, 0.25])
    np.testing.assert_allclose(st_["level"][:, 0], [0.25, 0.2, 0.25])
    np.testing.assert_allclose(st_["motivation"], [5.0, 3.0, 5.0])     # -1 step, +1 solved / -1 failed
    np.testing.assert_array_equal(out.end, [False, False, True])       # the lesson is over
    np.testing.assert_allclose(out.info["attempted_success_prob"], p_succ)
    # skill 1 needs skill 0: readiness min(1, 0.2 / 0.3) scales success and gain
    priv = {"mastery": np.array([[0.2, 0.1]]), "clusters": np.array([[0, 1]]),
            "candidate_difficulty": np.array([[0.3, 0.3]])}
    w, a, w0, a0 = m.slate_terms(priv, 0.0)
    r = 0.2 / 0.3
    np.testing.assert_allclose(a[0], [100 * p_succ * 0.05, 100 * r * 0.5 * r * 0.5 * 0.2])
    np.testing.assert_allclose(w[0], math.exp(-0.3))
    np.testing.assert_allclose(w0, math.exp(-1.5))
    _, a4, _, _ = m.slate_terms(priv, 4.0)
    np.testing.assert_allclose(a4[0, 0], a[0, 0] + 4 * (p_succ - (1 - p_succ)))
    # observable features: stretch / review against the level, prerequisite level
    f = m.features({"cluster": np.array([[0, 1]]), "difficulty": np.array([[0.3, 0.1]])},
                   {"level": np.array([[0.2, 0.25]])})
    np.testing.assert_allclose(f[0, :, 2:], [[3.0, 0.0, 1.0, 0.0, 10.0], [1.0, 1.0, 0.0, 1.5, 2.0]], atol=1e-5)


def test_finance_one_step_by_hand_and_mask():
    params = FinanceParams(category_class=(0, 1), class_volatility=(0.01, 0.1), class_probs=(0.5, 0.5),
                           class_tolerance=(0.01, 0.1), n_safe=1)
    cfg = _cfg("finance", params, n_topics=2, n_candidates=2, slate_size=1)
    m = make_user_model(cfg)
    state = {"interests": [[0.0, 0.0]] * 3, "risk_class": [1, 1, 1], "risk_aversion": [2.0] * 3,
             "tolerance": [0.1] * 3, "periods_left": [3.0, 3.0, 1.0], "strikes_left": [1.0] * 3}
    items = {"cluster": [[0, 1]] * 3, "volatility": [[0.01, 0.1]] * 3, "expected_return": [[0.004, 0.05]] * 3}
    churn = 0.5 * math.erfc(1.5 / math.sqrt(2))  # P(R < -0.1) for R ~ N(0.05, 0.1^2) = Phi(-1.5)
    out, st_ = _respond(m, state, items, [[1]] * 3, [[0.0, churn - 0.01], [0.0, churn + 0.01], [0.0, 0.9]])
    np.testing.assert_allclose(out.reward, 100 * (0.05 - 2.0 * 0.1 ** 2 / 2))  # = 4.0 points
    np.testing.assert_array_equal(out.info["churned"], [True, False, False])
    np.testing.assert_array_equal(out.end, [True, False, True])  # churn, continue, horizon reached
    np.testing.assert_allclose(st_["periods_left"], [2.0, 2.0, 0.0])
    np.testing.assert_allclose(st_["strikes_left"], [0.0, 1.0, 1.0])
    # with two strikes the first loss beyond tolerance does not end the session
    out, st_ = _respond(m, {**state, "strikes_left": [2.0, 1.0, 2.0]}, items, [[1]] * 3,
                        [[0.0, churn - 0.01]] * 3)
    np.testing.assert_array_equal(out.info["loss_beyond_tolerance"], [True, True, True])
    np.testing.assert_array_equal(out.end, [False, True, True])  # row 2: horizon reached
    np.testing.assert_array_equal(out.info["churned"], [False, True, False])
    assert S.normal_cdf(-1.5) == pytest.approx(churn, abs=2e-7)
    # no investment: weights e^(0 + 0.05 / 0.05) vs e^0.5
    out, _ = _respond(m, state, items, [[1]] * 3, [[math.e / (math.e + math.exp(0.5)) + 1e-9, 0.0]] * 3)
    np.testing.assert_array_equal(out.choice, [1, 1, 1])
    assert np.all(out.reward == 0) and not out.info["churned"].any()
    # observable features: mu / 0.05, sigma / max sigma_k, class / (R - 1), sigma / sigma_{k_u},
    # shortfall probability with the class tolerance
    f = m.features({k: np.array(v[:1]) for k, v in items.items()}, {"risk_class": np.array([1])})
    np.testing.assert_allclose(f[0, :, 2:], [[0.08, 0.1, 0.0, 0.1, 0.0], [1.0, 1.0, 1.0, 1.0, churn]], atol=1e-6)
    # mask: risk class k(c) <= the user's class
    st0 = {"risk_class": np.array([0, 1])}
    np.testing.assert_array_equal(m.candidate_mask({"cluster": np.array([[0, 1], [1, 1]])}, st0),
                                  [[True, False], [True, True]])


@pytest.mark.parametrize("preset", DOMAINS)
def test_slate_terms_match_the_dynamics_in_expectation(preset):
    """The myopic objective (expected reward of a slate) equals the mean simulated reward."""
    env = BatchEnv(preset, 4, seed=7)
    obs = env.reset()
    for _ in range(3):  # move away from the initial state
        obs, *_ = env.step(RandomPolicy(1).act(obs, env))
    priv = env.privileged()
    slate = RandomPolicy(3).act(obs, env)
    w, a, w0, a0 = env.model.slate_terms(priv, 0.0)
    ws = np.take_along_axis(w, slate, 1)
    w0 = np.broadcast_to(w0, (4,))
    expected = ((ws * np.take_along_axis(a, slate, 1)).sum(1) + w0 * a0) / (ws.sum(1) + w0)
    reps = 20000
    rng = np.random.default_rng(0)
    for row in range(4):
        state = {k: np.repeat(v[row:row + 1], reps, axis=0) for k, v in env._state.items()}
        items = {k: np.repeat(v[row:row + 1], reps, axis=0) for k, v in env._items.items()}
        out = env.model.respond(state, items, np.repeat(slate[row:row + 1], reps, 0),
                                rng.random((reps, env.model.n_uniforms)), np.ones(reps, bool))
        se = out.reward.std() / math.sqrt(reps) + 1e-12
        assert abs(out.reward.mean() - expected[row]) < 5 * se


@pytest.mark.parametrize("preset", DOMAINS)
def test_myopic_is_the_exact_best_slate_of_its_objective(preset):
    env = BatchEnv(preset, 12, seed=3)
    obs = env.reset()
    obs, *_ = env.step(RandomPolicy(0).act(obs, env))
    priv = env.privileged()
    mask = obs["candidate_mask"]
    k = env.config.slate_size
    for weight, slates in ((0.0, MyopicPolicy().act(obs, env)), (None, LongTermHeuristicPolicy().act(obs, env))):
        w, a, w0, a0 = env.model.slate_terms(priv, env.model.default_weight if weight is None else weight)
        w0 = np.broadcast_to(w0, (12,))

        def value(row, s):
            s = list(s)
            return (w[row, s] @ a[row, s] + w0[row] * a0) / (w[row, s].sum() + w0[row])

        for row in range(12):
            allowed = np.flatnonzero(mask[row])
            best = max(value(row, s) for s in itertools.combinations(allowed, k))
            assert mask[row, slates[row]].all()
            assert value(row, slates[row]) == pytest.approx(best, abs=1e-9)


# ----------------------------------------------------------------- masking (finance)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), batch=st.integers(1, 40), policy=st.sampled_from(
    ["random", "myopic", "heuristic", "masked-sample"]))
def test_finance_masking_is_never_violated(seed, batch, policy):
    env = BatchEnv("finance", batch, seed=seed)
    m = env.model
    pol = {"random": RandomPolicy(seed % 1000), "myopic": MyopicPolicy(),
           "heuristic": LongTermHeuristicPolicy()}.get(policy)
    rng = np.random.default_rng(seed)
    obs = env.reset()
    k = env.config.slate_size
    for _ in range(25):
        priv = env.privileged()
        mask = obs["candidate_mask"]
        # the mask is exactly the suitability rule and always leaves >= K allowed candidates
        np.testing.assert_array_equal(mask, m.classes[obs["candidate_clusters"]] <= priv["risk_class"][:, None])
        assert mask[:, :m.params.n_safe].all() and (mask.sum(1) >= k).all()
        if pol is None:
            scores = np.where(mask, rng.random(mask.shape), -np.inf)
            slates = np.argsort(-scores, axis=1)[:, :k]
        else:
            slates = pol.act(obs, env)
        assert np.take_along_axis(mask, slates, 1).all()
        # a slate with a masked candidate in an active row raises
        rows = np.flatnonzero(~mask.all(1) & obs["active"])
        if rows.size:
            bad = slates.copy()
            r = rows[0]
            bad[r, 0] = np.flatnonzero(~mask[r])[0]
            bad[r, 1:] = [i for i in range(env.config.n_candidates) if i != bad[r, 0]][:k - 1]
            with pytest.raises(ValueError, match="candidate_mask"):
                env.step(bad)
        obs, *_ = env.step(slates)
        if not obs["active"].any():
            obs = env.reset()


def test_mask_is_all_true_outside_finance():
    for preset in ("default", "ecommerce", "social_media", "education"):
        env = BatchEnv(preset, 50, seed=0)
        obs = env.reset()
        for _ in range(5):
            assert obs["candidate_mask"].all()
            obs, *_ = env.step(RandomPolicy(0).act(obs, env))


# ----------------------------------------------------------------- gymnasium and reproducibility


@pytest.mark.parametrize("preset", DOMAINS)
def test_gymnasium_env_passes_check_env_and_runs_an_episode(preset):
    from gymnasium.utils.env_checker import check_env

    env = S.SimulatorEnv(preset)
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=3)
    env.action_space.seed(0)
    assert env.observation_space.contains(obs)
    done, steps = False, 0
    while not done:
        obs, r, term, trunc, _ = env.step(env.action_space.sample(mask=obs["candidate_mask"]))
        assert env.observation_space.contains(obs) and np.isfinite(r)
        done, steps = term or trunc, steps + 1
    assert 1 <= steps <= env.config.max_steps
    if preset == "finance":
        env.reset(seed=5)
        while env._batch.reset(seed=int(env.np_random.integers(1000)))["candidate_mask"].all():
            pass
        obs = env._single(env._batch._obs())
        bad = np.array([np.flatnonzero(~obs["candidate_mask"])[0], 0, 1])  # 0, 1: always allowed
        assert env.action_space.contains(bad) and not obs["candidate_mask"][bad].all()
        with pytest.raises(ValueError, match="candidate_mask"):
            env.step(bad)
    assert InterestEvolutionEnv is S.SimulatorEnv


def test_simulator_env_constructor_seed_reproduces_every_episode():
    def clusters(seed, episodes=3):
        env = S.SimulatorEnv("default", seed=seed)
        return [env.reset()[0]["candidate_clusters"].copy() for _ in range(episodes)]

    a, b, c = clusters(3), clusters(3), clusters(4)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(x, y) for x, y in zip(a, c))
    assert not np.array_equal(a[1], c[1]) and not np.array_equal(a[2], c[2])


def _trace(preset, policy, seed, steps=40):
    env = BatchEnv(preset, 16, seed=seed)
    obs = env.reset()
    policy.reset(16)
    out = []
    for _ in range(steps):
        s = policy.act(obs, env)
        obs, r, t, _ = env.step(s)
        out.append((obs["candidate_clusters"].copy(), obs["candidate_features"].copy(), obs["clicked"].copy(),
                    r.copy(), t.copy()))
    return out


@pytest.mark.parametrize("preset", DOMAINS)
def test_reproducible_and_policies_share_users_and_candidates(preset):
    a = _trace(preset, RandomPolicy(5), 11)
    b = _trace(preset, RandomPolicy(5), 11)
    for x, y in zip(a, b):
        for u, v in zip(x, y):
            np.testing.assert_array_equal(u, v)
    c = _trace(preset, RandomPolicy(5), 12)
    assert any(not np.array_equal(x[3], y[3]) for x, y in zip(a, c))
    # different policies: same users at reset, same candidate sets at every step
    e1, e2 = BatchEnv(preset, 16, seed=11), BatchEnv(preset, 16, seed=11)
    p1, p2 = e1.privileged(), e2.privileged()
    for key in p1:
        np.testing.assert_array_equal(p1[key], p2[key])
    d = _trace(preset, MyopicPolicy(), 11)
    for x, y in zip(a, d):
        np.testing.assert_array_equal(x[0], y[0])
    assert any(not np.array_equal(x[3], y[3]) for x, y in zip(a, d))


@pytest.mark.parametrize("preset", DOMAINS)
def test_autoreset_and_inactive_rows(preset):
    env = BatchEnv(preset, 32, seed=4, autoreset=True)
    obs = env.reset()
    fresh = make_user_model(env.config).sample_users(np.random.default_rng(0), 1)
    finished = 0
    for _ in range(80):
        obs, r, t, info = env.step(RandomPolicy(1).act(obs, env))
        assert obs["active"].all()
        if t.any():
            finished += int(t.sum())
            assert np.all(obs["clicked"][t] == -1) and np.all(obs["watch_time"][t] == 0)
            for key in ("trust", "patience", "energy", "motivation", "periods_left", "steps_left"):
                if key in fresh:
                    np.testing.assert_array_equal(env._state[key][t], fresh[key][0])
            assert np.all(np.isfinite(info["episode_return"][t]))
    assert finished > 0
    env = BatchEnv(preset, 32, seed=4)
    obs = env.reset()
    while obs["active"].any():
        inactive = ~obs["active"]
        obs, r, t, _ = env.step(RandomPolicy(1).act(obs, env))
        assert np.all(r[inactive] == 0) and not t[inactive].any()


def test_interest_evolution_only_helpers_reject_domain_presets():
    env = BatchEnv("ecommerce", 2, seed=0)
    obs = env.reset()
    for pol in (S.QualityGreedyPolicy(), S.InterestQualityBlendPolicy(1.0), S.LongTermValuePolicy(1.0)):
        with pytest.raises(ValueError, match="interest_evolution"):
            pol.act(obs, env)
    with pytest.raises(ValueError, match="interest_evolution"):
        S.session_trace(MyopicPolicy(), "ecommerce", 4)
    with pytest.raises(ValueError, match="interest_evolution"):
        S.choice_probabilities([0.0, 0.0, 0.0], "finance")
    out = S.compare_policies("education", n_episodes=50, seed=0)
    assert list(out) == list(S.DOMAIN_POLICIES)


# ----------------------------------------------------------------- the long-term trade-offs


@pytest.mark.parametrize("preset", DOMAINS)
def test_heuristic_beats_myopic_and_random_does_not(preset):
    rnd = evaluate(RandomPolicy(0), preset, 1000, seed=1)
    my = evaluate(MyopicPolicy(), preset, 1000, seed=1)
    heur = evaluate(LongTermHeuristicPolicy(), preset, 1000, seed=1)
    assert heur.mean_return.low > my.mean_return.high
    assert heur.mean_return.mean > 1.1 * my.mean_return.mean
    assert rnd.mean_return.mean < my.mean_return.mean
    assert heur.mean_session_length > my.mean_session_length  # the heuristic keeps users longer
    for r in (rnd, my, heur):
        assert r.mean_session_length < 60


# ------------------------------------------------------------------ notebook-08 helpers


def test_domain_table_has_one_row_per_domain_and_article_section():
    df = S.domain_table()
    assert list(df.index) == list(DOMAINS)
    assert [a.split()[0] for a in df["article"]] == ["§6.1", "§6.2", "§6.3", "§6.4"]
    assert {"observed state", "hidden state", "action", "reward", "long-term effect"} <= set(df.columns)


@pytest.mark.parametrize("preset", DOMAINS + ("default",))
def test_session_story_adds_up_and_tracks_hidden_state(preset):
    seed = 4 if preset == "finance" else 3  # seed 3's finance user leaves after one step
    df = S.session_story(S.make_reference_policy("myopic"), preset, seed=seed)
    assert len(df) >= 5
    np.testing.assert_allclose(df["return"].to_numpy(), np.cumsum(df["reward"].to_numpy()))
    model = S.make_user_model(preset)
    labels = [f[0] for f in model.story_fields]
    assert labels and set(labels) <= set(df.columns)
    # no reward without a choice
    assert (df.loc[df["choice"] == "-", "reward"] == 0).all()
    # the hidden state after each step follows the model's update rule
    chose = (df["choice"] != "-").to_numpy()
    step = lambda label, start: np.diff(np.r_[start, df[label].to_numpy()])  # noqa: E731
    c, p = model.config, model.params
    if preset == "default":
        d = step("budget (min)", c.time_budget)
        assert (d < 0).all()  # a click costs r (1 - refill_rate q) > 0 (refill_rate q < 1), no click 0.5
        np.testing.assert_allclose(d[~chose], -c.no_click_cost)
        assert (np.diff(df["max interest"])[~chose[1:]] == 0).all()  # interests move on clicks only
        assert df["budget (min)"].iloc[-1] <= 0  # the budget ran out
    elif preset == "ecommerce":
        d_trust, d_pat = step("trust", p.trust_init), step("patience (views)", p.patience)
        assert (d_trust[~chose] == 0).all() and (np.abs(d_trust[chose]) > 1e-12).all()  # moves on purchases
        np.testing.assert_allclose(d_pat[~chose], -p.visit_cost)
        assert df["patience (views)"].iloc[-1] <= 0
    elif preset == "social_media":
        d = step("energy (min)", p.energy)
        assert (d < 0).all()
        np.testing.assert_allclose(d[~chose], -p.scroll_cost)
        fat = df["max topic fatigue"].to_numpy()
        np.testing.assert_allclose(fat[1:][~chose[1:]], p.fatigue_decay * fat[:-1][~chose[1:]])  # decay
        assert df["energy (min)"].iloc[-1] <= 0
    elif preset == "education":
        d = step("motivation", p.motivation)
        np.testing.assert_allclose(d[~chose], -p.step_cost)
        # reward = reward_scale * mastery gain, and one skill gains: the mean moves by gain / T
        gain = np.diff(df["mean mastery"]) * c.n_topics * p.reward_scale
        np.testing.assert_allclose(gain, df["reward"].to_numpy()[1:], atol=1e-9)
        assert df["motivation"].iloc[-1] <= 0 or len(df) == p.lesson_length
    else:  # finance: one period per step; a loss beyond tolerance costs a strike
        np.testing.assert_array_equal(df["periods left"], p.horizon - 1 - np.arange(len(df)))
        strikes = step("strikes left", p.loss_strikes)
        assert ((strikes == 0) | (strikes == -1)).all() and (strikes[~chose] == 0).all()
        assert df["periods left"].iloc[-1] == 0 or df["strikes left"].iloc[-1] == 0


def test_count_unsuitable_counts_forbidden_products():
    class Reckless:  # always shows the riskiest candidates, mask or not
        def reset(self, b):
            pass

        def act(self, obs, env):
            risk = obs["candidate_features"][..., env.config.n_topics + 2]
            return np.argsort(-risk, axis=1)[:, : env.config.slate_size]

    bad = S.count_unsuitable(Reckless(), "finance", n_episodes=50, seed=1)
    assert bad["unsuitable"] > 0
    good = S.count_unsuitable(S.make_reference_policy("myopic"), "finance", n_episodes=50, seed=1)
    assert good["unsuitable"] == 0 and good["shown"] > 0 and good["masked_available"] > 0
    # the same policy, told that everything is allowed, shows forbidden products
    unmasked = S.count_unsuitable(S.MaskIgnoringPolicy(S.make_reference_policy("myopic")), "finance",
                                  n_episodes=50, seed=1)
    assert unmasked["unsuitable"] > 0
    with pytest.raises(ValueError, match="n_episodes"):
        S.count_unsuitable(Reckless(), "finance", n_episodes=0)


def test_domain_session_widget_function_plots_and_validates():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rlrec_helpers import widgets as W

    story = W.show_domain_session("social_media", "heuristic", 2, agents={})
    fig = plt.gcf()
    # two panels, the right one with a twin axis for the second hidden column (own units)
    assert len(fig.axes) == 3 and fig.axes[0].get_ylabel() == "cumulative reward (minutes of dwell)"
    assert [fig.axes[1].get_ylabel(), fig.axes[2].get_ylabel()] == ["energy (min)", "max topic fatigue"]
    assert story["return"].iloc[-1] == pytest.approx(story["reward"].sum())
    plt.close("all")
    with pytest.raises(ValueError, match="domain"):
        W.show_domain_session("casino", "myopic", 0, agents={})
    with pytest.raises(ValueError, match="policy"):
        W.show_domain_session("finance", "oracle", 0, agents={})
    with pytest.raises(ValueError, match="no trained agent"):
        W.show_domain_session("finance", "RL", 0, agents={})
    w = W.domain_session_widget({})
    assert [c.description for c in w.children[:3]] == ["domain", "policy", "user"]


# ------------------------------------------------------------------ every widget over its slider ranges


def _numbers(x):
    """All numbers inside a widget function's return value (dicts, arrays, frames, floats)."""
    import pandas as pd

    if x is None or isinstance(x, str):
        return []
    if isinstance(x, dict):
        return [v for item in x.values() for v in _numbers(item)]
    if isinstance(x, pd.DataFrame):
        return list(x.select_dtypes("number").to_numpy(float).ravel())
    arr = np.asarray(x)
    return list(arr.astype(float).ravel()) if arr.dtype.kind in "biuf" else []


# (widget factory, name of the module-level show_* it wraps or None for a closure, overrides):
# the overrides shrink the sizes (fixed arguments) and pick a dropdown value that needs no agents
WIDGET_CASES = {
    "gamma": (lambda W: W.gamma_widget(), "show_optimal_vs_myopic", {}),
    "bandit": (lambda W: W.bandit_regret_widget(), "show_bandit_comparison", {"horizon": 200, "n_runs": 3}),
    "worked_example": (lambda W: W.worked_example_widget(), "show_worked_example", {"n_iters": 100}),
    "simulator": (lambda W: W.simulator_widget(), "show_simulator_comparison", {"n_episodes": 40}),
    "reinforce": (lambda W: W.reinforce_widget("default"), "show_reinforce_retrain",
                  {"batch_size": 2, "n_eval": 3}),
    "chen": (lambda W: W.chen_simulation_widget(), "show_chen_simulation", {}),
    "domain_session": (lambda W: W.domain_session_widget({}), "show_domain_session", {"policy": "myopic"}),
}


@pytest.mark.parametrize("name", list(WIDGET_CASES))
def test_every_widget_runs_at_both_ends_of_its_sliders(name, monkeypatch, capsys):
    """Call each widget's wrapped function with all sliders at their minimum, then all at their
    maximum (ipywidgets.interactive only logs a callback's exception, so it is called directly)."""
    import re

    import ipywidgets
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rlrec_helpers import widgets as W

    factory, show_name, overrides = WIDGET_CASES[name]
    real = getattr(W, show_name) if show_name else None

    def stub(*args, **kwargs):
        return None

    with monkeypatch.context() as m:   # no default run while the widget is built
        if show_name:
            m.setattr(W, show_name, stub)
        w = factory(W)
    fn = real if w.f is stub else w.f   # a closure / lambda calls the (restored) show_* itself
    sliders = [c for c in w.kwargs_widgets if isinstance(c, (ipywidgets.IntSlider, ipywidgets.FloatSlider,
                                                             ipywidgets.FloatLogSlider))]
    assert sliders, name
    for end in ("min", "max"):
        kwargs = {**dict(w.kwargs), **overrides}
        for c in sliders:
            v = getattr(c, end)
            kwargs[c._kwarg] = c.base ** v if isinstance(c, ipywidgets.FloatLogSlider) else v
        out = fn(**kwargs)
        plt.close("all")
        printed = capsys.readouterr().out
        assert printed.strip(), (name, end)
        assert not re.search(r"\b(nan|inf)\b", printed, re.IGNORECASE), (name, end, printed)
        assert np.all(np.isfinite(_numbers(out))), (name, end)


def test_simulator_widget_stays_below_break_even_and_takes_the_session_count(monkeypatch, capsys):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rlrec_helpers import widgets as W
    from rlrec_helpers.simulator import get_preset

    calls = []
    monkeypatch.setattr(W, "show_simulator_comparison", lambda **kw: calls.append(kw))
    w = W.simulator_widget(n_episodes=123)
    assert calls[-1]["n_episodes"] == 123
    W.simulator_widget()
    assert calls[-1]["n_episodes"] == 300                                     # default unchanged
    q_max = next(c for c in w.children if c.description == "max quality")
    assert q_max.max == W.SIMULATOR_QUALITY_MAX < 1 / get_preset("default").refill_rate
    monkeypatch.undo()
    capsys.readouterr()
    W.show_simulator_comparison(0.0, 5.0, 0.25, 1, n_episodes=60)             # past break-even
    plt.close("all")
    assert "cut off at max_steps = 1000" in capsys.readouterr().out
    W.show_simulator_comparison(0.0, W.SIMULATOR_QUALITY_MAX, 0.25, 1, n_episodes=60)
    plt.close("all")
    assert "cut off" not in capsys.readouterr().out


# ----------------------------------------------------------------- review C: argument checks


@pytest.mark.parametrize("category_class", [
    (0.7, 1.9, 0.2, 0.0, 3.9, 2.5, 1.1, 0.0),   # was truncated to (0, 1, 0, 0, 3, 2, 1, 0)
    (0.0, 1.0, 2.0, 3.0) * 2,                   # integral floats: not integers either
    ("0", "1", "2", "3") * 2,                   # was parsed as integers
    (True, False) * 4,                          # bools are not integers
])
def test_finance_category_class_must_hold_integers(category_class):
    """Review C #3: the dtype was checked after casting to int64, so it could never fail."""
    with pytest.raises(ValueError) as err:
        _cfg("finance", FinanceParams(category_class=category_class))
    assert str(err.value) == ("category_class must be None or 8 integers in [0, 4) "
                              f"(one risk class per category), got {category_class!r}")


def test_finance_too_few_risk_classes_names_the_short_argument():
    """Review C #3: with category_class=None, a short class_volatility was blamed on
    category_class ("... got None"); the argument that is too short is named instead."""
    one = dict(class_volatility=(0.02,), class_probs=(1.0,), class_tolerance=(0.016,))
    with pytest.raises(ValueError) as err:
        _cfg("finance", FinanceParams(**one))
    assert str(err.value) == ("class_volatility must list at least 4 risk classes for the default "
                              "category_class (category c has risk class c // 2, so n_topics=8 needs "
                              "ceil(n_topics / 2) = 4), got 1")
    for name, short in (("class_probs", (1.0,)), ("class_tolerance", (0.016,))):
        with pytest.raises(ValueError) as err:
            _cfg("finance", FinanceParams(**{name: short}))
        assert str(err.value) == f"{name} must be 4 finite numbers >= 0, got {short!r}"
    # one risk class is fine when category_class maps every category to it
    cfg = _cfg("finance", FinanceParams(category_class=(0,) * 8, **one))
    assert make_user_model(cfg).classes.tolist() == [0] * 8


@pytest.mark.parametrize("slate, values", [([-1, 0, 1], "[-1, 1]"), ([0, 1, 10], "[0, 10]")])
def test_count_unsuitable_rejects_out_of_range_slate_indices(slate, values):
    """Review C #20: -1 wrapped round to the last candidate and was counted; 10 hit an IndexError."""
    class Fixed:
        def reset(self, b):
            pass

        def act(self, obs, env):
            return np.tile(slate, (obs["active"].shape[0], 1))

    with pytest.raises(ValueError) as err:
        S.count_unsuitable(Fixed(), "finance", n_episodes=3)
    assert str(err.value) == f"slate indices must be in [0, n_candidates=10), got values in {values}"


@pytest.mark.parametrize("max_len", [0, -1, "3", 2.0, True])
def test_session_story_validates_max_len(max_len):
    """Review C #20: max_len=-1 gave an empty story and "3" a TypeError; checked like session_trace."""
    with pytest.raises(ValueError) as err:
        S.session_story(RandomPolicy(0), "ecommerce", max_len=max_len)
    assert str(err.value) == f"max_len must be None or an integer >= 1, got {max_len!r}"
    assert len(S.session_story(RandomPolicy(0), "ecommerce", max_len=1)) == 1


def test_ragged_prerequisites_are_named():
    """A ragged tuple raised numpy's own 'inhomogeneous shape' error, naming nothing."""
    with pytest.raises(ValueError, match=r"^prerequisites must be None or 6 integers in \[-1, n_topics\)"):
        BatchEnv(dataclasses.replace(get_preset("education"),
                                     model_params=EducationParams(prerequisites=(-1, (0, 1), 1, -1, 3, 4))), 2)

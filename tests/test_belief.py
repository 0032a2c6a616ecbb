"""Tests for rlrec_helpers.agents.belief (numpy only)."""

import re

import numpy as np
import pytest

from rlrec_helpers.agents import belief as BL


def test_transition_is_stochastic_and_moves_the_mean_like_the_simulator():
    grid = np.linspace(-1, 1, 41)
    m = BL.interest_transition(grid, 0.3)
    np.testing.assert_allclose(m.sum(axis=1), 1.0, atol=1e-12)
    assert (m >= 0).all()
    # E[u'] - u = (2 p_up - 1) delta = u * 0.3 (1 - |u|)(1 - u); linear interpolation keeps means
    expected = grid + grid * 0.3 * (1 - np.abs(grid)) * (1 - grid)
    inside = np.abs(grid) < 0.9
    np.testing.assert_allclose((m @ grid)[inside], expected[inside], atol=1e-12)
    np.testing.assert_allclose(BL.interest_transition(grid, 0.0), np.eye(41), atol=1e-12)


def test_single_document_slates_give_the_exact_posterior_mean():
    """K = 1, no clicks: the likelihood of u is (1 / (u + 1 + w0))^n, a 1-D integral."""
    belief = BL.InterestBelief(1, 3, grid=401)
    for _ in range(6):
        belief.update(np.array([[1]]), np.array([-1]))
    u = np.linspace(-1, 1, 200001)
    lik = (1.0 / (u + 3.0)) ** 6
    exact = (u * lik).sum() / lik.sum()
    assert abs(belief.mean()[0, 1] - exact) < 1e-4
    assert belief.mean()[0, 1] < -0.05                    # ignored documents lower the estimate
    np.testing.assert_allclose(belief.mean()[0, [0, 2]], 0.0, atol=1e-12)  # others untouched
    np.testing.assert_allclose(belief.statistics()[0, [0, 2], 1], 0.0, atol=1e-6)
    assert 0 < belief.statistics()[0, 1, 1] < 1


def test_click_raises_the_clicked_cluster_and_lowers_the_others():
    belief = BL.InterestBelief(2, 4)
    belief.update(np.array([[0, 1, 2], [0, 1, 2]]), np.array([1, -1]))
    m = belief.mean()
    assert m[0, 1] > 0.1 and m[0, 0] < 0 and m[0, 2] < 0 and m[0, 3] == pytest.approx(0.0, abs=1e-12)
    assert (m[1, :3] < 0).all()                             # no click: every shown cluster goes down
    assert m[0, 0] == pytest.approx(m[0, 2])                 # symmetric slots


def test_inactive_users_and_duplicate_clusters():
    belief = BL.InterestBelief(2, 3)
    before = belief.probs.copy()
    belief.update(np.array([[0, 0], [0, 0]]), np.array([0, 0]), active=np.array([True, False]))
    np.testing.assert_array_equal(belief.probs[1], before[1])
    np.testing.assert_allclose(belief.probs.sum(axis=-1), 1.0)
    assert belief.mean()[0, 0] > 0.1


def test_posterior_beats_the_click_rate_on_simulated_users():
    """On simulator sessions (random slates), the posterior mean is closer to the hidden
    interests than the click-rate estimate and than the prior mean 0, at every step."""
    err = BL.estimation_error("costly_browsing", n_users=300, n_steps=12, seed=3)
    assert set(err) == {"click_rate", "posterior", "prior mean (0)"}
    assert np.isnan(err["posterior"][0]) and err["posterior"].shape == (13,)
    assert (err["posterior"][1:] < err["click_rate"][1:]).all()
    assert (err["posterior"][1:] < err["prior mean (0)"][1:]).all()
    assert err["posterior"][-1] < 0.95 * err["prior mean (0)"][-1]
    with pytest.raises(ValueError, match="interest-evolution"):
        BL.estimation_error("ecommerce", n_steps=2)
    with pytest.raises(ValueError, match="n_steps"):
        BL.estimation_error(n_steps=0)


def test_click_counts_and_history_statistics():
    counts = BL.ClickCounts(2, 4)
    counts.update(np.array([[0, 1], [2, 2]]), np.array([1, -1]), np.array([True, True]))
    counts.update(np.array([[1, 3], [0, 1]]), np.array([-1, 0]), np.array([True, False]))
    np.testing.assert_array_equal(counts.shows, [[1, 2, 0, 1], [0, 0, 2, 0]])
    np.testing.assert_array_equal(counts.clicks, [[0, 1, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_allclose(counts.statistics(), BL.cluster_statistics(counts.shows, counts.clicks))
    st = BL.history_statistics("posterior", np.array([[0, 1], [1, 3]]), np.array([1, -1]), 4)
    assert st.shape == (3, 4, 2)
    np.testing.assert_allclose(st[0, :, 0], 0.0, atol=1e-12)
    assert BL.history_statistics("click_rate", np.zeros((0, 2), int), np.zeros(0, int), 4).shape == (1, 4, 2)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="estimator"):
        BL.make_tracker("oracle", 2, 3)
    with pytest.raises(ValueError, match="grid"):
        BL.InterestBelief(2, 3, grid=2)
    with pytest.raises(ValueError, match="no_click_weight"):
        BL.InterestBelief(2, 3, no_click_weight=0.0)
    with pytest.raises(ValueError, match="interest_step"):
        BL.InterestBelief(2, 3, interest_step=1.5)
    b = BL.InterestBelief(2, 3)
    with pytest.raises(ValueError, match="shown"):
        b.update(np.array([[0, 1]]), np.array([0, 0]))
    with pytest.raises(ValueError, match="shown clusters"):
        b.update(np.array([[0, 3], [0, 1]]), np.array([0, 0]))
    with pytest.raises(ValueError, match="clicked"):
        b.update(np.array([[0, 1], [0, 1]]), np.array([2, 0]))
    with pytest.raises(ValueError, match="active"):
        BL.ClickCounts(2, 3).update(np.array([[0, 1], [0, 1]]), np.array([0, 0]), np.array([True]))


@pytest.mark.parametrize("w0", [float("inf"), float("nan"), -1.0])
def test_interest_belief_rejects_non_finite_no_click_weight(w0):
    with pytest.raises(ValueError, match=r"no_click_weight must be a finite number > 0"):
        BL.InterestBelief(2, 3, no_click_weight=w0)
    with pytest.raises(ValueError, match="no_click_weight"):
        BL.make_tracker("posterior", 2, 3, no_click_weight=w0)
    b = BL.InterestBelief(2, 3, no_click_weight=1e6)  # large but finite stays valid
    b.update(np.array([[0, 1], [1, 2]]), np.array([0, -1]))
    assert np.all(np.isfinite(b.statistics()))


# ----------------------------------------------------------------- review R4 (API)


@pytest.mark.parametrize("shows, clicks, match", [
    ([[-3.0, -4.0, 2.0]], [[0.0, 0.0, 2.0]], "0 <= clicks <= shows"),   # negative shows (was inf)
    ([[0.0, 0.0, 5.0]], [[0.0, 0.0, 23.0]], "0 <= clicks <= shows"),    # clicks > shows ("interest" 4.6)
    ([[2.0, 2.0]], [[-1.0, 0.0]], "0 <= clicks <= shows"),
    ([[np.nan]], [[0.0]], "finite"), ([[1.0]], [[np.inf]], "finite"),
    ([[1.0, 2.0]], [[0.0]], "same shape"),
])
def test_cluster_statistics_rejects_invalid_counts(shows, clicks, match):
    """R4 #4: these gave inf, NaN or an interest outside [-1, 1] with only a RuntimeWarning."""
    with pytest.raises(ValueError, match=rf"^shows and clicks must.*{match}"):
        BL.cluster_statistics(np.array(shows), np.array(clicks))


def test_cluster_statistics_valid_counts_unchanged():
    st = BL.cluster_statistics(np.array([[0.0, 2.0, 6.0]]), np.array([[0.0, 1.0, 6.0]]))
    np.testing.assert_allclose(st[0, :, 0], [5 * 0.6 / 3 - 1, 5 * 1.6 / 5 - 1, 5 * 6.6 / 9 - 1], rtol=1e-6)
    np.testing.assert_allclose(st[0, :, 1], [0.0, 2 / 6, 6 / 10], rtol=1e-6)


@pytest.mark.parametrize("tracker", ["click_rate", "posterior"])
@pytest.mark.parametrize("shown, clicked, name", [
    ([[0.5, 1.0]], [0], "shown"), ([[0, 1]], [0.0], "clicked"), ([[True, False]], [0], "shown"),
])
def test_update_requires_integer_clusters_and_positions(tracker, shown, clicked, name):
    """R4 #4: float cluster ids were truncated (update([[0.5, 1]], [0]) counted cluster 0)."""
    t = BL.make_tracker(tracker, 1, 3)
    with pytest.raises(ValueError, match=rf"^{name} must be an integer array"):
        t.update(np.array(shown), np.array(clicked))


@pytest.mark.parametrize("kwargs, name", [
    (dict(batch_size=0, n_topics=3), "batch_size"), (dict(batch_size=2, n_topics=0), "n_topics"),
    (dict(batch_size=2.0, n_topics=3), "batch_size"), (dict(batch_size=2, n_topics=True), "n_topics"),
])
def test_click_counts_validates_like_interest_belief(kwargs, name):
    """R4 #4: ClickCounts(0, 3) was accepted although InterestBelief rejects batch_size = 0."""
    with pytest.raises(ValueError, match=rf"^{name} must be an integer >= 1"):
        BL.ClickCounts(**kwargs)
    with pytest.raises(ValueError, match=rf"^{name} must be an integer >= 1"):
        BL.InterestBelief(**kwargs)


# ----------------------------------------------------------------- review C #17 (input checks)


@pytest.mark.parametrize("grid, message", [
    (np.array([0.0]), "grid must have at least 2 points, got shape (1,)"),
    (np.array([]), "grid must not be empty, got shape (0,)"),
    (np.zeros((2, 2)), "grid must have 1 axis, got shape (2, 2)"),
    (np.array([-0.5, np.nan, 0.5]), "grid entries must be finite numbers, got grid[1] = nan"),
    (np.array([0.5, -0.5, 0.0]), "grid must be strictly increasing, got grid[1] = -0.5 <= grid[0] = 0.5"),
    (np.array([-0.5, 0.0, 0.0, 0.5]), "grid must be strictly increasing, got grid[2] = 0.0 <= grid[1] = 0.0"),
])
def test_interest_transition_rejects_a_bad_grid(grid, message):
    """#17: G = 1 or NaN gave a raw IndexError; an unsorted grid a wrong matrix."""
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        BL.interest_transition(grid, 0.3)


@pytest.mark.parametrize("step", [-5.0, 1.5, float("nan"), "0.3", True, None])
def test_interest_transition_requires_a_probability_step(step):
    """#17: interest_step = NaN gave a raw IndexError and -5.0 was accepted (η must be in [0, 1])."""
    with pytest.raises(ValueError, match=f"^{re.escape(f'interest_step must be a finite number in [0, 1], got {step!r}')}$"):
        BL.interest_transition(np.linspace(-0.9, 0.9, 5), step)


def test_interest_transition_valid_input_unchanged():
    grid = np.linspace(-0.9, 0.9, 5)
    m = BL.interest_transition(grid, 1)                     # an int step and the two-point grid still work
    np.testing.assert_allclose(m.sum(axis=1), 1.0, atol=1e-12)
    assert BL.interest_transition([-0.5, 0.5], np.float32(0.25)).shape == (2, 2)


@pytest.mark.parametrize("shown, clicked, message", [
    ([[1, 2, 3]], 0, "clicked must have shape (L,) (one slate position per step, -1 = no click), got shape ()"),
    ([[1, 2, 3]], [[0]], "clicked must have shape (L,) (one slate position per step, -1 = no click), "
                         "got shape (1, 1)"),
    ([1, 2, 3], [0], "shown_clusters must have shape (L, K) with L = len(clicked) = 1 and K >= 1, got shape (3,)"),
    ([[1, 2], [0, 1]], [0], "shown_clusters must have shape (L, K) with L = len(clicked) = 1 and K >= 1, "
                            "got shape (2, 2)"),
    (np.zeros((2, 0), int), [-1, -1], "shown_clusters must have shape (L, K) with L = len(clicked) = 2 and "
                                      "K >= 1, got shape (2, 0)"),
])
@pytest.mark.parametrize("estimator", ["click_rate", "posterior"])
def test_history_statistics_checks_shapes(estimator, shown, clicked, message):
    """#17: a 0-d clicked gave "IndexError: tuple index out of range"; empty slates an IndexError."""
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        BL.history_statistics(estimator, np.asarray(shown), np.asarray(clicked), 20)


def test_validate_history_is_numpy_only_and_checks_the_history():
    """Layering: moved here from agents.reinforce so that LinUCBSlatePolicy.recommend needs no TensorFlow."""
    h = BL.validate_history(None, 5)
    assert h["shown_clusters"].shape == (0, 1) and h["clicked"].shape == (0,) and h["watch_time"].shape == (0,)
    h = BL.validate_history({"shown_clusters": [[0, 4]], "clicked": [1], "watch_time": [2.5]}, 5)
    assert h["shown_clusters"].dtype == np.int64 and h["clicked"].tolist() == [1] and h["watch_time"].tolist() == [2.5]
    message = "history['shown_clusters'] must be in [0, 5), got range [0, 5]"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        BL.validate_history({"shown_clusters": [[0, 5]], "clicked": [1], "watch_time": [2.5]}, 5)


def test_validate_history_rejects_steps_with_empty_slates():
    """An (L, 0) history with L >= 1 has steps that showed nothing; (0, 0) is an empty history."""
    message = "history['shown_clusters'] must have shape (L, K), got (2, 0)"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        BL.validate_history({"shown_clusters": np.zeros((2, 0), int), "clicked": [-1, -1],
                             "watch_time": [0.0, 0.0]}, 5)
    h = BL.validate_history({"shown_clusters": np.zeros((0, 0), int), "clicked": np.zeros(0, int),
                             "watch_time": np.zeros(0)}, 5)
    assert h["shown_clusters"].shape == (0, 0)

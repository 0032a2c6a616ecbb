"""Tests for rlrec_helpers._validate (the shared argument checkers) and the layer rule."""

from __future__ import annotations

import ast
import fractions
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rlrec_helpers._validate import (
    SUM_TOL, check_bool, check_choice, check_distribution, check_finite_array, check_int, check_probabilities, check_probability, check_real,
    describe_range, is_int, is_real,
)

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "rlrec_helpers"


# ----------------------------------------------------------------------------- check_int


@pytest.mark.parametrize("value", [0, 3, np.int64(3), np.int32(3), np.uint8(3), np.int8(-2)])
def test_check_int_accepts_python_and_numpy_integers_and_returns_int(value):
    out = check_int("n", value)
    assert out == value and type(out) is int


@pytest.mark.parametrize("value", [True, False, np.bool_(True), 2.0, np.float64(2.0), "2", None, [2],
                                   np.array(2), fractions.Fraction(2)])
def test_check_int_rejects_bools_floats_strings_and_arrays(value):
    with pytest.raises(ValueError, match=r"^n must be an integer, got "):
        check_int("n", value)


@pytest.mark.parametrize("value, lo, hi, message", [
    (1, 2, None, "n_boot must be an integer >= 2, got 1"),
    (11, 1, 10, "n_boot must be an integer in [1, 10], got 11"),
    (0, 1, 10, "n_boot must be an integer in [1, 10], got 0"),
    (6, None, 5, "n_boot must be an integer <= 5, got 6"),
    (np.int64(-1), 0, None, "n_boot must be an integer >= 0, got np.int64(-1)"),
    (True, 0, 1, "n_boot must be an integer in [0, 1], got True"),
])
def test_check_int_message_names_the_argument_and_the_range(value, lo, hi, message):
    with pytest.raises(ValueError) as err:
        check_int("n_boot", value, lo, hi)
    assert str(err.value) == message


def test_check_int_bounds_are_inclusive():
    assert check_int("k", 1, 1, 3) == 1 and check_int("k", 3, 1, 3) == 3
    with pytest.raises(ValueError, match=r"^k must be an integer in \[1, 3\], got 4$"):
        check_int("k", 4, 1, 3)


def test_check_int_names_a_bound_taken_from_another_argument():
    with pytest.raises(ValueError, match=r"^k must be an integer in \[1, N=10\], got 11$"):
        check_int("k", 11, 1, 10, hi_name="N")
    with pytest.raises(ValueError, match=r"^n_safe must be an integer in \[slate_size=3, n_candidates=10\], got 2$"):
        check_int("n_safe", 2, 3, 10, lo_name="slate_size", hi_name="n_candidates")


def test_check_int_allow_none():
    assert check_int("max_len", None, 1, allow_none=True) is None
    with pytest.raises(ValueError, match=r"^max_len must be None or an integer >= 1, got 0$"):
        check_int("max_len", 0, 1, allow_none=True)
    with pytest.raises(ValueError, match=r"^max_len must be an integer >= 1, got None$"):
        check_int("max_len", None, 1)


# ----------------------------------------------------------------------------- check_real


@pytest.mark.parametrize("value", [0, 2, 0.5, np.float32(0.5), np.float64(0.25), np.int64(1),
                                   fractions.Fraction(1, 4)])
def test_check_real_accepts_finite_reals_and_returns_float(value):
    out = check_real("x", value)
    assert out == float(value) and type(out) is float


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, np.float64("nan"), np.float32("inf"),
                                   True, np.bool_(False), "0.5", None, np.array(0.5), [0.5], 10**400,
                                   complex(1, 0)])
def test_check_real_rejects_nan_inf_bools_strings_and_arrays(value):
    with pytest.raises(ValueError, match=r"^x must be a finite number, got "):
        check_real("x", value)


@pytest.mark.parametrize("value, kwargs, ok", [
    (0.0, {}, True), (1.0, {}, True),
    (0.0, {"lo_open": True}, False), (1e-12, {"lo_open": True}, True),
    (1.0, {"hi_open": True}, False), (1 - 1e-12, {"hi_open": True}, True),
    (-1e-12, {}, False), (1 + 1e-12, {}, False),
])
def test_check_real_open_and_closed_ends(value, kwargs, ok):
    if ok:
        assert check_real("gamma", value, 0, 1, **kwargs) == value
    else:
        with pytest.raises(ValueError, match=r"^gamma must be a finite number in [\[(]0, 1[\])], got "):
            check_real("gamma", value, 0, 1, **kwargs)


@pytest.mark.parametrize("value, lo, hi, kwargs, message", [
    (1.5, 0, 1, {}, "gamma must be a finite number in [0, 1], got 1.5"),
    (0.0, 0, 1, {"lo_open": True}, "gamma must be a finite number in (0, 1], got 0.0"),
    (1.0, 0, 1, {"hi_open": True}, "gamma must be a finite number in [0, 1), got 1.0"),
    (0.0, 0, 1, {"lo_open": True, "hi_open": True}, "gamma must be a finite number in (0, 1), got 0.0"),
    (0.0, 0.0, None, {"lo_open": True}, "gamma must be a finite number > 0, got 0.0"),
    (-1.0, 0.0, None, {}, "gamma must be a finite number >= 0, got -1.0"),
    (2.0, None, 1.5, {"hi_open": True}, "gamma must be a finite number < 1.5, got 2.0"),
    (60.0, -50.0, 50.0, {}, "gamma must be a finite number in [-50, 50], got 60.0"),
    (math.nan, 0, 1, {}, "gamma must be a finite number in [0, 1], got nan"),
    (0.95, 0.0, 0.9, {"lo_open": True, "hi_name": "best"}, "gamma must be a finite number in (0, best=0.9], got 0.95"),
])
def test_check_real_message_names_the_argument_and_the_range(value, lo, hi, kwargs, message):
    with pytest.raises(ValueError) as err:
        check_real("gamma", value, lo, hi, **kwargs)
    assert str(err.value) == message


def test_check_real_infinite_bound_is_no_bound():
    assert check_real("x", 1e300, 0, math.inf, hi_open=True) == 1e300
    assert check_real("x", -1e300, -math.inf, 0, lo_open=True) == -1e300
    with pytest.raises(ValueError, match=r"^x must be a finite number >= 0, got -1$"):
        check_real("x", -1, 0, math.inf, hi_open=True)
    with pytest.raises(ValueError, match=r"^x must be a finite number, got inf$"):
        check_real("x", math.inf, -math.inf, math.inf)


def test_check_real_allow_none():
    assert check_real("weight", None, 0, allow_none=True) is None
    with pytest.raises(ValueError, match=r"^weight must be None or a finite number >= 0, got -1$"):
        check_real("weight", -1, 0, allow_none=True)
    with pytest.raises(ValueError, match=r"^weight must be a finite number >= 0, got None$"):
        check_real("weight", None, 0)


# ----------------------------------------------------------------------------- check_choice


def test_check_choice_returns_the_value_unchanged():
    assert check_choice("preset", "default", ("default", "costly_browsing")) == "default"
    assert check_choice("sim", 2, (1, 2)) == 2
    key = ("grpo", 0.1)
    assert check_choice("key", key, {key: None, ("reinforce", 0.1): None}) is key


def test_check_choice_message_names_the_argument_and_lists_the_options():
    with pytest.raises(ValueError) as err:
        check_choice("preset", "nope", ("default", "costly_browsing"))
    assert str(err.value) == "preset must be one of 'default', 'costly_browsing', got 'nope'"
    with pytest.raises(ValueError) as err:
        check_choice("sim", 3, (1, 2))
    assert str(err.value) == "sim must be one of 1, 2, got 3"
    with pytest.raises(ValueError) as err:
        check_choice("key", ("grpo", 0.5), {("grpo", 0.1): None})
    assert str(err.value) == "key must be one of ('grpo', 0.1), got ('grpo', 0.5)"


def test_check_choice_keeps_the_order_of_the_options_as_given():
    with pytest.raises(ValueError) as err:
        check_choice("baseline", "median", ("mean", "value", "none", "gae"))  # not sorted
    assert str(err.value) == "baseline must be one of 'mean', 'value', 'none', 'gae', got 'median'"
    with pytest.raises(ValueError) as err:  # a dict gives its keys in insertion order
        check_choice("user_model", "banking", {"zeta": 1, "alpha": 2, "mid": 3})
    assert str(err.value) == "user_model must be one of 'zeta', 'alpha', 'mid', got 'banking'"


def test_check_choice_accepts_any_iterable_of_options_even_a_one_shot_one():
    assert check_choice("rule", "trapezoid", (r for r in ("gauss", "trapezoid"))) == "trapezoid"
    with pytest.raises(ValueError, match=r"^rule must be one of 'gauss', 'trapezoid', got 'simpson'$"):
        check_choice("rule", "simpson", iter(["gauss", "trapezoid"]))
    with pytest.raises(ValueError, match=r"^key must be one of \(no options\), got 'a'$"):
        check_choice("key", "a", {})


@pytest.mark.parametrize("value", [["default"], {"default": 1}, {"default"}, np.array(["default"]),
                                   np.array("default")])
def test_check_choice_rejects_unhashable_values_with_a_value_error(value):
    for allowed in (("default", "costly_browsing"), {"default": 0, "costly_browsing": 1},
                    frozenset({"default", "costly_browsing"})):
        with pytest.raises(ValueError, match=r"^preset must be one of .*, got "):
            check_choice("preset", value, allowed)


def test_check_choice_accepts_numpy_strings_and_integers_equal_to_an_option():
    out = check_choice("preset", np.str_("default"), {"default": 0, "costly_browsing": 1})
    assert out == "default" and isinstance(out, np.str_)
    assert check_choice("sim", np.int64(1), (1, 2)) == 1
    with pytest.raises(ValueError, match=r"^preset must be one of 'default', got np\.str_\('nope'\)$"):
        check_choice("preset", np.str_("nope"), ("default",))
    with pytest.raises(ValueError, match=r"^preset must be one of 'default', got None$"):
        check_choice("preset", None, ("default",))


# ----------------------------------------------------------------- probabilities and helpers


def test_check_probability():
    assert check_probability("epsilon", 0) == 0.0 and check_probability("epsilon", np.float32(1.0)) == 1.0
    for bad in (-0.1, 1.1, math.nan, True, "0.5"):
        with pytest.raises(ValueError, match=r"^epsilon must be a finite number in \[0, 1\], got "):
            check_probability("epsilon", bad)


def test_check_probabilities():
    out = check_probabilities("probs", [0, 0.5, 1])
    assert out.dtype == np.float64 and out.tolist() == [0.0, 0.5, 1.0]
    assert check_probabilities("probs", np.full((2, 3), 0.2)).shape == (2, 3)
    for bad in ([0.5, 1.5], [-0.1], [np.nan], [np.inf]):
        with pytest.raises(ValueError, match=r"^probs must be probabilities in \[0, 1\], got "):
            check_probabilities("probs", bad)
    with pytest.raises(ValueError, match=r"^probs must not be empty"):
        check_probabilities("probs", [])


# ----------------------------------------------------------------------- check_distribution


def test_check_distribution_returns_a_float_array_of_the_same_shape():
    out = check_distribution("pi", [0, 1])
    assert out.dtype == np.float64 and out.tolist() == [0.0, 1.0]
    assert check_distribution("pi", np.array([[1, 0], [0, 1]])).dtype == np.float64  # integers
    d = np.full((2, 3, 4), 0.25)
    assert check_distribution("P", d) is d  # a float array is not copied
    assert check_distribution("P", d.transpose(0, 2, 1), axis=1).shape == (2, 4, 3)
    f32 = np.random.default_rng(0).dirichlet(np.ones(200), size=50).astype(np.float32)
    np.testing.assert_array_equal(check_distribution("probs", f32), f32.astype(float))  # float32 softmax rows


def test_sum_tol_is_the_one_shared_default():
    assert SUM_TOL == 1e-6
    from rlrec_helpers import mdp, policy_gradient
    assert mdp.ROW_SUM_TOL == policy_gradient.DISTRIBUTION_TOL == SUM_TOL  # documented aliases


@pytest.mark.parametrize("values, kwargs, message", [
    ([0.5, 0.4], {}, "mu must sum to 1 (within 1e-06), got a sum of 0.9"),
    ([[0.5, 0.5], [0.5, 0.4]], {}, "mu rows must sum to 1 (within 1e-06), got mu[1, :] summing to 0.9"),
    ([[0.5, 0.5], [0.5, 0.45], [0.5, 0.7]], {},  # the row furthest from 1, not the first bad one
     "mu rows must sum to 1 (within 1e-06), got mu[2, :] summing to 1.2"),
    ([[0.5, 0.5], [0.5, 0.7]], {"axis": 0}, "mu columns must sum to 1 (within 1e-06), got mu[:, 1] summing to 1.2"),
    ([[0.5, 0.5], [0.5, 0.7]], {"axis": -2}, "mu columns must sum to 1 (within 1e-06), got mu[:, 1] summing to 1.2"),
    (np.concatenate([np.full((2, 3, 1), 0.5), np.array([[[0.5], [0.5], [0.5]], [[0.5], [0.1], [0.5]]])], axis=2),
     {"axis": 2}, "mu slices along axis 2 must sum to 1 (within 1e-06), got mu[1, 1, :] summing to 0.6"),
    (np.full((2, 3, 2), 0.5), {"axis": 1},
     "mu slices along axis 1 must sum to 1 (within 1e-06), got mu[0, :, 0] summing to 1.5"),
    ([0.5, 1.5, -1.0], {}, "mu entries must be finite numbers >= 0, got mu[2] = -1.0"),
    ([[0.5, 0.5], [np.nan, 1.0]], {}, "mu entries must be finite numbers >= 0, got mu[1, 0] = nan"),
    ([[0.5, 0.5], [-np.inf, 1.0]], {}, "mu entries must be finite numbers >= 0, got mu[1, 0] = -inf"),
    ([0.0, 1.0], {"positive": True}, "mu entries must be finite numbers > 0, got mu[0] = 0.0"),
    ([[0.5, 0.5], [1.0, 0.0]], {"positive": True}, "mu entries must be finite numbers > 0, got mu[1, 1] = 0.0"),
    ([], {}, "mu must be a non-empty array with at least one axis, got shape (0,)"),
    (np.zeros((3, 0)), {}, "mu must be a non-empty array with at least one axis, got shape (3, 0)"),
    (1.0, {}, "mu must be a non-empty array with at least one axis, got shape ()"),
    ([0.5, 0.5], {"axis": 1}, "axis must be an integer in [-1, 0], got 1"),
    ([[0.5, 0.5]], {"axis": -3}, "axis must be an integer in [-2, 1], got -3"),
    ([0.5, 0.5], {"axis": True}, "axis must be an integer in [-1, 0], got True"),
    ([0.5, 0.5], {"tol": -1e-6}, "tol must be a finite number >= 0, got -1e-06"),
    ([0.5, 0.45], {"tol": 0.01}, "mu must sum to 1 (within 0.01), got a sum of 0.95"),
    (["a", "b"], {}, "mu must be an array of real numbers, got ['a', 'b']"),
    ([1 + 1j, 0.0], {}, "mu must be an array of real numbers, got [(1+1j), 0.0]"),
    ([[0.5, 0.5], [1.0]], {}, "mu must be an array of real numbers, got [[0.5, 0.5], [1.0]]"),
])
def test_check_distribution_messages(values, kwargs, message):
    with pytest.raises(ValueError) as err:
        check_distribution("mu", values, **kwargs)
    assert str(err.value) == message


def test_check_distribution_tolerance_boundary():
    # |sum - 1| <= SUM_TOL passes (just inside: 0.9e-6 off); just outside (1.1e-6 off) fails
    for ok in ([0.5, 0.5000009], [0.5, 0.4999991], [[0.5, 0.5], [0.5, 0.5000009]]):
        check_distribution("pi", ok)
    for bad, total in (([0.5, 0.5000011], "1.0000011"), ([0.5, 0.4999989], "0.9999989")):
        with pytest.raises(ValueError) as err:
            check_distribution("pi", bad)
        assert str(err.value) == f"pi must sum to 1 (within 1e-06), got a sum of {total}"
    # a tolerance of 0 accepts only exact sums; a looser one is named in the message
    check_distribution("pi", [0.25, 0.75], tol=0)
    with pytest.raises(ValueError, match=r"^pi must sum to 1 \(within 0\), got a sum of 0\.9999999999999999$"):
        check_distribution("pi", [0.7, 0.2, 0.1], tol=0)
    assert check_distribution("pi", [0.5, 0.45], tol=0.1).sum() == 0.95


def test_check_distribution_positive_accepts_strictly_positive_entries_only():
    assert check_distribution("behavior", [0.25, 0.75], positive=True).tolist() == [0.25, 0.75]
    check_distribution("behavior", [0.0, 1.0])  # a zero is fine without positive
    with pytest.raises(ValueError, match=r"^behavior entries must be finite numbers > 0, got behavior\[1\] = -0\.5$"):
        check_distribution("behavior", [1.5, -0.5], positive=True)


def test_is_int_and_is_real():
    assert is_int(3) and is_int(np.int16(3)) and not is_int(True) and not is_int(3.0)
    assert is_real(3) and is_real(np.float32(0.5)) and not is_real(True) and not is_real(math.nan)
    assert not is_real("1") and not is_real(np.array(1.0)) and not is_real(10**400)


def test_describe_range():
    assert describe_range() == ""
    assert describe_range(0, 1, hi_open=True) == " in [0, 1)"
    assert describe_range(2) == " >= 2" and describe_range(0.0, lo_open=True) == " > 0"
    assert describe_range(None, 5) == " <= 5" and describe_range(-math.inf, math.inf) == ""
    assert describe_range(0.5, 2.5) == " in [0.5, 2.5]"


# ----------------------------------------------------------------------------- layering

#: Modules of the numpy/pandas layer (CONTRIBUTING.md): never TensorFlow, agents, plotting or widgets.
NUMPY_LAYER = ("_validate", "mdp", "bandits", "policy_gradient", "simulator", "ope", "data", "stats")
FORBIDDEN = ("tensorflow", "keras", "matplotlib", "seaborn", "ipywidgets", "IPython",
             "rlrec_helpers.agents", "rlrec_helpers.plotting", "rlrec_helpers.widgets")


def imported_modules(source: str) -> set[str]:
    """Every module imported anywhere in ``source`` (top level or inside functions)."""
    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                out.add("rlrec_helpers." + "." * (node.level - 1) + (node.module or ""))
            else:
                out.add(node.module or "")
            if node.module in ("rlrec_helpers", "rlrec_helpers.agents") and node.level == 0:
                out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def forbidden_imports(source: str, forbidden=FORBIDDEN) -> list[str]:
    return sorted(m for m in imported_modules(source)
                  if any(m == f or m.startswith(f + ".") for f in forbidden))


def test_forbidden_imports_detects_a_violation():
    assert forbidden_imports("import numpy as np\nfrom rlrec_helpers.stats import mean_ci\n") == []
    assert forbidden_imports("def f():\n    import tensorflow as tf\n") == ["tensorflow"]
    assert forbidden_imports("from rlrec_helpers.agents import reinforce\n") == [
        "rlrec_helpers.agents", "rlrec_helpers.agents.reinforce"]
    assert forbidden_imports("from rlrec_helpers import plotting\n") == ["rlrec_helpers.plotting"]


@pytest.mark.parametrize("module", NUMPY_LAYER)
def test_numpy_layer_modules_never_import_tensorflow_agents_or_drawing(module):
    bad = forbidden_imports((PKG / f"{module}.py").read_text())
    assert not bad, f"rlrec_helpers/{module}.py imports {bad}"


DRAWING = ("matplotlib", "seaborn", "ipywidgets", "rlrec_helpers.plotting", "rlrec_helpers.widgets")


@pytest.mark.parametrize("path", sorted(p.name for p in (PKG / "agents").glob("*.py")))
def test_agents_never_draw(path):
    """Only plotting and widgets draw: training returns histories, never figures."""
    bad = forbidden_imports((PKG / "agents" / path).read_text(), DRAWING)
    assert not bad, f"rlrec_helpers/agents/{path} imports {bad}"


def test_drawing_detector_catches_an_agent_that_plots():
    assert forbidden_imports("def plot(h):\n    import matplotlib.pyplot as plt\n", DRAWING) == ["matplotlib.pyplot"]
    assert forbidden_imports("from rlrec_helpers import plotting as P\n", DRAWING) == ["rlrec_helpers.plotting"]


def test_validate_imports_only_numpy_and_the_standard_library():
    mods = {m.split(".")[0] for m in imported_modules((PKG / "_validate.py").read_text())}
    third_party = {m for m in mods if m not in sys.stdlib_module_names and m != "__future__"}
    assert third_party == {"numpy"}, third_party


def test_importing_validate_loads_no_heavy_module():
    code = ("import sys, rlrec_helpers._validate\n"
            "heavy = ['tensorflow', 'keras', 'pandas', 'matplotlib', 'rlrec_helpers.stats',\n"
            "         'rlrec_helpers.simulator', 'rlrec_helpers.agents']\n"
            "print([m for m in heavy if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


# ------------------------------------------------------------- no new inline copies of the checks

#: The idiom the shared checkers replace: ``isinstance(x, bool) or not isinstance(x, (int, ...``
_INLINE_INT_CHECK = re.compile(r"isinstance\([^()]+,\s*\(?bool[^)]*\)\)?\s+or\s+not\s+isinstance\(")


def test_inline_check_pattern_detects_the_idiom():
    assert _INLINE_INT_CHECK.search("if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:")
    assert _INLINE_INT_CHECK.search("if isinstance(c, (bool, np.bool_)) or not isinstance(c, (int, np.integer)):")
    assert not _INLINE_INT_CHECK.search('check_int("k", k, 1)')


def _package_sources() -> list[tuple[str, str]]:
    """``(path relative to the repo, text)`` of every module of rlrec_helpers but ``_validate.py``."""
    return [(str(p.relative_to(ROOT)), p.read_text()) for p in sorted(PKG.rglob("*.py")) if p.name != "_validate.py"]


def _package_lines_matching(pattern: re.Pattern) -> list[str]:
    """``file:line`` of every line of rlrec_helpers (``_validate.py`` aside) that ``pattern`` matches."""
    return [f"{path}:{i}" for path, text in _package_sources()
            for i, line in enumerate(text.splitlines(), 1) if pattern.search(line)]


def test_no_module_repeats_the_inline_integer_check():
    hits = _package_lines_matching(_INLINE_INT_CHECK)
    assert not hits, "use rlrec_helpers._validate.check_int / check_real instead: " + ", ".join(hits)


#: A membership check written out by hand: ``raise ValueError(f"x must be one of {...}, got ...")``.
_INLINE_CHOICE_CHECK = re.compile(r"""raise\s+ValueError\(\s*f?["'][^"']*must be one of""")


def test_inline_choice_pattern_detects_the_idiom():
    assert _INLINE_CHOICE_CHECK.search('raise ValueError(f"rule must be one of {RULES}, got {rule!r}")')
    assert _INLINE_CHOICE_CHECK.search("raise ValueError(f'{name} must be one of {list(allowed)}, got {value!r}')")
    assert not _INLINE_CHOICE_CHECK.search('check_choice("rule", rule, RULES)')


def test_no_module_repeats_the_inline_choice_check():
    hits = _package_lines_matching(_INLINE_CHOICE_CHECK)
    assert not hits, "use rlrec_helpers._validate.check_choice instead: " + ", ".join(hits)


# ------------------------------------------------- no new hand-written "sums to 1" checks

_ABS_CALLS = {"abs", "np.abs", "numpy.abs", "np.absolute", "numpy.absolute", "math.fabs"}
_SUM_CALLS = {"sum", "fsum", "nansum"}  # x.sum(...), np.sum(...), sum(...), math.fsum(...)


def _dotted(node: ast.AST) -> str:
    """``"np.abs"`` for ``np.abs``, ``"abs"`` for ``abs``, ``""`` for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else node.attr
    return ""


def _is_one(node: ast.AST) -> bool:
    return (isinstance(node, ast.Constant) and not isinstance(node.value, bool)
            and isinstance(node.value, (int, float)) and node.value == 1)


def _mentions_sum(node: ast.AST, sum_names: set[str]) -> bool:
    """A sum call in ``node``, or a name bound to one (``sums = d.sum(axis=1)``)."""
    return any((isinstance(n, ast.Call) and _dotted(n.func).rpartition(".")[2] in _SUM_CALLS)
               or (isinstance(n, ast.Name) and n.id in sum_names) for n in ast.walk(node))


def hand_written_sum_checks(source: str) -> list[int]:
    """Lines of ``source`` that test "sums to 1" by hand: ``abs(S - 1)`` (or ``np.abs(1.0 - S)``,
    compared or not) and ``np.isclose``/``np.allclose``/``math.isclose(S, 1)``, where ``S`` holds
    a sum (``x.sum(...)``, ``np.sum``, ``sum``, ``math.fsum``) or a name assigned from one."""
    tree = ast.parse(source)
    sum_names = {t.id for n in ast.walk(tree) if isinstance(n, (ast.Assign, ast.AnnAssign, ast.AugAssign))
                 and n.value is not None and _mentions_sum(n.value, set())
                 for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)}
    hits = set()
    for n in ast.walk(tree):
        if not isinstance(n, ast.Call):
            continue
        name, args = _dotted(n.func), n.args
        if name in _ABS_CALLS and len(args) == 1 and isinstance(args[0], ast.BinOp) \
                and isinstance(args[0].op, (ast.Sub, ast.Add)):
            left, right = args[0].left, args[0].right
            if (_is_one(right) and _mentions_sum(left, sum_names)) \
                    or (_is_one(left) and _mentions_sum(right, sum_names)):
                hits.add(n.lineno)
        elif name.rpartition(".")[2] in ("isclose", "allclose") and len(args) >= 2 \
                and any(_is_one(a) for a in args[:2]) and any(_mentions_sum(a, sum_names) for a in args[:2]):
            hits.add(n.lineno)
    return sorted(hits)


#: The hand-written checks check_distribution replaced, verbatim, and look-alikes that are fine.
_REPLACED_SUM_CHECKS = [
    "if np.any(behavior <= 0) or abs(behavior.sum() - 1) > _SUM_TOL:\n    raise ValueError('x')",
    "if abs(sum(self.class_probs) - 1.0) > 1e-9:\n    pass",
    "sums = d.sum(axis=1)\nif np.any(np.abs(sums - 1.0) > _SUM_TOL):\n    pass",
    "if np.any(np.abs(pi.sum(axis=1) - 1.0) > ROW_SUM_TOL):\n    pass",
    "total = p.sum(axis=axis)\nif np.any(np.abs(total - 1.0) > DISTRIBUTION_TOL):\n    pass",
    "if not np.all(np.isfinite(d)) or np.any(d < 0) or abs(d.sum() - 1.0) > 1e-8:\n    pass",
    "if a.min() < 0 or abs(a.sum() - 1.0) > 1e-6:\n    pass",
    "if abs(arr.sum() - 1.0) > ROW_SUM_TOL:\n    pass",
    "off = np.abs(1 - np.sum(p, axis=0))\nok = off <= tol",  # split over two statements
    "assert np.allclose(p.sum(axis=-1), 1.0)",
    "if not math.isclose(math.fsum(w), 1, abs_tol=1e-9):\n    pass",
]
_FINE = [
    "check_distribution('behavior', behavior, positive=True)",
    "last = int(active[u].sum()) - 1",
    "if abs(gamma - 1.0) < 1e-12:\n    pass",  # not a sum
    "return e / e.sum(axis=-1, keepdims=True)",
    "if np.allclose(new, theta, rtol=0, atol=1e-12):\n    pass",
    "if abs(x.sum() - 2) > tol:\n    pass",  # not a sum-to-1 check
]


@pytest.mark.parametrize("source", _REPLACED_SUM_CHECKS)
def test_sum_check_detector_catches_every_replaced_form(source):
    assert hand_written_sum_checks(source), source


@pytest.mark.parametrize("source", _FINE)
def test_sum_check_detector_leaves_other_code_alone(source):
    assert hand_written_sum_checks(source) == [], source


def test_sum_check_detector_reports_the_line():
    src = "import numpy as np\n\n\ndef f(p):\n    if abs(p.sum() - 1) > 1e-6:\n        raise ValueError('p')\n"
    assert hand_written_sum_checks(src) == [5]


def test_no_module_repeats_a_hand_written_sum_to_one_check():
    hits = [f"{path}:{line}" for path, text in _package_sources() for line in hand_written_sum_checks(text)]
    assert not hits, "use rlrec_helpers._validate.check_distribution instead: " + ", ".join(hits)


@pytest.mark.parametrize("values, kwargs, message", [
    (["a", "b"], {}, "V must be an array of real numbers, got ['a', 'b']"),
    (["1", "2"], {}, "V must be an array of real numbers, got ['1', '2']"),
    ([1 + 2j], {}, "V must be an array of real numbers, got [(1+2j)]"),
    ([[1.0], [1.0, 2.0]], {}, "V must be an array of real numbers, got [[1.0], [1.0, 2.0]]"),
    ([1.0, 2.0], {"shape": (4,)}, "V must have shape (4,), got shape (2,)"),
    (np.zeros((2, 3)), {"shape": (None, 4)}, "V must have shape (any, 4), got shape (2, 3)"),
    (np.zeros(3), {"shape": (None, 3)}, "V must have shape (any, 3), got shape (3,)"),
    ([1.0, 2.0, 3.0], {"ndim": 2}, "V must have 2 axes, got shape (3,)"),
    ([], {}, "V must not be empty, got shape (0,)"),
    (np.zeros((0, 3)), {"shape": (None, 3)}, "V must not be empty, got shape (0, 3)"),
    ([0.0, np.nan], {}, "V entries must be finite numbers, got V[1] = nan"),
    ([[0.0, 1.0], [-np.inf, 2.0]], {}, "V entries must be finite numbers, got V[1, 0] = -inf"),
    (np.inf, {}, "V entries must be finite numbers, got V = inf"),
])
def test_check_finite_array_names_the_argument_and_the_rule(values, kwargs, message):
    with pytest.raises(ValueError) as err:
        check_finite_array("V", values, **kwargs)
    assert str(err.value) == message


def test_check_finite_array_returns_a_float_array_of_the_input():
    out = check_finite_array("V", [[1, 2], [3, 4]], shape=(None, 2))
    assert out.dtype == float and out.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert check_finite_array("V", [True, False], ndim=1).tolist() == [1.0, 0.0]
    assert check_finite_array("V", 2.5).shape == ()


def test_check_finite_array_minus_inf_and_object_arrays():
    assert check_finite_array("Q", [[0.0, -np.inf]], allow_neg_inf=True)[0, 1] == -np.inf
    with pytest.raises(ValueError, match=re.escape("Q entries must be finite numbers or -inf, got Q[0, 1] = inf")):
        check_finite_array("Q", [[0.0, np.inf]], allow_neg_inf=True)
    with pytest.raises(ValueError, match=re.escape("Q entries must be finite numbers, got Q[0, 1] = -inf")):
        check_finite_array("Q", [[0.0, -np.inf]])
    assert check_finite_array("V", np.array([1, 2.5], dtype=object)).tolist() == [1.0, 2.5]   # numbers in an object array
    with pytest.raises(ValueError, match="V must be an array of real numbers"):
        check_finite_array("V", np.array([1, "2"], dtype=object))


@pytest.mark.parametrize("value", ["False", 0, 1, None, 0.0])
def test_check_bool_refuses_anything_but_a_bool(value):
    with pytest.raises(ValueError) as err:
        check_bool("flag", value)
    assert str(err.value) == f"flag must be a bool, got {value!r}"


def test_check_bool_accepts_python_and_numpy_bools():
    assert check_bool("flag", True) is True and check_bool("flag", np.bool_(False)) is False

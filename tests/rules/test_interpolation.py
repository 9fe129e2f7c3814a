"""Letter cutoffs, interpolation and the bonus (POLICY.md section 4)."""
import pytest

from podium.rules import Cutoffs, Points, base, bonus, cutoffs_problem
from tests.rules.helpers import POLICY_CUTOFFS

NO_F = Cutoffs(A=0.80, B=0.70, C=0.60, D=0.50)
EDIT_DISTANCE = Cutoffs(A=10, B=15, C=20, D=30, F=50)


@pytest.mark.parametrize("x, points", [(0.95, 100), (0.80, 100), (0.70, 80), (0.60, 60), (0.50, 40), (0.10, 0)])
def test_each_cutoff_is_worth_its_points(x, points):
    assert base(x, POLICY_CUTOFFS, True) == pytest.approx(points)


def test_halfway_between_cutoffs_is_halfway_between_points():
    assert base(0.65, POLICY_CUTOFFS, True) == pytest.approx(70)
    assert base(0.55, POLICY_CUTOFFS, True) == pytest.approx(50)


def test_without_f_anything_worse_than_d_is_zero():
    assert base(0.4999, NO_F, True) == 0
    assert base(0.50, NO_F, True) == 40


def test_lower_is_better_runs_the_other_way():
    assert base(5, EDIT_DISTANCE, False) == 100
    assert base(10, EDIT_DISTANCE, False) == 100
    assert base(25, EDIT_DISTANCE, False) == pytest.approx(50)
    assert base(40, EDIT_DISTANCE, False) == pytest.approx(20)
    assert base(50, EDIT_DISTANCE, False) == 0
    assert base(80, EDIT_DISTANCE, False) == 0


def test_course_points_override_the_letter_values():
    generous = Cutoffs(A=0.8, B=0.7, C=0.6, D=0.5, points=Points(A=100, B=85, C=70, D=55, F=0))
    assert base(0.75, generous, True) == pytest.approx(92.5)
    assert base(0.50, generous, True) == 55


def test_beyond_the_last_cutoff_gets_the_f_points():
    passing_floor = Cutoffs(A=0.8, B=0.7, C=0.6, D=0.5, F=0.1, points=Points(F=10))
    assert base(0.0, passing_floor, True) == 10
    assert base(0.3, passing_floor, True) == pytest.approx(25)


def test_bonus_is_zero_at_or_below_a():
    assert bonus(0.80, POLICY_CUTOFFS, best=0.90, bmax=5, higher_is_better=True) == 0
    assert bonus(0.75, POLICY_CUTOFFS, best=0.90, bmax=5, higher_is_better=True) == 0


def test_bonus_reaches_bmax_at_the_class_best():
    assert bonus(0.90, POLICY_CUTOFFS, best=0.90, bmax=5, higher_is_better=True) == 5
    assert bonus(0.85, POLICY_CUTOFFS, best=0.90, bmax=5, higher_is_better=True) == pytest.approx(2.5)


def test_bonus_for_lower_is_better():
    assert bonus(8, EDIT_DISTANCE, best=6, bmax=5, higher_is_better=False) == pytest.approx(2.5)
    assert bonus(6, EDIT_DISTANCE, best=6, bmax=5, higher_is_better=False) == 5


def test_class_best_exactly_at_a_gives_no_bonus_and_no_division_by_zero():
    # Nobody is beyond cA, so nobody has a bonus: the formula's "0 otherwise" applies.
    assert bonus(0.80, POLICY_CUTOFFS, best=0.80, bmax=5, higher_is_better=True) == 0


def test_score_beyond_an_inconsistent_best_is_capped_at_bmax():
    assert bonus(0.95, POLICY_CUTOFFS, best=0.90, bmax=5, higher_is_better=True) == 5
    assert bonus(0.95, POLICY_CUTOFFS, best=0.80, bmax=5, higher_is_better=True) == 5


def test_ordered_cutoffs_have_no_problem():
    assert cutoffs_problem({"A": 0.8, "B": 0.7, "C": 0.6, "D": 0.5, "F": 0.1}, True) is None
    assert cutoffs_problem({"A": 10, "B": 15, "C": 20, "D": 30}, False) is None
    assert cutoffs_problem(POLICY_CUTOFFS, True) is None


def test_cutoff_out_of_order_is_named():
    problem = cutoffs_problem({"A": 0.8, "B": 0.85, "C": 0.6, "D": 0.5}, True)
    assert problem.startswith("cutoff B = 0.85 must be below A = 0.8")


def test_lower_is_better_cutoffs_must_increase():
    problem = cutoffs_problem({"A": 0.8, "B": 0.7, "C": 0.6, "D": 0.5}, False)
    assert problem.startswith("cutoff B = 0.7 must be above A = 0.8")


def test_f_must_be_worse_than_d():
    assert "cutoff F" in cutoffs_problem({"A": 0.8, "B": 0.7, "C": 0.6, "D": 0.5, "F": 0.55}, True)


def test_equal_neighbours_are_refused_unless_not_strict():
    tied = {"A": 0.8, "B": 0.7, "C": 0.7, "D": 0.5}
    assert "cutoff C" in cutoffs_problem(tied, True)
    assert cutoffs_problem(tied, True, strict=False) is None


@pytest.mark.parametrize("given, words", [
    ({"A": 0.8, "B": 0.7, "C": 0.6}, "cutoff D is missing"),
    ({"A": 0.8, "B": 0.7, "C": 0.6, "D": 0.5, "E": 0.4}, "unknown cutoff 'E'"),
    ({"A": "0.8", "B": 0.7, "C": 0.6, "D": 0.5}, "cutoff A = '0.8' is not a finite number"),
    ({"A": float("nan"), "B": 0.7, "C": 0.6, "D": 0.5}, "cutoff A = nan is not a finite number"),
    ({"A": True, "B": 0.7, "C": 0.6, "D": 0.5}, "cutoff A = True is not a finite number"),
])
def test_malformed_cutoffs_are_explained(given, words):
    assert words in cutoffs_problem(given, True)


def test_points_must_not_increase():
    with pytest.raises(ValueError, match="must not increase"):
        Points(A=100, B=80, C=90, D=40, F=0)
    with pytest.raises(ValueError, match="unknown letter"):
        Points.from_mapping({"E": 20})
    assert Points.from_mapping({"B": 85}) == Points(A=100, B=85, C=60, D=40, F=0)

"""Instructors' Kaggle-style metric.py files, loaded unchanged."""
import math
import textwrap

import pandas as pd
import pytest

import scorers
from scorers import FrameScorer, ParticipantVisibleError, ScorerError
from scorers.kaggle import is_participant_visible, load_custom, run_frame_scorer

# Written as Kaggle publishes metrics: its own ParticipantVisibleError, and it deletes the id column.
KAGGLE_METRIC = '''
"""Mean absolute error in whole days, rounded predictions."""
import numpy as np
import pandas as pd
import pandas.api.types


class ParticipantVisibleError(Exception):
    pass


def score(solution: pd.DataFrame, submission: pd.DataFrame, row_id_column_name: str) -> float:
    """Round each prediction to whole days, then average the absolute errors."""
    del solution[row_id_column_name]
    del submission[row_id_column_name]
    if not pandas.api.types.is_numeric_dtype(submission["days"]):
        raise ParticipantVisibleError("The days column must hold numbers.")
    return float(np.mean(np.abs(np.round(submission["days"].to_numpy()) - solution["days"].to_numpy())))
'''


def write_metric(folder, source: str, filename: str = "metric.py"):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    path.write_text(textwrap.dedent(source))
    return path


def frames(predictions):
    solution = pd.DataFrame({"id": [1, 2, 3], "days": [10.0, 20.0, 30.0]})
    submission = pd.DataFrame({"id": [1, 2, 3], "days": predictions})
    return solution, submission


def test_a_kaggle_metric_file_scores_unchanged(tmp_path):
    scorer = load_custom(write_metric(tmp_path / "delivery", KAGGLE_METRIC), higher_is_better=False)
    solution, submission = frames([10.4, 22.0, 29.0])
    assert isinstance(scorer, FrameScorer)
    assert run_frame_scorer(scorer, solution, submission, "id") == pytest.approx((0 + 2 + 1) / 3)
    assert scorer.better(0.5, 1.0)


def test_the_metric_cannot_change_the_engines_frames(tmp_path):
    scorer = load_custom(write_metric(tmp_path / "delivery", KAGGLE_METRIC), higher_is_better=False)
    solution, submission = frames([10.0, 20.0, 30.0])
    run_frame_scorer(scorer, solution, submission, "id")
    assert list(solution.columns) == ["id", "days"]
    assert list(submission.columns) == ["id", "days"]


def test_the_metrics_own_participant_visible_error_reaches_the_student(tmp_path):
    scorer = load_custom(write_metric(tmp_path / "delivery", KAGGLE_METRIC), higher_is_better=False)
    solution, submission = frames(["ten", "twenty", "thirty"])
    with pytest.raises(Exception, match="must hold numbers") as error:
        run_frame_scorer(scorer, solution, submission, "id")
    assert type(error.value).__name__ == "ParticipantVisibleError"
    assert type(error.value) is not ParticipantVisibleError  # the file's own class, not ours
    assert is_participant_visible(error.value)


def test_name_and_description_default_from_the_file(tmp_path):
    scorer = load_custom(write_metric(tmp_path / "delivery", KAGGLE_METRIC), higher_is_better=False)
    assert scorer.name == "delivery/metric"
    assert scorer.description == "Mean absolute error in whole days, rounded predictions."
    assert load_custom(tmp_path / "delivery" / "metric.py", False, name="days_off").name == "days_off"


def test_two_competitions_metric_files_do_not_collide(tmp_path):
    first = load_custom(write_metric(tmp_path / "a", "def score(s, p, i):\n    return 1.0\n"), True)
    second = load_custom(write_metric(tmp_path / "b", "def score(s, p, i):\n    return 2.0\n"), True)
    solution, submission = frames([1.0, 2.0, 3.0])
    assert run_frame_scorer(first, solution, submission, "id") == 1.0
    assert run_frame_scorer(second, solution, submission, "id") == 2.0
    assert first.fn.__module__ != second.fn.__module__


def test_reloading_an_edited_file_uses_the_new_code(tmp_path):
    path = write_metric(tmp_path / "a", "def score(s, p, i):\n    return 1.0\n")
    before = load_custom(path, True)
    path.write_text("def score(s, p, i):\n    return 3.0\n")
    after = load_custom(path, True)
    solution, submission = frames([1.0, 2.0, 3.0])
    assert run_frame_scorer(before, solution, submission, "id") == 1.0
    assert run_frame_scorer(after, solution, submission, "id") == 3.0


def test_a_metric_file_may_use_dataclasses_which_look_up_their_module(tmp_path):
    source = """
    from dataclasses import dataclass

    @dataclass
    class Weights:
        early: float = 1.0

    def score(solution, submission, row_id_column_name):
        return Weights().early
    """
    scorer = load_custom(write_metric(tmp_path / "a", source), True)
    assert run_frame_scorer(scorer, *frames([1.0, 2.0, 3.0]), "id") == 1.0


# --- files that cannot be used ---------------------------------------------------------------


def test_a_syntax_error_names_the_file_and_line(tmp_path):
    path = write_metric(tmp_path / "broken", "import numpy\n\ndef score(solution, submission, row_id_column_name)\n    return 1.0\n")
    with pytest.raises(ScorerError) as error:
        load_custom(path, True)
    assert str(path) in str(error.value)
    assert "syntax error on line 3" in str(error.value)


def test_a_file_without_score_says_what_to_define(tmp_path):
    path = write_metric(tmp_path / "noscore", "def metric(solution, submission, row_id_column_name):\n    return 1.0\n")
    with pytest.raises(ScorerError, match=r"no function score\(solution, submission, row_id_column_name\)") as error:
        load_custom(path, True)
    assert str(path) in str(error.value)


def test_a_score_taking_the_wrong_arguments_is_refused_at_load(tmp_path):
    path = write_metric(tmp_path / "arity", "def score(solution, submission):\n    return 1.0\n")
    with pytest.raises(ScorerError, match="row_id_column_name"):
        load_custom(path, True)


def test_a_file_importing_a_missing_package_says_so(tmp_path):
    path = write_metric(tmp_path / "imports", "import kaggle_metric_utilities\n\ndef score(s, p, i):\n    return 1.0\n")
    with pytest.raises(ScorerError, match="kaggle_metric_utilities"):
        load_custom(path, True)


def test_a_missing_file_is_a_scorer_error(tmp_path):
    with pytest.raises(ScorerError, match="no metric file"):
        load_custom(tmp_path / "nowhere" / "metric.py", True)


# --- results and errors while scoring --------------------------------------------------------


@pytest.mark.parametrize("returned, shown", [
    ("float('nan')", "returned nan"),
    ("float('inf')", "returned inf"),
    ("'0.9'", "returned '0.9'"),
    ("None", "returned None"),
    ("True", "returned True"),
])
def test_a_result_that_is_not_a_finite_number_is_the_metrics_fault(tmp_path, returned, shown):
    scorer = load_custom(write_metric(tmp_path / "bad", f"def score(s, p, i):\n    return {returned}\n"), True)
    with pytest.raises(ScorerError, match=f"the metric 'bad/metric' {shown}"):
        run_frame_scorer(scorer, *frames([1.0, 2.0, 3.0]), "id")


def test_numpy_numbers_are_accepted_as_results(tmp_path):
    source = "import numpy as np\n\ndef score(s, p, i):\n    return np.float32(0.5)\n"
    scorer = load_custom(write_metric(tmp_path / "np", source), True)
    assert run_frame_scorer(scorer, *frames([1.0, 2.0, 3.0]), "id") == 0.5


def test_an_unexpected_exception_in_the_metric_becomes_a_scorer_error(tmp_path):
    source = "def score(solution, submission, row_id_column_name):\n    return solution['no_such_column'].sum()\n"
    scorer = load_custom(write_metric(tmp_path / "keyerror", source), True)
    with pytest.raises(ScorerError, match="raised KeyError") as error:
        run_frame_scorer(scorer, *frames([1.0, 2.0, 3.0]), "id")
    assert isinstance(error.value.__cause__, KeyError)
    assert not is_participant_visible(error.value)


def test_our_own_participant_visible_error_passes_through(tmp_path):
    source = """
    from scorers import ParticipantVisibleError

    def score(solution, submission, row_id_column_name):
        raise ParticipantVisibleError("Submit one row per id.")
    """
    scorer = load_custom(write_metric(tmp_path / "ours", source), True)
    with pytest.raises(ParticipantVisibleError, match="one row per id"):
        run_frame_scorer(scorer, *frames([1.0, 2.0, 3.0]), "id")


def test_participant_visible_errors_are_recognised_by_class_name():
    class ParticipantVisibleError(Exception):  # as a Kaggle metric file defines it
        pass

    class TooFewRows(ParticipantVisibleError):
        pass

    assert is_participant_visible(ParticipantVisibleError("x"))
    assert is_participant_visible(TooFewRows("x"))
    assert is_participant_visible(scorers.ParticipantVisibleError("x"))
    assert not is_participant_visible(ValueError("x"))
    assert not is_participant_visible(ScorerError("x"))


def test_run_frame_scorer_returns_a_plain_float(tmp_path):
    scorer = load_custom(write_metric(tmp_path / "int", "def score(s, p, i):\n    return 1\n"), True)
    result = run_frame_scorer(scorer, *frames([1.0, 2.0, 3.0]), "id")
    assert type(result) is float and not math.isnan(result)

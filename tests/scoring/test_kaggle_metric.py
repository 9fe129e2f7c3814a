"""An instructor's Kaggle-style metric.py, loaded unchanged, scores through the same pipeline."""
from __future__ import annotations

import pandas as pd
import pytest

from podium.scoring import compile_solution, score_upload
from scorers.kaggle import load_custom
from tests.scoring.conftest import Competition

METRIC = '''
"""Accuracy, Kaggle style, with checks a student can read."""
import pandas as pd
import pandas.api.types


class ParticipantVisibleError(Exception):
    pass


SEEN = []


def score(solution: pd.DataFrame, submission: pd.DataFrame, row_id_column_name: str) -> float:
    SEEN.append((solution.copy(), submission.copy()))
    del solution[row_id_column_name]
    del submission[row_id_column_name]
    if submission["label"].isna().any():
        raise ParticipantVisibleError("Every row needs a label.")
    if not pandas.api.types.is_integer_dtype(submission["label"]):
        raise ParticipantVisibleError(f"Labels must be integers, got {submission['label'].dtype}.")
    if (submission["label"] == 99).any():
        raise KeyError("label 99")
    return float((solution["label"].to_numpy() == submission["label"].to_numpy()).mean())
'''

SOLUTION = "id,label,Usage\n1,0,Public\n2,1,Private\n3,1,Public\n4,0,Private\n5,2,Ignored\n"


@pytest.fixture
def custom(tmp_path) -> Competition:
    metric = tmp_path / "metric.py"
    metric.write_text(METRIC)
    return Competition(tmp_path / "competition", SOLUTION, load_custom(metric, higher_is_better=True))


def seen(competition: Competition) -> list:
    return competition.scorer.fn.__globals__["SEEN"]


def test_custom_metric_scores_public_and_private(custom):
    result = custom.score("id,label\n5,7\n4,0\n3,0\n2,1\n1,0\n")
    assert (result.public, result.private) == (0.5, 1.0)
    solution, submission = seen(custom)[0]
    assert list(solution.columns) == list(submission.columns) == ["id", "label"]
    assert solution["id"].tolist() == submission["id"].tolist() == [1, 3]  # aligned rows, Public only
    assert str(submission["id"].dtype) == "int64" and str(submission["label"].dtype) == "int64"


def test_metric_deleting_columns_does_not_harm_the_next_scoring(custom):
    first = custom.score("id,label\n1,0\n2,1\n3,1\n4,0\n5,2\n")
    second = custom.score("id,label\n1,0\n2,1\n3,1\n4,0\n5,2\n")
    assert (first.public, first.private) == (second.public, second.private) == (1.0, 1.0)


def test_participant_visible_error_reaches_the_student(custom):
    error = custom.error("id,label\n1,0\n2,1\n3,1.5\n4,0\n5,2\n")
    assert error.message == "Labels must be integers, got float64."
    assert error.code == "metric_refused"


def test_empty_values_reach_the_metric_as_nan(custom):
    error = custom.error("id,label\n1,0\n2,1\n3,\n4,NA\n5,2\n")
    assert error.message == "Every row needs a label."


def test_other_exception_becomes_a_message(custom):
    error = custom.error("id,label\n1,99\n2,1\n3,1\n4,0\n5,2\n")
    assert error.message == "The competition's metric failed on this file: KeyError: 'label 99'"
    assert error.code == "metric_failed"


def test_ids_and_header_are_still_checked_before_the_metric(custom):
    assert custom.error("id,label\n1,0\n2,1\n3,1\n4,0\n").message == (
        "The file has 4 rows for the competition's 5 ids. 1 id of the competition is missing from the file, "
        "e.g. `5`.")
    assert seen(custom) == []


def test_frames_are_typed_as_read_csv_types_them(tmp_path):
    metric = tmp_path / "metric.py"
    metric.write_text(
        "def score(solution, submission, row_id_column_name):\n"
        "    global FRAMES\n"
        "    FRAMES = (solution, submission)\n"
        "    return 0.0\n")
    scorer = load_custom(metric, higher_is_better=False)
    solution = tmp_path / "solution.csv"
    solution.write_text("key,a,b,c,Usage\nx1,1,0.5,yes,Public\nx2,2,1.5,no,Private\n")
    compiled = compile_solution(solution, "key", scorer, tmp_path / "compiled")
    upload = tmp_path / "upload.csv"
    upload.write_text("key,a,b,c\nx2,3,True,maybe\nx1,4,False,\n")
    score_upload(compiled, upload, scorer)
    solution_df, submission_df = scorer.fn.__globals__["FRAMES"]  # the Private call
    expected = pd.read_csv(upload).set_index("key").loc[["x2"]].reset_index()
    assert submission_df.dtypes.astype(str).tolist() == expected.dtypes.astype(str).tolist()
    assert submission_df.to_dict("list") == {"key": ["x2"], "a": [3], "b": [True], "c": ["maybe"]}
    assert solution_df.to_dict("list") == {"key": ["x2"], "a": [2], "b": [1.5], "c": ["no"]}

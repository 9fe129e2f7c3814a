"""The built-in scorers' rules, one example each: directions, conventions and refusals.

A metric undefined on the data raises ScorerError when the solution (or the call) is at fault
and ParticipantVisibleError when the student's predictions are.
"""
import math

import numpy as np
import pytest

import scorers
from scorers import ParticipantVisibleError, ScorerError
from scorers import builtin
from tests.scorers.helpers import assert_close

DIRECTIONS = {
    "accuracy": True,
    "balanced_accuracy": True,
    "macro_f1": True,
    "roc_auc": True,
    "log_loss": False,
    "rmse": False,
    "mae": False,
    "mean_levenshtein": False,
    "cer": False,
    "wer": False,
}
TARGETS = {
    "accuracy": "label",
    "balanced_accuracy": "label",
    "macro_f1": "label",
    "roc_auc": "number",
    "log_loss": "number",
    "rmse": "number",
    "mae": "number",
    "mean_levenshtein": "text",
    "cer": "text",
    "wer": "text",
}


def score(name, y_true, y_pred):
    return scorers.get(name)(np.asarray(y_true, dtype=object if _holds_text(y_true) else None),
                             np.asarray(y_pred, dtype=object if _holds_text(y_pred) else None))


def _holds_text(values):
    return any(isinstance(v, str) or v is None for v in np.ravel(np.asarray(values, dtype=object)))


# --- directions, targets and descriptions -----------------------------------------------------


@pytest.mark.parametrize("name, higher_is_better", DIRECTIONS.items())
def test_each_builtin_declares_its_direction(name, higher_is_better):
    scorer = scorers.get(name)
    assert scorer.higher_is_better is higher_is_better
    assert scorer.better(0.9, 0.1) is higher_is_better
    assert scorer.better(0.1, 0.9) is not higher_is_better


@pytest.mark.parametrize("name, target", TARGETS.items())
def test_each_builtin_declares_how_its_target_is_parsed(name, target):
    assert scorers.get(name).target == target


@pytest.mark.parametrize("name", DIRECTIONS)
def test_each_description_is_one_line_stating_the_direction(name):
    scorer = scorers.get(name)
    assert "\n" not in scorer.description
    expected_ending = "Higher is better." if scorer.higher_is_better else "Lower is better."
    assert scorer.description.endswith(expected_ending)


def test_equal_scores_are_not_better_than_each_other():
    assert not scorers.get("accuracy").better(0.5, 0.5)
    assert not scorers.get("rmse").better(0.5, 0.5)


# --- refusals common to every scorer ---------------------------------------------------------

EMPTY_INPUTS = {
    "accuracy": ([], []), "balanced_accuracy": ([], []), "macro_f1": ([], []),
    "roc_auc": ([], []), "log_loss": ([], []), "rmse": ([], []), "mae": ([], []),
    "mean_levenshtein": (np.array([], dtype=object), np.array([], dtype=object)),
    "cer": (np.array([], dtype=object), np.array([], dtype=object)),
    "wer": (np.array([], dtype=object), np.array([], dtype=object)),
}


@pytest.mark.parametrize("name", DIRECTIONS)
def test_no_rows_is_a_scorer_error_not_nan(name):
    y_true, y_pred = EMPTY_INPUTS[name]
    with pytest.raises(ScorerError, match="no rows"):
        scorers.get(name)(np.asarray(y_true), np.asarray(y_pred))


@pytest.mark.parametrize("name", DIRECTIONS)
def test_truth_and_predictions_of_different_shapes_are_refused(name):
    with pytest.raises(ScorerError, match="shape"):
        scorers.get(name)(np.zeros(3), np.zeros(4))


def test_a_single_column_given_as_n_by_1_counts_as_one_column():
    assert score("balanced_accuracy", [[1], [0], [0]], [[1], [1], [0]]) == 0.75


# --- labels ----------------------------------------------------------------------------------


def test_accuracy_compares_string_labels_exactly():
    assert score("accuracy", ["cat", "dog", "Cat"], ["cat", "dog", "cat"]) == pytest.approx(2 / 3)


def test_accuracy_does_not_equate_a_number_with_its_text():
    assert scorers.get("accuracy")(np.array([1, 2]), np.array(["1", "2"])) == 0.0


def test_accuracy_with_several_columns_needs_every_column_right():
    truth = np.array([[1, "a"], [2, "b"]], dtype=object)
    predicted = np.array([[1, "a"], [2, "c"]], dtype=object)
    assert scorers.get("accuracy")(truth, predicted) == 0.5


def test_balanced_accuracy_weighs_a_rare_class_like_a_common_one():
    truth = [0] * 9 + [1]
    always_zero = [0] * 10
    assert score("accuracy", truth, always_zero) == 0.9
    assert score("balanced_accuracy", truth, always_zero) == 0.5


def test_balanced_accuracy_ignores_classes_only_predicted():
    assert score("balanced_accuracy", ["a", "a", "b"], ["a", "z", "b"]) == pytest.approx((0.5 + 1.0) / 2)


def test_macro_f1_counts_a_class_only_predicted_as_zero():
    # class a: F1 = 2*1/(2+1) = 2/3; class b: 1; class z (never true): 0.
    assert score("macro_f1", ["a", "a", "b"], ["a", "z", "b"]) == pytest.approx((2 / 3 + 1 + 0) / 3)


def test_classes_are_found_among_huge_and_negative_integer_labels():
    truth = np.array([-(10**12), 10**12, 10**12, 5])
    predicted = np.array([-(10**12), 5, 10**12, 5])
    assert scorers.get("macro_f1")(truth, predicted) == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)


@pytest.mark.parametrize("name", ["balanced_accuracy", "macro_f1"])
def test_single_column_label_metrics_refuse_several_columns(name):
    with pytest.raises(ScorerError, match="one target column"):
        scorers.get(name)(np.array([[1, 0], [0, 1]]), np.array([[1, 0], [0, 1]]))


# --- roc_auc ---------------------------------------------------------------------------------


def test_roc_auc_counts_a_tie_between_a_positive_and_a_negative_as_half():
    assert score("roc_auc", [0, 1], [0.5, 0.5]) == 0.5
    assert score("roc_auc", [0, 1, 1], [0.2, 0.2, 0.9]) == 0.75


def test_roc_auc_only_depends_on_the_order_of_scores():
    truth = [0, 0, 1, 1, 0, 1]
    raw = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    assert score("roc_auc", truth, raw) == score("roc_auc", truth, np.exp(raw * 10) - 7)


def test_roc_auc_of_a_split_with_a_single_class_is_the_solutions_problem():
    with pytest.raises(ScorerError, match="only one class"):
        score("roc_auc", [1, 1, 1], [0.2, 0.5, 0.9])


def test_roc_auc_names_the_column_holding_a_single_class():
    truth = np.array([[0, 1], [1, 1]])
    with pytest.raises(ScorerError, match="target column 1"):
        scorers.get("roc_auc")(truth, np.array([[0.1, 0.2], [0.9, 0.8]]))


def test_roc_auc_needs_a_truth_of_zeros_and_ones():
    with pytest.raises(ScorerError, match="0 and 1"):
        score("roc_auc", [0, 1, 2], [0.1, 0.5, 0.9])


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_roc_auc_refuses_non_finite_scores_to_the_student(bad):
    with pytest.raises(ParticipantVisibleError, match="finite"):
        score("roc_auc", [0, 1, 1], [0.1, bad, 0.9])


# --- log_loss --------------------------------------------------------------------------------


def test_log_loss_of_a_confident_wrong_answer_is_clipped_not_infinite():
    assert score("log_loss", [1], [0.0]) == pytest.approx(-math.log(np.finfo(float).eps))
    assert score("log_loss", [1], [1.0]) == pytest.approx(0.0, abs=1e-15)


def test_log_loss_rescales_each_row_of_class_probabilities_to_sum_to_one():
    one_hot = [[0, 1], [1, 0]]
    assert_close(score("log_loss", one_hot, [[2.0, 6.0], [3.0, 1.0]]),
                 score("log_loss", one_hot, [[0.25, 0.75], [0.75, 0.25]]))
    assert_close(score("log_loss", one_hot, [[0.25, 0.75], [0.75, 0.25]]), -math.log(0.75))


def test_log_loss_refuses_a_single_probability_above_one():
    with pytest.raises(ParticipantVisibleError, match="between 0 and 1"):
        score("log_loss", [0, 1], [0.2, 1.2])


def test_log_loss_refuses_negative_class_probabilities():
    with pytest.raises(ParticipantVisibleError, match="negative"):
        score("log_loss", [[0, 1]], [[-0.1, 1.1]])


def test_log_loss_refuses_a_row_of_all_zero_probabilities():
    with pytest.raises(ParticipantVisibleError, match="positive sum"):
        score("log_loss", [[0, 1], [1, 0]], [[0.0, 0.0], [0.7, 0.3]])


def test_log_loss_with_several_columns_needs_a_one_hot_truth():
    with pytest.raises(ScorerError, match="one-hot"):
        score("log_loss", [[1, 1], [1, 0]], [[0.5, 0.5], [0.7, 0.3]])


def test_log_loss_with_one_column_needs_a_binary_truth():
    with pytest.raises(ScorerError, match="0 and 1"):
        score("log_loss", [0, 2], [0.5, 0.5])


def test_log_loss_is_defined_when_the_truth_holds_a_single_class():
    assert_close(score("log_loss", [1, 1], [0.5, 0.25]), -(math.log(0.5) + math.log(0.25)) / 2)


# --- regression ------------------------------------------------------------------------------


def test_rmse_and_mae_pool_every_cell_of_several_columns():
    truth = [[0.0, 0.0], [0.0, 0.0]]
    predicted = [[3.0, 4.0], [0.0, 0.0]]
    assert score("rmse", truth, predicted) == pytest.approx(math.sqrt(25 / 4))
    assert score("mae", truth, predicted) == pytest.approx(7 / 4)


@pytest.mark.parametrize("name", ["rmse", "mae"])
def test_non_finite_predictions_are_the_students_to_fix(name):
    with pytest.raises(ParticipantVisibleError, match="1 prediction"):
        score(name, [1.0, 2.0], [1.0, math.nan])


@pytest.mark.parametrize("name", ["rmse", "mae"])
def test_non_numeric_predictions_are_the_students_to_fix(name):
    with pytest.raises(ParticipantVisibleError, match="number"):
        scorers.get(name)(np.array([1.0, 2.0]), np.array(["1.0", "two"], dtype=object))


@pytest.mark.parametrize("name", ["rmse", "mae"])
def test_a_missing_value_in_the_truth_is_the_solutions_problem(name):
    with pytest.raises(ScorerError, match="solution"):
        score(name, [1.0, math.nan], [1.0, 2.0])


# --- text ------------------------------------------------------------------------------------


def test_mean_levenshtein_averages_character_edits_per_row():
    assert score("mean_levenshtein", ["kitten", "flaw"], ["sitting", "lawn"]) == (3 + 2) / 2


def test_a_missing_text_prediction_counts_as_the_empty_string():
    predictions = np.array([None, math.nan, "abc"], dtype=object)
    assert scorers.get("mean_levenshtein")(np.array(["abc", "de", "abc"], dtype=object), predictions) == 5 / 3


def test_cer_divides_total_edits_by_total_reference_length_not_per_row():
    # per-row rates would average 1/1 and 0/9 to 0.5; the pooled rate is 1/10.
    assert score("cer", ["a", "bbbbbbbbb"], ["x", "bbbbbbbbb"]) == pytest.approx(1 / 10)


def test_cer_ignores_whitespace_around_each_text():
    assert score("cer", ["hello world"], ["  hello world\n"]) == 0.0


def test_wer_counts_whole_words():
    assert score("wer", ["the cat sat"], ["the cat sad"]) == pytest.approx(1 / 3)
    assert score("wer", ["the cat sat"], ["the cat"]) == pytest.approx(1 / 3)


def test_wer_splits_words_on_any_whitespace():
    assert score("wer", ["a b c"], ["a\tb\n c"]) == 0.0


def test_wer_can_exceed_one_when_the_prediction_adds_words():
    assert score("wer", ["hi"], ["oh hi there friend"]) == 3.0


@pytest.mark.parametrize("name", ["cer", "wer"])
def test_error_rates_of_a_solution_with_only_empty_texts_are_undefined(name):
    with pytest.raises(ScorerError, match="every reference text"):
        score(name, ["", "  "], ["a", "b"])


def test_wer_handles_more_distinct_words_than_the_surrogate_block_leaves_below_it():
    # Word symbols are code points; past 0xD800 distinct words they must skip the surrogates.
    references = np.array([f"w{i}" for i in range(60_000)], dtype=object)
    hypotheses = references.copy()
    hypotheses[-1] = "different"
    assert scorers.get("wer")(references, hypotheses) == 1 / 60_000


def test_wer_beyond_the_code_point_range_falls_back_to_word_ids(monkeypatch):
    references = np.array(["the cat sat", "on the mat"], dtype=object)
    hypotheses = np.array(["the cat sad", "the mat"], dtype=object)
    as_characters = scorers.get("wer")(references, hypotheses)
    monkeypatch.setattr(builtin, "_MAX_WORDS_AS_CHARACTERS", 1)
    assert scorers.get("wer")(references, hypotheses) == as_characters == pytest.approx(2 / 6)


# --- scale -----------------------------------------------------------------------------------


def test_label_metrics_agree_on_two_million_integer_labels():
    rng = np.random.default_rng(7)
    truth = rng.integers(0, 10, 2_000_000)
    predicted = np.where(rng.random(2_000_000) < 0.7, truth, rng.integers(0, 10, 2_000_000))
    assert_close(score("accuracy", truth, predicted), float(np.mean(truth == predicted)))
    # A 70 % chance of copying plus a 1-in-10 chance of a lucky guess gives recall near 0.73.
    assert score("balanced_accuracy", truth, predicted) == pytest.approx(0.73, abs=0.01)


def test_roc_auc_on_nine_hundred_thousand_rows_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(11)
    truth = rng.integers(0, 2, 900_000)
    predicted = np.round(truth * 0.3 + rng.random(900_000), 2)  # rounding makes many ties
    assert_close(score("roc_auc", truth, predicted), roc_auc_score(truth, predicted))

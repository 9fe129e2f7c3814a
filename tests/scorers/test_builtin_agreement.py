"""Each built-in scorer agrees with an independent implementation on random data."""
import jiwer
import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from rapidfuzz.distance import Levenshtein

import scorers
from tests.scorers.helpers import assert_close

# sklearn warns about edge cases of the reference computation (a single class, unseen classes).
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:sklearn")

# The first call into sklearn or jiwer can be slow, and a deadline would make that a flake.
agreement = settings(deadline=None, max_examples=150)

CLASS_SETS = [
    [0, 1],
    [0, 1, 2, 3, 4],
    [-3, 7, 10**9],  # too sparse to use as codes directly: exercises the hashing path
    ["cat", "dog"],
    ["cat", "dog", "bird", "fish", "émeu"],
]


@st.composite
def label_pairs(draw):
    """Aligned truth and predictions over one class set, as ints or as strings (NumPy or object)."""
    classes = draw(st.sampled_from(CLASS_SETS))
    n = draw(st.integers(1, 60))
    y_true = draw(st.lists(st.sampled_from(classes), min_size=n, max_size=n))
    y_pred = draw(st.lists(st.sampled_from(classes), min_size=n, max_size=n))
    as_objects = isinstance(classes[0], str) and draw(st.booleans())
    dtype = object if as_objects else None
    return np.array(y_true, dtype=dtype), np.array(y_pred, dtype=dtype)


@agreement
@given(label_pairs())
def test_accuracy_matches_sklearn(pair):
    y_true, y_pred = pair
    assert_close(scorers.get("accuracy")(y_true, y_pred), skm.accuracy_score(y_true, y_pred))


@agreement
@given(label_pairs())
def test_balanced_accuracy_matches_sklearn(pair):
    y_true, y_pred = pair
    expected = skm.balanced_accuracy_score(y_true, y_pred)
    assert_close(scorers.get("balanced_accuracy")(y_true, y_pred), expected)


@agreement
@given(label_pairs())
def test_macro_f1_matches_sklearn_over_the_union_of_labels(pair):
    y_true, y_pred = pair
    expected = skm.f1_score(y_true, y_pred, average="macro", zero_division=0)
    assert_close(scorers.get("macro_f1")(y_true, y_pred), expected)


# Scores from a small pool produce many ties, which sklearn ranks by their average.
scores = st.one_of(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]), st.floats(-1e3, 1e3))


@st.composite
def binary_truth_and_scores(draw, columns: int = 1):
    shape = (draw(st.integers(2, 80)),) if columns == 1 else (draw(st.integers(2, 80)), columns)
    truth = draw(hnp.arrays(np.int64, shape, elements=st.sampled_from([0, 1])))
    # Every column needs both classes; where the draw lacks one, the first two rows supply them.
    truth[0], truth[1] = 0, 1
    predicted = draw(hnp.arrays(np.float64, shape, elements=scores))
    return truth, predicted


@agreement
@given(binary_truth_and_scores())
def test_roc_auc_matches_sklearn_including_ties(data):
    truth, predicted = data
    assert_close(scorers.get("roc_auc")(truth, predicted), skm.roc_auc_score(truth, predicted))


@agreement
@given(binary_truth_and_scores(columns=3))
def test_roc_auc_over_several_columns_is_sklearns_macro_average(data):
    truth, predicted = data
    assert_close(scorers.get("roc_auc")(truth, predicted), skm.roc_auc_score(truth, predicted, average="macro"))


probabilities = st.one_of(st.sampled_from([0.0, 1.0, 0.5]), st.floats(0.0, 1.0))


@agreement
@given(st.lists(st.tuples(st.sampled_from([0, 1]), probabilities), min_size=1, max_size=60))
def test_binary_log_loss_matches_sklearn_including_clipped_zeros_and_ones(rows):
    truth = np.array([t for t, _ in rows])
    predicted = np.array([p for _, p in rows])
    expected = skm.log_loss(truth, predicted, labels=[0, 1])
    assert_close(scorers.get("log_loss")(truth, predicted), expected)


@st.composite
def one_hot_truth_and_probabilities(draw):
    k = draw(st.integers(2, 5))
    n = draw(st.integers(1, 40))
    classes = draw(hnp.arrays(np.int64, n, elements=st.integers(0, k - 1)))
    weights = draw(hnp.arrays(np.float64, (n, k), elements=st.one_of(st.just(0.0), st.floats(0.0, 10.0))))
    weights[np.arange(n), draw(hnp.arrays(np.int64, n, elements=st.integers(0, k - 1)))] += 0.5  # no all-zero row
    return classes, weights / weights.sum(axis=1, keepdims=True)


@agreement
@given(one_hot_truth_and_probabilities())
def test_multiclass_log_loss_matches_sklearn(data):
    classes, probability_rows = data
    k = probability_rows.shape[1]
    one_hot = np.eye(k, dtype=int)[classes]
    expected = skm.log_loss(classes, probability_rows, labels=list(range(k)))
    assert_close(scorers.get("log_loss")(one_hot, probability_rows), expected)


@st.composite
def regression_pairs(draw):
    shape = draw(st.sampled_from([(draw(st.integers(1, 60)),), (draw(st.integers(1, 30)), draw(st.integers(2, 4)))]))
    size = int(np.prod(shape))
    values = st.floats(-1e6, 1e6)
    y_true = np.array(draw(st.lists(values, min_size=size, max_size=size))).reshape(shape)
    y_pred = np.array(draw(st.lists(values, min_size=size, max_size=size))).reshape(shape)
    return y_true, y_pred


@agreement
@given(regression_pairs())
def test_rmse_is_the_root_of_sklearns_mean_squared_error(pair):
    y_true, y_pred = pair
    assert_close(scorers.get("rmse")(y_true, y_pred), float(np.sqrt(skm.mean_squared_error(y_true, y_pred))))


@agreement
@given(regression_pairs())
def test_mae_matches_sklearn(pair):
    y_true, y_pred = pair
    assert_close(scorers.get("mae")(y_true, y_pred), skm.mean_absolute_error(y_true, y_pred))


@st.composite
def text_pairs(draw, alphabet: str):
    n = draw(st.integers(1, 30))
    texts = st.text(alphabet=alphabet, max_size=14)
    references = draw(st.lists(texts, min_size=n, max_size=n))
    hypotheses = draw(st.lists(texts, min_size=n, max_size=n))
    return np.array(references, dtype=object), np.array(hypotheses, dtype=object)


@agreement
@given(text_pairs(alphabet="abcé \t"))
def test_mean_levenshtein_matches_a_row_by_row_loop(pair):
    references, hypotheses = pair
    distances = [Levenshtein.distance(r, h) for r, h in zip(references, hypotheses)]
    assert_close(scorers.get("mean_levenshtein")(references, hypotheses), sum(distances) / len(distances))


@agreement
@given(text_pairs(alphabet="abé \t"))
def test_cer_matches_jiwer(pair):
    references, hypotheses = pair
    assume(any(r.strip() for r in references))  # jiwer's rate is not a rate without reference text
    expected = jiwer.cer(list(references), list(hypotheses))
    assert_close(scorers.get("cer")(references, hypotheses), expected)


# jiwer splits words on single spaces after collapsing runs of them, so its texts use only spaces.
@agreement
@given(text_pairs(alphabet="ab "))
def test_wer_matches_jiwer(pair):
    references, hypotheses = pair
    assume(any(r.split() for r in references))
    expected = jiwer.wer(list(references), list(hypotheses))
    assert_close(scorers.get("wer")(references, hypotheses), expected)


@agreement
@given(st.lists(st.lists(st.sampled_from(["the", "cat", "sat", "on", "a", "mat", "Mat"]), max_size=7),
                min_size=1, max_size=20),
       st.lists(st.lists(st.sampled_from(["the", "cat", "sat", "on", "a", "mat", "dog"]), max_size=7),
                min_size=1, max_size=20))
def test_wer_on_real_words_matches_jiwer(reference_words, hypothesis_words):
    n = min(len(reference_words), len(hypothesis_words))
    references = [" ".join(words) for words in reference_words[:n]]
    hypotheses = [" ".join(words) for words in hypothesis_words[:n]]
    assume(any(references))
    expected = jiwer.wer(references, hypotheses)
    assert_close(scorers.get("wer")(np.array(references, dtype=object), np.array(hypotheses, dtype=object)), expected)

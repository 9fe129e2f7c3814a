"""The built-in scorers: the course's metrics and the common Kaggle ones.

Every function takes aligned NumPy arrays ``(y_true, y_pred)``, shape ``(n,)`` for one target
column or ``(n, k)`` for several (an ``(n, 1)`` array counts as one column), and returns a float.

When a metric is undefined on the data it raises instead of returning nan:

- :class:`~scorers.ScorerError` when the solution or the call is at fault, which only the
  instructor or the platform can fix: no rows, truth and predictions of different shapes, missing
  or non-numeric values in a numeric truth, a roc_auc truth holding a single class or values other
  than 0/1, a log_loss truth that is not 0/1 (one column) or one-hot (several), cer/wer solutions
  whose reference texts are all empty, several target columns for a single-column metric;
- :class:`~scorers.ParticipantVisibleError` when the predictions are at fault and the student can
  fix them: non-numeric or non-finite numbers, probabilities below 0 (or above 1 for a single
  probability column), a row of class probabilities summing to 0.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from scorers import ParticipantVisibleError, Scorer, ScorerError, register

# sklearn clips probabilities to [eps, 1 - eps] with the float64 machine epsilon.
_PROBABILITY_EPS = float(np.finfo(np.float64).eps)
# WER spells each distinct word as one Unicode code point, skipping the surrogate block;
# beyond that many distinct words it falls back to lists of ints.
_SURROGATES_START, _SURROGATES_SIZE = 0xD800, 0x800
_MAX_WORDS_AS_CHARACTERS = 0x110000 - _SURROGATES_SIZE


# --- shared checks ---------------------------------------------------------------------------


def _aligned(y_true, y_pred, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Truth and predictions as arrays of equal shape with at least one row."""
    y_true = _one_column_as_vector(np.asarray(y_true))
    y_pred = _one_column_as_vector(np.asarray(y_pred))
    if y_true.shape != y_pred.shape:
        raise ScorerError(
            f"{metric}: the truth has shape {y_true.shape} but the predictions {y_pred.shape}; "
            "they must be aligned row for row and column for column"
        )
    if y_true.ndim not in (1, 2):
        raise ScorerError(f"{metric}: expected arrays of shape (n,) or (n, k), got {y_true.shape}")
    if y_true.shape[0] == 0:
        raise ScorerError(f"{metric}: there are no rows to score")
    return y_true, y_pred


def _one_column_as_vector(values: np.ndarray) -> np.ndarray:
    return values[:, 0] if values.ndim == 2 and values.shape[1] == 1 else values


def _single_column(values: np.ndarray, metric: str) -> None:
    if values.ndim != 1:
        raise ScorerError(f"{metric} scores exactly one target column, got {values.shape[1]}")


def _truth_numbers(values: np.ndarray, metric: str) -> np.ndarray:
    """The solution's values as float64; missing or non-numeric values are the solution's fault."""
    try:
        numbers = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ScorerError(f"{metric}: the solution's target column holds non-numeric values") from None
    bad = np.count_nonzero(~np.isfinite(numbers))
    if bad:
        raise ScorerError(f"{metric}: the solution holds {bad} missing or infinite target value(s)")
    return numbers


def _predicted_numbers(values: np.ndarray, metric: str) -> np.ndarray:
    """The submission's values as float64; a student can fix non-numeric or non-finite values."""
    try:
        numbers = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParticipantVisibleError(
            f"{metric}: every prediction must be a number; the submission holds non-numeric values"
        ) from None
    bad = np.count_nonzero(~np.isfinite(numbers))
    if bad:
        raise ParticipantVisibleError(
            f"{metric}: every prediction must be a finite number; {bad} prediction(s) are "
            "missing, nan or infinite"
        )
    return numbers


def _binary_truth(values: np.ndarray, metric: str) -> np.ndarray:
    """A 0/1 truth as booleans; any other value is an error in the solution."""
    numbers = _truth_numbers(values, metric)
    is_one = numbers == 1
    if not np.all(is_one | (numbers == 0)):
        raise ScorerError(f"{metric} needs a binary truth of 0 and 1; the solution holds other values")
    return is_one


# --- labels ----------------------------------------------------------------------------------


def _label_hits(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Elementwise exact equality; labels of different kinds (1 and "1") are different labels."""
    hits = y_true == y_pred
    if np.shape(hits) != y_true.shape:  # comparisons NumPy cannot broadcast fall back to Python's ==
        hits = y_true.astype(object) == y_pred.astype(object)
    return np.asarray(hits, dtype=bool)


def _class_codes(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Integer codes in ``range(m)`` covering the classes of truth and predictions together.

    Some codes may belong to no row (small integer labels are used as their own codes); callers
    drop classes seen in neither array.
    """
    if y_true.dtype.kind in "biu" and y_pred.dtype.kind in "biu":
        low = min(int(y_true.min()), int(y_pred.min()))
        high = max(int(y_true.max()), int(y_pred.max()))
        # A dense range of small integers needs no hashing or sorting: bincount indexes it directly.
        if high - low <= max(4 * y_true.size, 1024) and -(2**62) < low and high < 2**62:
            return y_true.astype(np.intp) - low, y_pred.astype(np.intp) - low, high - low + 1
    if y_true.dtype.kind == y_pred.dtype.kind and y_true.dtype.kind not in "SU":
        both = np.concatenate([y_true, y_pred])
    else:
        # Objects keep 1 and "1" apart, as the exact comparison in accuracy does, and hash
        # faster than fixed-width NumPy strings, which are also costly to concatenate.
        both = np.concatenate([y_true.astype(object), y_pred.astype(object)])
    codes, classes = pd.factorize(both, use_na_sentinel=False)
    return codes[: y_true.size], codes[y_true.size :], len(classes)


def accuracy(y_true, y_pred) -> float:
    """Fraction of rows predicted exactly; with several target columns every column must match."""
    y_true, y_pred = _aligned(y_true, y_pred, "accuracy")
    hits = _label_hits(y_true, y_pred)
    if hits.ndim == 2:
        hits = hits.all(axis=1)
    return float(np.count_nonzero(hits) / hits.shape[0])


def balanced_accuracy(y_true, y_pred) -> float:
    """Recall averaged over the classes present in the truth (sklearn's balanced_accuracy_score)."""
    y_true, y_pred = _aligned(y_true, y_pred, "balanced_accuracy")
    _single_column(y_true, "balanced_accuracy")
    true_codes, pred_codes, n_codes = _class_codes(y_true, y_pred)
    support = np.bincount(true_codes, minlength=n_codes)
    correct = np.bincount(true_codes[true_codes == pred_codes], minlength=n_codes)
    present = support > 0
    return float(np.mean(correct[present] / support[present]))


def macro_f1(y_true, y_pred) -> float:
    """Unweighted mean of per-class F1 over every class in truth or predictions.

    Matches sklearn's ``f1_score(average="macro", zero_division=0)``: F1 of a class is
    2·TP / (true count + predicted count), and a class only predicted (never true) scores 0.
    """
    y_true, y_pred = _aligned(y_true, y_pred, "macro_f1")
    _single_column(y_true, "macro_f1")
    true_codes, pred_codes, n_codes = _class_codes(y_true, y_pred)
    true_count = np.bincount(true_codes, minlength=n_codes)
    pred_count = np.bincount(pred_codes, minlength=n_codes)
    true_positives = np.bincount(true_codes[true_codes == pred_codes], minlength=n_codes)
    seen = (true_count + pred_count) > 0
    return float(np.mean(2 * true_positives[seen] / (true_count[seen] + pred_count[seen])))


# --- probabilities and rankings --------------------------------------------------------------


def roc_auc(y_true, y_score) -> float:
    """Area under the ROC curve of real-valued scores against a 0/1 truth.

    Several columns give the unweighted mean of the per-column AUCs (sklearn's macro average
    for a multilabel indicator truth).
    """
    y_true, y_score = _aligned(y_true, y_score, "roc_auc")
    truth = _binary_truth(y_true, "roc_auc")
    scores = _predicted_numbers(y_score, "roc_auc")
    if truth.ndim == 1:
        return _binary_auc(truth, scores, "the solution")
    return float(
        np.mean([_binary_auc(truth[:, j], scores[:, j], f"target column {j}") for j in range(truth.shape[1])])
    )


def _binary_auc(is_positive: np.ndarray, scores: np.ndarray, where: str) -> float:
    """AUC as the Mann-Whitney statistic over average ranks, which equals sklearn's trapezoidal AUC.

    Sums are kept in integers (twice the average rank is always whole), so the only rounding is
    the final division.
    """
    n = is_positive.size
    n_pos = int(np.count_nonzero(is_positive))
    n_neg = n - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ScorerError(
            f"roc_auc is undefined: {where} holds only one class ({'1' if n_pos else '0'}) in this split; "
            "each split needs both 0 and 1 rows"
        )
    order = np.argsort(scores)  # ties get their average rank below, so stability is not needed
    sorted_scores = scores[order]
    group_starts = np.flatnonzero(np.concatenate(([True], sorted_scores[1:] != sorted_scores[:-1])))
    group_ends = np.append(group_starts[1:], n)
    # Ranks in a tie group run start+1 .. end, so twice their average is start + end + 1.
    twice_average_rank = group_starts + group_ends + 1
    positives_per_group = np.add.reduceat(is_positive[order].astype(np.int64), group_starts)
    twice_rank_sum = int(np.dot(positives_per_group, twice_average_rank.astype(np.int64)))
    return (twice_rank_sum - n_pos * (n_pos + 1)) / (2 * n_pos * n_neg)


def log_loss(y_true, y_pred) -> float:
    """Mean negative natural log of the probability given to the true class.

    One column: a 0/1 truth and the probability of class 1. Several columns: a one-hot truth and
    one probability column per class; each row is first divided by its sum (Kaggle's rescaling).
    Probabilities are then clipped to [eps, 1 - eps] with the float64 epsilon, as sklearn does,
    so a confident wrong answer costs about 36 rather than infinity.
    """
    y_true, y_pred = _aligned(y_true, y_pred, "log_loss")
    probabilities = _predicted_numbers(y_pred, "log_loss")
    if probabilities.ndim == 1:
        is_one = _binary_truth(y_true, "log_loss")
        _check_probabilities_in_unit_interval(probabilities)
        true_class_probability = np.where(is_one, probabilities, 1.0 - probabilities)
    else:
        true_class = _one_hot_classes(y_true)
        rows = _rows_rescaled_to_sum_one(probabilities)
        true_class_probability = rows[np.arange(rows.shape[0]), true_class]
    clipped = np.clip(true_class_probability, _PROBABILITY_EPS, 1.0 - _PROBABILITY_EPS)
    return float(-np.mean(np.log(clipped)))


def _check_probabilities_in_unit_interval(probabilities: np.ndarray) -> None:
    outside = np.count_nonzero((probabilities < 0) | (probabilities > 1))
    if outside:
        raise ParticipantVisibleError(
            f"log_loss: predictions are probabilities between 0 and 1; {outside} prediction(s) lie outside"
        )


def _one_hot_classes(y_true: np.ndarray) -> np.ndarray:
    """The column index of the 1 in each row of a one-hot truth."""
    truth = _truth_numbers(y_true, "log_loss")
    if not (np.all((truth == 0) | (truth == 1)) and np.all(truth.sum(axis=1) == 1)):
        raise ScorerError(
            "log_loss with several target columns needs a one-hot truth: exactly one 1 per row, 0 elsewhere"
        )
    return truth.argmax(axis=1)


def _rows_rescaled_to_sum_one(probabilities: np.ndarray) -> np.ndarray:
    if np.any(probabilities < 0):
        raise ParticipantVisibleError("log_loss: class probabilities must not be negative")
    row_sums = probabilities.sum(axis=1)
    empty_rows = np.count_nonzero(row_sums == 0)
    if empty_rows:
        raise ParticipantVisibleError(
            f"log_loss: {empty_rows} row(s) give every class probability 0; each row needs a positive sum"
        )
    return probabilities / row_sums[:, np.newaxis]


# --- regression ------------------------------------------------------------------------------


def _differences(y_true, y_pred, metric: str) -> np.ndarray:
    y_true, y_pred = _aligned(y_true, y_pred, metric)
    return _predicted_numbers(y_pred, metric) - _truth_numbers(y_true, metric)


def rmse(y_true, y_pred) -> float:
    """Root of the mean squared error over every cell (with several columns: all of them at once)."""
    differences = _differences(y_true, y_pred, "rmse")
    return float(np.sqrt(np.mean(np.square(differences))))


def mae(y_true, y_pred) -> float:
    """Mean absolute error over every cell."""
    differences = _differences(y_true, y_pred, "mae")
    return float(np.mean(np.abs(differences)))


# --- text ------------------------------------------------------------------------------------


def _texts(values: np.ndarray) -> list[str]:
    """Cells as Python strings, row by row.

    A missing cell (None, or NaN as pandas reads an empty field) is the empty string: a student
    who leaves a text blank has predicted nothing, which costs the full length of the truth.
    """
    cells = values.ravel().tolist()
    if values.dtype.kind == "U":
        return cells
    return ["" if cell is None or (isinstance(cell, float) and cell != cell) else str(cell) for cell in cells]


def _edit_distances(references: list, hypotheses: list) -> np.ndarray:
    """Levenshtein distance of each aligned pair, computed in parallel inside rapidfuzz."""
    return process.cpdist(references, hypotheses, scorer=Levenshtein.distance, dtype=np.int64, workers=-1)


def mean_levenshtein(y_true, y_pred) -> float:
    """Average character edit distance between predicted and true text, over every cell."""
    y_true, y_pred = _aligned(y_true, y_pred, "mean_levenshtein")
    return float(np.mean(_edit_distances(_texts(y_true), _texts(y_pred))))


def cer(y_true, y_pred) -> float:
    """Character error rate: total character edits over the total length of the true texts.

    Surrounding whitespace of each text is ignored, as jiwer does.
    """
    y_true, y_pred = _aligned(y_true, y_pred, "cer")
    references = [text.strip() for text in _texts(y_true)]
    hypotheses = [text.strip() for text in _texts(y_pred)]
    reference_length = sum(map(len, references))
    if reference_length == 0:
        raise ScorerError("cer is undefined: every reference text in the solution is empty")
    return int(_edit_distances(references, hypotheses).sum()) / reference_length


def wer(y_true, y_pred) -> float:
    """Word error rate: total word edits over the total number of true words.

    Words are runs of non-whitespace characters. Each distinct word becomes one symbol, so the
    Levenshtein distance of rapidfuzz counts whole-word insertions, deletions and substitutions.
    """
    y_true, y_pred = _aligned(y_true, y_pred, "wer")
    references, hypotheses = _sentences_as_word_symbols(_texts(y_true), _texts(y_pred))
    reference_words = sum(map(len, references))
    if reference_words == 0:
        raise ScorerError("wer is undefined: every reference text in the solution is empty")
    return int(_edit_distances(references, hypotheses).sum()) / reference_words


def _sentences_as_word_symbols(references: list[str], hypotheses: list[str]) -> tuple[list, list]:
    """Each text as a sequence with one symbol per word, equal words sharing a symbol.

    Symbols are characters, rapidfuzz's fastest input, cut from one string built in a single
    decode; the words go through one flat list because keeping a list per sentence alive makes
    the garbage collector rescan them all. With more distinct words than usable code points the
    symbols stay lists of ints.
    """
    words: list[str] = []
    word_counts: list[int] = []
    for text in references + hypotheses:
        sentence = text.split()
        word_counts.append(len(sentence))
        words.extend(sentence)
    codes, vocabulary = pd.factorize(np.array(words, dtype=object))
    ends = np.cumsum(word_counts).tolist()
    starts = [0, *ends[:-1]]
    if len(vocabulary) <= _MAX_WORDS_AS_CHARACTERS:
        symbols = _code_points(codes)
    else:
        symbols = codes.tolist()
    sequences = [symbols[start:end] for start, end in zip(starts, ends)]
    return sequences[: len(references)], sequences[len(references) :]


def _code_points(codes: np.ndarray) -> str:
    """One character per code, skipping the surrogate block, which is not valid UTF-32."""
    shifted = codes.astype(np.uint32)
    shifted[shifted >= _SURROGATES_START] += _SURROGATES_SIZE
    return shifted.astype("<u4").tobytes().decode("utf-32-le")


# --- registration ----------------------------------------------------------------------------

BUILTINS: tuple[Scorer, ...] = (
    Scorer("accuracy", True, "label", accuracy,
           "Fraction of rows whose predicted label equals the true label. Higher is better."),
    Scorer("balanced_accuracy", True, "label", balanced_accuracy,
           "Share of each true class predicted correctly, averaged over classes so rare classes "
           "count as much as common ones. Higher is better."),
    Scorer("macro_f1", True, "label", macro_f1,
           "F1 score of each class (in the truth or your predictions), averaged with equal weight. "
           "Higher is better."),
    Scorer("roc_auc", True, "number", roc_auc,
           "Area under the ROC curve: the chance that a random positive row gets a higher score than "
           "a random negative one (ties count half). Higher is better."),
    Scorer("log_loss", False, "number", log_loss,
           "Mean negative log of the probability you gave the true class; rows are rescaled to sum "
           "to 1 and clipped away from 0 and 1. Lower is better."),
    Scorer("rmse", False, "number", rmse,
           "Square root of the mean squared difference between prediction and truth. Lower is better."),
    Scorer("mae", False, "number", mae,
           "Mean absolute difference between prediction and truth. Lower is better."),
    Scorer("mean_levenshtein", False, "text", mean_levenshtein,
           "Average number of character insertions, deletions and substitutions turning your text "
           "into the true text. Lower is better."),
    Scorer("cer", False, "text", cer,
           "Character error rate: character edits over all rows divided by the total length of the "
           "true texts. Lower is better."),
    Scorer("wer", False, "text", wer,
           "Word error rate: word insertions, deletions and substitutions over all rows divided by "
           "the total number of true words. Lower is better."),
)

for _scorer in BUILTINS:
    register(_scorer)
del _scorer

"""Generated solutions, sample submissions and predictions, checked with independent computations."""
from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import Levenshtein

from podium.demo.course import COMPETITIONS, competition_spec
from podium.demo.data import csv_bytes, prediction_frame, sample_submission_frame, solution_frame

SLUGS = [spec.slug for spec in COMPETITIONS]
_solutions: dict[str, pd.DataFrame] = {}


def solution(slug: str) -> pd.DataFrame:
    """One solution per competition for the whole module (seed 7): building them is the slow part."""
    if slug not in _solutions:
        _solutions[slug] = solution_frame(slug, np.random.default_rng(7))
    return _solutions[slug]


# --- independent metrics ---------------------------------------------------------------------------


def aligned(truth: pd.DataFrame, predicted: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    id_column, target = truth.columns[:2]
    merged = truth.merge(predicted, on=id_column, suffixes=("_truth", "_pred"), validate="one_to_one")
    assert len(merged) == len(truth)
    return merged[f"{target}_truth"].to_numpy(), merged[f"{target}_pred"].to_numpy()


def accuracy(y, p) -> float:
    return float(np.mean(y == p))


def auc(y, p) -> float:
    """Mann-Whitney: the probability that a positive outranks a negative (ties count half)."""
    ranks = pd.Series(p).rank().to_numpy()
    positives = y == 1
    n_pos, n_neg = positives.sum(), (~positives).sum()
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def mean_levenshtein(y, p) -> float:
    return float(np.mean([Levenshtein.distance(a, b) for a, b in zip(y, p)]))


METRICS = {"accuracy": accuracy, "roc_auc": auc, "mean_levenshtein": mean_levenshtein}


def metric_value(slug: str, predicted: pd.DataFrame) -> float:
    return METRICS[competition_spec(slug).metric](*aligned(solution(slug), predicted))


# --- solutions -------------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", SLUGS)
def test_solution_has_the_competitions_columns_rows_and_unique_ids(slug):
    spec = competition_spec(slug)
    frame = solution(slug)
    assert list(frame.columns) == [spec.id_column, spec.target_column, "Usage"]
    assert len(frame) == spec.rows
    assert frame[spec.id_column].is_unique


ID_PATTERNS = {
    "hw2p2-classification": r"\d{6}\.jpg",
    "hw2p2-verification": r"img\d{6}\.jpg img\d{6}\.jpg",
}


@pytest.mark.parametrize("slug", SLUGS)
def test_ids_look_like_the_courses(slug):
    ids = solution(slug).iloc[:, 0]
    if slug in ID_PATTERNS:
        assert ids.map(lambda text: re.fullmatch(ID_PATTERNS[slug], text) is not None).all()
    else:
        assert ids.tolist() == list(range(competition_spec(slug).rows))


def test_verification_trials_pair_two_different_images_once_each():
    pairs = solution("hw2p2-verification")["trial"].str.split(" ", expand=True)
    assert (pairs[0] < pairs[1]).all()
    truth = solution("hw2p2-verification")["score"]
    assert set(truth) == {0, 1}
    assert abs(truth.mean() - 0.5) < 0.01


def test_classification_targets_cover_every_class():
    speech = solution("hw1p2")["label"]
    assert speech.between(0, 137).all() and speech.nunique() == 138
    faces = solution("hw2p2-classification")["Category"]
    assert faces.between(0, 2299).all() and (faces.value_counts() == 2).all() and faces.nunique() == 2300


def test_phoneme_strings_use_46_symbols_and_run_about_78_long():
    strings = solution("hw3p2")["Predicted"]
    assert len(set("".join(strings))) == 46
    assert not set("".join(strings)) & set(' ,"\n')
    assert 74 <= strings.str.len().mean() <= 82


def test_transcripts_are_upper_case_words_about_100_characters_long():
    strings = solution("hw4p2")["Predicted"]
    assert strings.map(lambda text: re.fullmatch(r"[A-Z']+( [A-Z']+)*", text) is not None).all()
    assert strings.str.contains("'").any()
    assert 94 <= strings.str.len().mean() <= 106


@pytest.mark.parametrize("slug", SLUGS)
def test_usage_is_30_percent_public_and_ignored_only_in_verification(slug):
    usage = solution(slug)["Usage"].value_counts().to_dict()
    ignored = usage.pop("Ignored", 0)
    assert set(usage) == {"Public", "Private"}
    assert usage["Public"] / (usage["Public"] + usage["Private"]) == pytest.approx(0.3, abs=0.002)
    if slug == "hw2p2-verification":
        assert 1 <= ignored <= 20
    else:
        assert ignored == 0


@pytest.mark.parametrize("slug", SLUGS)
def test_same_seed_same_bytes_other_seed_other_bytes(slug):
    first = csv_bytes(solution_frame(slug, np.random.default_rng(7)))
    assert first == csv_bytes(solution(slug))
    assert first != csv_bytes(solution_frame(slug, np.random.default_rng(8)))


def test_generators_never_touch_the_global_rng():
    np.random.seed(1)
    before = np.random.get_state()[1].copy()
    frame = solution_frame("hw3p2", np.random.default_rng(1))
    prediction_frame(frame, 0.5, np.random.default_rng(2))
    assert (np.random.get_state()[1] == before).all()


# --- sample submissions and predictions ------------------------------------------------------------


@pytest.mark.parametrize("slug", SLUGS)
def test_sample_submission_has_the_solution_ids_in_order_and_one_placeholder(slug):
    spec = competition_spec(slug)
    sample = sample_submission_frame(solution(slug))
    assert list(sample.columns) == [spec.id_column, spec.target_column]
    assert sample[spec.id_column].tolist() == solution(slug)[spec.id_column].tolist()
    assert sample[spec.target_column].nunique() == 1
    assert str(sample[spec.target_column].iloc[0]).strip()


@pytest.mark.parametrize("slug", SLUGS)
def test_prediction_is_a_shuffled_upload_with_every_id_once(slug):
    spec = competition_spec(slug)
    predicted = prediction_frame(solution(slug), 0.5, np.random.default_rng(3))
    assert list(predicted.columns) == [spec.id_column, spec.target_column]
    assert sorted(predicted[spec.id_column]) == sorted(solution(slug)[spec.id_column])
    assert predicted[spec.id_column].tolist() != solution(slug)[spec.id_column].tolist()


QUALITIES = [0.0, 0.25, 0.5, 0.75, 1.0]


@pytest.mark.parametrize("slug", SLUGS)
def test_metric_improves_with_quality_from_below_d_to_beyond_a(slug):
    spec = competition_spec(slug)
    sign = 1 if spec.higher_is_better else -1
    means = [np.mean([metric_value(slug, prediction_frame(solution(slug), quality, np.random.default_rng(seed)))
                      for seed in (1, 2)]) for quality in QUALITIES]
    assert all(sign * (later - earlier) > 0 for earlier, later in zip(means, means[1:])), means
    assert sign * (means[0] - spec.cutoffs["D"]) < 0     # a random guess earns no grade
    assert sign * (means[-1] - spec.cutoffs["A"]) > 0    # the best models reach an A


@settings(max_examples=25, deadline=None)
@given(quality=st.floats(0.0, 1.0), seed=st.integers(0, 2**32 - 1))
def test_predictions_are_always_well_formed(quality, seed):
    for slug in ("hw2p2-verification", "hw3p2", "hw4p2"):
        predicted = prediction_frame(solution(slug), quality, np.random.default_rng(seed)).iloc[:, 1]
        if slug == "hw2p2-verification":
            assert predicted.between(0, 1).all()
        else:
            assert predicted.map(lambda text: bool(text.strip()) and "," not in text).all()


def test_quality_outside_0_1_is_refused():
    with pytest.raises(ValueError, match="quality"):
        prediction_frame(solution("hw3p2"), 1.5, np.random.default_rng(0))


@pytest.mark.parametrize("slug", SLUGS)
def test_csv_bytes_read_back_to_the_same_frame(slug):
    frame = prediction_frame(solution(slug), 0.3, np.random.default_rng(4))
    back = pd.read_csv(io.BytesIO(csv_bytes(frame)), keep_default_na=False)
    assert list(back.columns) == list(frame.columns)
    assert back.iloc[:, 0].tolist() == frame.iloc[:, 0].tolist()
    if frame.iloc[:, 1].dtype.kind == "f":
        assert np.allclose(back.iloc[:, 1].to_numpy(), frame.iloc[:, 1].to_numpy(), atol=1e-6)
    else:
        assert back.iloc[:, 1].tolist() == frame.iloc[:, 1].tolist()


def test_csv_bytes_quote_fields_that_need_it():
    frame = pd.DataFrame({"Id": [0, 1], "Predicted": ['A, B', 'say "hi"']})
    assert csv_bytes(frame) == b'Id,Predicted\n0,"A, B"\n1,"say ""hi"""\n'
    assert csv_bytes(frame, header=False).startswith(b'0,"A, B"\n')

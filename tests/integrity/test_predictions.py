"""Prediction agreement (podium.integrity.predictions): a copied file with a few rows changed tops the pairs among
independently generated predictions; identical files are grouped. No database: these run once."""
from __future__ import annotations

import numpy as np

from podium.integrity.predictions import agreement_pairs, identical_files
from tests.integrity.generated import copied_with_changes, labels


def test_a_copied_file_with_a_few_rows_changed_tops_the_pairs():
    truth, students = labels(seed=7, students=40, rows=600)
    students[40] = copied_with_changes(students[11], changed=30, seed=8)
    pairs = agreement_pairs(students, truth, limit=10)
    assert {pairs[0].a, pairs[0].b} == {11, 40}
    assert pairs[0].ratio > 10 and pairs[0].surprise > 10 * pairs[1].surprise
    # Independent students share wrong answers about as often as chance says.
    assert pairs[1].ratio < 4


def test_two_classes_every_wrong_answer_is_the_same_yet_only_the_copy_stands_out():
    truth, students = labels(seed=3, students=30, rows=500, classes=2)
    students[30] = copied_with_changes(students[5], changed=25, seed=4, classes=2)
    pairs = agreement_pairs(students, truth, limit=3)
    assert {pairs[0].a, pairs[0].b} == {5, 30}
    assert pairs[1].surprise < pairs[0].surprise / 5


def test_numbers_agree_only_when_copied():
    rng = np.random.default_rng(1)
    truth = rng.random(300)
    students = {s: rng.random(300).round(6) for s in range(10)}
    copy = students[2].copy()
    copy[:10] = 0.5
    students["copy"] = copy
    pairs = agreement_pairs(students, truth)
    assert len(pairs) == 1 and {pairs[0].a, pairs[0].b} == {2, "copy"} and pairs[0].shared_wrong == 290


def test_texts_and_several_target_columns_are_compared_whole():
    truth = np.array(["the cat", "a dog", "hello"] * 20, dtype=object)
    rng = np.random.default_rng(2)
    students = {s: np.array([rng.choice(["the cat", "the hat", "a dot", "hallo", "a dog"]) for _ in range(60)],
                            dtype=object) for s in range(8)}
    students["copy"] = students[3].copy()
    assert {agreement_pairs(students, truth, limit=1)[0].a, agreement_pairs(students, truth, limit=1)[0].b} == {
        3, "copy"}
    two = rng.integers(0, 3, (200, 2))
    guesses = {s: rng.integers(0, 3, (200, 2)) for s in range(8)}
    guesses["copy"] = guesses[6].copy()
    top = agreement_pairs(guesses, two, limit=1)[0]
    assert {top.a, top.b} == {6, "copy"}


def test_a_perfect_class_has_no_pairs():
    truth = np.arange(50)
    assert agreement_pairs({s: truth.copy() for s in range(5)}, truth) == []
    assert agreement_pairs({1: truth}, truth) == []


def test_identical_files_are_grouped_by_their_hash():
    groups = identical_files({"ann": {"aaa", "bbb"}, "bob": {"aaa"}, "cat": {"aaa", "ccc"}, "dan": {"bbb"},
                              "eve": {"eee"}})
    assert groups == [("aaa", ("ann", "bob", "cat")), ("bbb", ("ann", "dan"))]

"""Public and private scores come from the right rows, whatever the order, ids or metric."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scorers
from podium.scoring import CompiledSolution, SolutionError, compile_solution, score_upload
from scorers import Scorer
from tests.scoring.conftest import ACCURACY, CHECKED_MAE, EXACT_TEXT, MAE, SOLUTION, TRUTH, Competition, upload_text


def test_hand_computed_public_and_private(labels):
    # Public rows 0, 2, 6 (truth 3, 2, 2); Private rows 1, 3, 5, 7, 9 (truth 1, 0, 1, 0, 2).
    predictions = {0: 3, 1: 0, 2: 1, 3: 0, 4: 3, 5: 1, 6: 2, 7: 2, 8: 1, 9: 2}
    result = labels.score(upload_text(predictions))
    assert result.public == pytest.approx(2 / 3)  # rows 0 and 6 right, row 2 wrong
    assert result.private == pytest.approx(3 / 5)  # rows 3, 5, 9 right; 1 and 7 wrong
    assert result.rows == 10
    assert result.seconds > 0


def test_ignored_rows_count_for_nothing(labels):
    baseline = labels.score(upload_text({**TRUTH, 0: 0, 3: 2}))
    changed = labels.score(upload_text({**TRUTH, 0: 0, 3: 2, 4: 99, 8: 77}))  # only Ignored rows 4 and 8 differ
    assert (changed.public, changed.private) == (baseline.public, baseline.private) == (2 / 3, 4 / 5)


def test_mean_absolute_error_on_each_split(tmp_path):
    solution = "id,y,Usage\n10,1.0,Public\n20,2.0,Private\n30,4.0,Public\n40,8.0,Private\n50,100,Ignored\n"
    competition = Competition(tmp_path, solution, MAE)
    result = competition.score("id,y\n40,7\n30,4.5\n20,2\n10,2\n50,0\n")
    assert result.public == pytest.approx((1 + 0.5) / 2)
    assert result.private == pytest.approx((0 + 1) / 2)
    assert competition.compiled.manifest["index"]["kind"] == "sorted"  # 10, 20, ... is not a dense range


def test_string_ids_and_string_labels(tmp_path):
    solution = ("image,species,Usage\ncat_01.jpg,cat,Public\ndog_07.jpg,dog,Private\nbird_3.png,bird,Public\n"
                "a much longer identifier with spaces.jpg,dog,Private\n00017,cat,Ignored\n")
    competition = Competition(tmp_path, solution, ACCURACY, id_column="image")
    assert competition.compiled.id_kind == "str"
    assert competition.compiled.target_kinds == {"species": "str"}
    upload = ("image,species\n00017,dog\nbird_3.png,bird\na much longer identifier with spaces.jpg,cat\n"
              "dog_07.jpg,dog\ncat_01.jpg,cow\n")
    result = competition.score(upload)
    assert (result.public, result.private) == (0.5, 0.5)


def test_string_ids_unknown_and_missing(tmp_path):
    solution = "id,label,Usage\nimg001.jpg img002.jpg,1,Public\nimg003.jpg img004.jpg,0,Private\n"
    competition = Competition(tmp_path, solution, ACCURACY)
    error = competition.error("id,label\nimg001.jpg img002.jpg,1\nimg003.jpg img005.jpg,0\n")
    assert error.message == ("1 id of the competition is missing from the file, e.g. `img003.jpg img004.jpg`. 1 row "
                             "of the file has an id that is not in the competition, e.g. `img003.jpg img005.jpg` "
                             "(line 3).")


def test_string_id_longer_than_any_solution_id_is_unknown(tmp_path):
    competition = Competition(tmp_path, "id,label,Usage\na,1,Public\nb,0,Private\n", ACCURACY)
    error = competition.error("id,label\na,1\nbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb,0\n")
    assert "1 row of the file has an id that is not in the competition, e.g. `bbbbbbbbbbbbbbbbbbbb" in error.message


def test_integer_looking_ids_with_leading_zeros_stay_strings(tmp_path):
    competition = Competition(tmp_path, "id,label,Usage\n007,1,Public\n08,0,Private\n", ACCURACY)
    assert competition.compiled.id_kind == "str"
    assert competition.score("id,label\n08,0\n007,1\n").public == 1.0
    assert competition.error("id,label\n8,0\n7,1\n").code == "missing_ids"


def test_integer_ids_are_stored_as_int64_and_labels_as_int64(labels):
    table = labels.compiled.table
    assert str(table.schema.field("id").type) == "int64"
    assert str(table.schema.field("label").type) == "int64"
    assert labels.compiled.manifest["index"] == {"kind": "dense", "first": 0}


def test_several_target_columns(tmp_path):
    solution = "id,a,b,Usage\n1,0.0,1.0,Public\n2,1.0,1.0,Private\n3,2.0,0.0,Private\n"
    competition = Competition(tmp_path, solution, MAE)
    assert competition.compiled.expected_header == ["id", "a", "b"]
    result = competition.score("id,b,a\n3,0,1\n2,1,1\n1,3,0\n")  # columns in another order
    assert result.public == pytest.approx(1.0)  # |0-0| and |1-3|, averaged over 2 cells
    assert result.private == pytest.approx(0.25)  # one cell off by 1 among 4


def test_text_target(tmp_path):
    solution = 'id,transcript,Usage\n1,"hello, world",Public\n2,"say ""hi""",Private\n3,ok,Private\n'
    competition = Competition(tmp_path, solution, EXACT_TEXT)
    result = competition.score('id,transcript\n3,ok\n2,"say ""hi"""\n1,"hello world"\n')
    assert (result.public, result.private) == (0.0, 1.0)


def test_builtin_accuracy_and_roc_auc(tmp_path):
    accuracy = Competition(tmp_path / "acc", SOLUTION, scorers.get("accuracy"))
    assert accuracy.score(upload_text({**TRUTH, 2: 0})).public == pytest.approx(2 / 3)
    solution = "id,label,Usage\n" + "".join(
        f"t{i},{i % 2},{'Public' if i < 4 else 'Private'}\n" for i in range(10))
    auc = Competition(tmp_path / "auc", solution, scorers.get("roc_auc"))
    # Public t0..t3 (truth 0,1,0,1); Private t4..t9 (0,1,0,1,0,1).
    scores = {0: 0.1, 1: 0.9, 2: 0.8, 3: 0.7, 4: 0.2, 5: 0.6, 6: 0.3, 7: 0.4, 8: 0.5, 9: 0.55}
    result = auc.score("id,label\n" + "".join(f"t{i},{s}\n" for i, s in reversed(scores.items())))
    assert result.public == pytest.approx(3 / 4)
    assert result.private == pytest.approx(8 / 9)


def test_participant_visible_error_from_a_metric(tmp_path):
    competition = Competition(tmp_path, "id,y,Usage\n1,1,Public\n2,2,Private\n", CHECKED_MAE)
    error = competition.error("id,y\n1,-1\n2,2\n")
    assert error.message == "Predictions must be non-negative."
    assert error.code == "metric_refused"


def test_other_metric_exception_becomes_a_message(tmp_path):
    competition = Competition(tmp_path, "id,y,Usage\n1,1,Public\n2,2,Private\n", CHECKED_MAE)
    error = competition.error("id,y\n1,1\n2,5000\n")
    assert error.message == ("The competition's metric failed on this file: ValueError: the metric cannot handle "
                             "values above 1000")
    assert error.code == "metric_failed"


def test_metric_returning_nan_is_refused(tmp_path):
    nan_metric = Scorer("test_scoring_nan", True, "number", lambda t, p: float("nan"))
    competition = Competition(tmp_path, "id,y,Usage\n1,1,Public\n2,2,Private\n", nan_metric)
    error = competition.error("id,y\n1,1\n2,2\n")
    assert error.message == ("The competition's metric failed on this file: it gave nan on the Public rows instead "
                             "of a number.")


def test_scorer_with_another_target_type_needs_a_recompile(labels):
    with pytest.raises(SolutionError) as caught:
        score_upload(labels.compiled, labels.write(upload_text(TRUTH)), MAE)
    assert caught.value.key == "metric"
    assert "compiled for a metric with label targets" in caught.value.message


def test_reopened_solution_scores_the_same(labels):
    path = labels.write(upload_text({**TRUTH, 1: 0}))
    first = score_upload(labels.compiled, path, ACCURACY)
    again = score_upload(CompiledSolution.open(labels.compiled.dest_dir), path, ACCURACY)
    assert (again.public, again.private, again.rows) == (first.public, first.private, first.rows) == (1.0, 0.8, 10)


# --- order does not matter -------------------------------------------------------------------------------------

N = 40


def _solutions(folder):
    """Three compiled solutions of N rows: dense integer ids, sparse integer ids, string ids."""
    rng = np.random.default_rng(0)
    made = {}
    for kind, ids in {"dense": list(range(100, 100 + N)), "sparse": [i * 7 - 50 for i in range(N)],
                      "strings": [f"img{i:04d}.jpg img{(i * 13) % 97:04d}.jpg" for i in range(N)]}.items():
        truth = rng.integers(0, 4, N).tolist()
        usage = [("Public", "Private", "Ignored")[n % 3] for n in range(N)]
        path = folder / f"{kind}.csv"
        path.write_text("id,label,Usage\n" + "".join(f"{i},{t},{u}\n" for i, t, u in zip(ids, truth, usage)))
        made[kind] = (compile_solution(path, "id", ACCURACY, folder / kind), ids, truth, usage)
    return made


@pytest.fixture(scope="module")
def solutions(tmp_path_factory):
    return _solutions(tmp_path_factory.mktemp("permutations"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["dense", "sparse", "strings"]),
       predictions=st.lists(st.integers(0, 3), min_size=N, max_size=N),
       order=st.permutations(range(N)))
def test_row_order_does_not_change_the_scores(solutions, tmp_path_factory, kind, predictions, order):
    compiled, ids, truth, usage = solutions[kind]
    folder = tmp_path_factory.mktemp("uploads")
    ordered, shuffled = folder / "ordered.csv", folder / "shuffled.csv"
    ordered.write_text("id,label\n" + "".join(f"{ids[n]},{predictions[n]}\n" for n in range(N)))
    shuffled.write_text("id,label\n" + "".join(f"{ids[n]},{predictions[n]}\n" for n in order))
    a, b = score_upload(compiled, ordered, ACCURACY), score_upload(compiled, shuffled, ACCURACY)
    assert (a.public, a.private) == (b.public, b.private)
    for split, score in (("Public", a.public), ("Private", a.private)):
        hits = [predictions[n] == truth[n] for n in range(N) if usage[n] == split]
        assert score == pytest.approx(sum(hits) / len(hits))


def test_alignment_holds_even_when_the_fast_path_cannot_prove_it(tmp_path, monkeypatch):
    # Simulate a tie of 64-bit hashes: the fast alignment gives up although every id matches.
    competition = Competition(tmp_path, "id,label,Usage\nb,1,Public\na,0,Private\nc,1,Private\n", ACCURACY)
    monkeypatch.setattr(type(competition.compiled.index), "align", lambda self, ids: None)
    result = competition.score("id,label\nc,1\nb,1\na,1\n")
    assert (result.public, result.private) == (1.0, 0.5)

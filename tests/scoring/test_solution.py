"""Compiling the instructor's solution: refusals, the fast form, freshness, and the sample submission."""
from __future__ import annotations

import json

import pytest

import scorers
from podium.scoring import (
    CompiledSolution, SolutionError, check_sample_submission, compile_solution, compiled_is_current,
)
from tests.scoring.conftest import ACCURACY, EXACT_TEXT, MAE, SOLUTION


def refuse(tmp_path, text: str, scorer=ACCURACY, id_column: str = "id") -> SolutionError:
    path = tmp_path / "solution.csv"
    path.write_text(text)
    with pytest.raises(SolutionError) as caught:
        compile_solution(path, id_column, scorer, tmp_path / "compiled")
    assert caught.value.key == "solution"
    assert not (tmp_path / "compiled").exists()
    return caught.value


def test_duplicate_ids(tmp_path):
    error = refuse(tmp_path, SOLUTION + "3,1,Private\n7,2,Public\n3,0,Public\n")
    assert error.message == ("solution.csv: 2 ids appear more than once: `3` (lines 5, 12, 14), `7` (lines 9, 13).")


def test_bad_usage_values(tmp_path):
    text = SOLUTION.replace("2,2,Public", "2,2,public").replace("7,0,Private", "7,0,Test")
    error = refuse(tmp_path, text)
    assert error.message == ("solution.csv: 2 rows have a `Usage` other than Public, Private or Ignored: "
                             "line 4: `public`, line 9: `Test`.")


def test_missing_id_column(tmp_path):
    error = refuse(tmp_path, SOLUTION.replace("id,label,Usage", "ID,label,Usage"))
    assert error.message == ("solution.csv: the id column `id` (evaluation.id_column) is missing; the columns found "
                             "are `ID`, `label`, `Usage`.")


def test_missing_usage_column(tmp_path):
    error = refuse(tmp_path, "id,label\n1,2\n")
    assert error.message == ("solution.csv: the column `Usage` is missing (it says which rows are Public, Private "
                             "or Ignored); the columns found are `id`, `label`.")


def test_empty_ids(tmp_path):
    error = refuse(tmp_path, SOLUTION.replace("\n5,1,Private", "\n,1,Private"))
    assert error.message == "solution.csv: 1 row has an empty id (column `id`), on line 7."


def test_no_target_column(tmp_path):
    assert refuse(tmp_path, "id,Usage\n1,Public\n").message == (
        "solution.csv: there is no target column beside `id` and `Usage`.")


def test_needs_public_and_private_rows(tmp_path):
    error = refuse(tmp_path, "id,label,Usage\n1,2,Public\n2,3,Ignored\n")
    assert error.message == ("solution.csv: needs at least one Public and one Private row; found 1 Public, "
                             "0 Private and 1 Ignored.")


def test_number_targets_must_parse(tmp_path):
    error = refuse(tmp_path, "id,y,Usage\n1,0.5,Public\n2,high,Private\n3,nan,Private\n", MAE)
    assert error.message == ("solution.csv: column `y` has 2 values that are not finite numbers: line 3: `high`, "
                             "line 4: `nan`.")


def test_scored_targets_must_not_be_empty(tmp_path):
    error = refuse(tmp_path, "id,label,Usage\n1,,Public\n2,1,Private\n")
    assert error.message == "solution.csv: column `label` is empty on 1 scored row (Public or Private), on line 2."


def test_wrong_number_of_fields(tmp_path):
    error = refuse(tmp_path, "id,label,Usage\n1,2,Public\n2,Private\n")
    assert error.message == ("solution.csv: 1 line has the wrong number of fields (expected 3, as in the header "
                             "`id,label,Usage`): line 3 has 2 fields.")


def test_empty_solution(tmp_path):
    assert refuse(tmp_path, "").message == "solution.csv: The file is empty."
    assert refuse(tmp_path, "id,label,Usage\n").message == "solution.csv: has a header but no rows."


def test_metric_undefined_on_the_solution(tmp_path):
    text = "id,label,Usage\n1,0,Public\n2,0,Public\n3,1,Private\n4,0,Private\n"
    error = refuse(tmp_path, text, scorers.get("roc_auc"))
    assert error.message.startswith("solution.csv: the metric `roc_auc` cannot score the Public rows: ")
    assert "only one class" in error.message


def test_ignored_rows_need_no_valid_target(tmp_path):
    path = tmp_path / "solution.csv"
    path.write_text("id,y,Usage\n1,0.5,Public\n2,,Ignored\n3,n/a,Ignored\n4,2,Private\n")
    compiled = compile_solution(path, "id", MAE, tmp_path / "compiled")
    assert compiled.counts == {"Public": 1, "Private": 1, "Ignored": 2}


def test_manifest_describes_the_fast_form(tmp_path):
    path = tmp_path / "solution.csv"
    path.write_text(SOLUTION)
    compiled = compile_solution(path, "id", ACCURACY, tmp_path / "compiled")
    manifest = json.loads((tmp_path / "compiled" / "manifest.json").read_text())
    assert manifest["id_column"] == "id" and manifest["id_kind"] == "int"
    assert manifest["target_columns"] == ["label"] and manifest["target_kinds"] == {"label": "int"}
    assert manifest["counts"] == {"Public": 3, "Private": 5, "Ignored": 2}
    assert len(manifest["source"]["sha256"]) == 64
    assert (compiled.id_column, compiled.target_columns, compiled.expected_header, compiled.n_rows) == (
        "id", ["label"], ["id", "label"], 10)
    assert compiled.ids.to_pylist() == list(range(10))  # ids sorted


def test_string_labels_stay_strings_and_text_stays_text(tmp_path):
    path = tmp_path / "solution.csv"
    path.write_text("id,label,Usage\n1,1,Public\n2,two,Private\n")
    assert compile_solution(path, "id", ACCURACY, tmp_path / "a").target_kinds == {"label": "str"}
    path.write_text("id,label,Usage\n1,1,Public\n2,2,Private\n")
    assert compile_solution(path, "id", EXACT_TEXT, tmp_path / "b").target_kinds == {"label": "str"}


def test_compiled_is_current(tmp_path):
    path = tmp_path / "solution.csv"
    path.write_text(SOLUTION)
    dest = tmp_path / "compiled"
    assert not compiled_is_current(path, dest)
    compile_solution(path, "id", ACCURACY, dest)
    assert compiled_is_current(path, dest)
    assert compiled_is_current(path, dest, id_column="id", scorer=ACCURACY)
    assert not compiled_is_current(path, dest, id_column="image")
    assert not compiled_is_current(path, dest, scorer=MAE)
    path.write_text(SOLUTION.replace("9,2,Private", "9,1,Private"))  # same size, new content
    assert not compiled_is_current(path, dest)


def test_recompiling_replaces_the_old_form(tmp_path):
    path = tmp_path / "solution.csv"
    path.write_text(SOLUTION)
    dest = tmp_path / "compiled"
    compile_solution(path, "id", ACCURACY, dest)
    path.write_text(SOLUTION + "10,1,Private\n")
    compiled = compile_solution(path, "id", ACCURACY, dest)
    assert CompiledSolution.open(dest).n_rows == compiled.n_rows == 11
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compiled", "solution.csv"]  # no staging left behind


def test_refused_recompile_keeps_the_previous_form(tmp_path):
    path = tmp_path / "solution.csv"
    path.write_text(SOLUTION)
    dest = tmp_path / "compiled"
    compile_solution(path, "id", ACCURACY, dest)
    path.write_text(SOLUTION + "3,1,Private\n")
    with pytest.raises(SolutionError):
        compile_solution(path, "id", ACCURACY, dest)
    assert CompiledSolution.open(dest).n_rows == 10


def test_opening_a_folder_without_a_compiled_solution(tmp_path):
    with pytest.raises(SolutionError) as caught:
        CompiledSolution.open(tmp_path)
    assert "run `podium load` again" in caught.value.message


# --- sample submission -----------------------------------------------------------------------------------------


@pytest.fixture
def compiled(tmp_path) -> CompiledSolution:
    path = tmp_path / "solution.csv"
    path.write_text(SOLUTION)
    return compile_solution(path, "id", ACCURACY, tmp_path / "compiled")


def sample(tmp_path, text: str):
    path = tmp_path / "sample_submission.csv"
    path.write_text(text)
    return path


def test_good_sample_submission(tmp_path, compiled):
    check_sample_submission(sample(tmp_path, "id,label\n" + "".join(f"{i},0\n" for i in range(9, -1, -1))), compiled)


def test_sample_submission_with_another_header(tmp_path, compiled):
    with pytest.raises(SolutionError) as caught:
        check_sample_submission(sample(tmp_path, "id,prediction\n" + "".join(f"{i},0\n" for i in range(10))),
                                compiled)
    assert caught.value.key == "sample_submission"
    assert caught.value.message == ("sample_submission.csv: expected the header `id,label` (the solution's columns "
                                    "without `Usage`); found `id,prediction`.")


def test_sample_submission_with_other_ids(tmp_path, compiled):
    ids = [0, 1, 2, 3, 4, 5, 6, 11, 12, 12]
    with pytest.raises(SolutionError) as caught:
        check_sample_submission(sample(tmp_path, "id,label\n" + "".join(f"{i},0\n" for i in ids)), compiled)
    assert caught.value.key == "sample_submission"
    assert caught.value.message == (
        "sample_submission.csv: its ids differ from the solution's (10 rows for 10 ids). 3 ids of the competition "
        "are missing from the sample submission, e.g. `7`, `8`, `9`. 3 rows of the sample submission have ids that "
        "are not in the competition, e.g. `11` (line 9), `12` (line 10), `12` (line 11). 1 id appears more than "
        "once in the sample submission, e.g. `12` (lines 10, 11); each id must have exactly one row.")

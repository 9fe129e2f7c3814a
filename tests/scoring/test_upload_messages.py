"""Every refusal of an upload says what to fix: counts, the first few examples, line numbers, column names."""
from __future__ import annotations

import pytest

from tests.scoring.conftest import EXACT_TEXT, MAE, TRUTH, Competition, upload_text

NUMBERS = "id,score,Usage\n" + "".join(f"{i},{i / 2},{'Public' if i % 2 else 'Private'}\n" for i in range(8))


@pytest.fixture
def numbers(tmp_path) -> Competition:
    return Competition(tmp_path / "numbers", NUMBERS, MAE)


def test_empty_file(labels):
    error = labels.error(b"")
    assert error.message == "The file is empty."
    assert error.code == "empty" and error.status == 422


def test_whitespace_only_file_is_empty(labels):
    assert labels.error("\n\r\n  \n").message == "The file is empty."


def test_header_without_rows(labels):
    error = labels.error("id,label\n")
    assert error.message == "The file has the header but no rows; expected 10 rows, one per id."


def test_wrong_column_name(labels):
    error = labels.error(upload_text(TRUTH, header="id,prediction"))
    assert error.message == ("Expected the header `id,label`; found `id,prediction`. Missing column: `label`. "
                             "Unexpected column: `prediction`; remove it.")
    assert error.code == "missing_columns"


def test_missing_column(labels):
    error = labels.error("id\n" + "".join(f"{i}\n" for i in TRUTH))
    assert error.message == "Expected the header `id,label`; found `id`. Missing column: `label`."


def test_extra_columns(labels):
    content = "id,label,confidence,notes\n" + "".join(f"{i},{v},0.5,x\n" for i, v in TRUTH.items())
    error = labels.error(content)
    assert error.message == ("Expected the header `id,label`; found `id,label,confidence,notes`. Unexpected columns: "
                             "`confidence`, `notes`; remove them.")
    assert error.code == "extra_columns"


def test_saved_pandas_index_gets_a_hint(labels):
    content = ",id,label\n" + "".join(f"{n},{i},{v}\n" for n, (i, v) in enumerate(TRUTH.items()))
    error = labels.error(content)
    assert error.message.startswith("Expected the header `id,label`; found `,id,label`. Unexpected column: an "
                                    "unnamed column; remove it.")
    assert "`df.to_csv(path, index=False)`" in error.message


def test_case_of_column_names_matters_and_is_explained(labels):
    error = labels.error(upload_text(TRUTH, header="ID,Label"))
    assert error.message.startswith("Expected the header `id,label`; found `ID,Label`.")
    assert "Column names are case-sensitive." in error.message


def test_missing_header_line(labels):
    error = labels.error("".join(f"{i},{v}\n" for i, v in TRUTH.items()))
    assert error.message.startswith("Expected the header `id,label`; found `0,3`.")
    assert error.message.endswith("The first line must be the header.")


@pytest.mark.parametrize("separator, shown, named", [(";", "id;label", "`;`"), ("\t", "id\\tlabel", "a tab")])
def test_other_separators_are_named(labels, separator, shown, named):
    error = labels.error(upload_text(TRUTH).replace(",", separator))
    assert error.message == (f"Expected the header `id,label`; found `{shown}`. Missing columns: `id`, `label`. "
                             f"Unexpected column: `{shown}`; remove it. The file seems to separate columns with "
                             f"{named}; separate them with commas.")


def test_repeated_column(labels):
    content = "id,label,label\n" + "".join(f"{i},{v},{v}\n" for i, v in TRUTH.items())
    error = labels.error(content)
    assert error.message.startswith("Expected the header `id,label`; found `id,label,label`. The column `label` "
                                    "appears more than once.")
    assert error.code == "duplicate_columns"


def test_missing_ids_are_counted_with_the_first_five(labels):
    kept = {i: v for i, v in TRUTH.items() if i not in (0, 2, 3, 5, 6, 9)}
    error = labels.error(upload_text(kept))
    assert error.message == ("The file has 4 rows for the competition's 10 ids. 6 ids of the competition are missing "
                             "from the file, e.g. `0`, `2`, `3`, `5`, `6` and 1 more.")
    assert error.code == "missing_ids"


def test_missing_ignored_id_is_still_missing(labels):
    without_ignored = {i: v for i, v in TRUTH.items() if i != 4}
    error = labels.error(upload_text(without_ignored))
    assert error.message == ("The file has 9 rows for the competition's 10 ids. 1 id of the competition is missing "
                             "from the file, e.g. `4`.")


def test_duplicate_ids_name_their_lines(labels):
    content = upload_text(TRUTH) + "3,0\n7,1\n3,2\n"
    error = labels.error(content)
    assert error.message == ("The file has 13 rows for the competition's 10 ids. 2 ids appear more than once in the "
                             "file, e.g. `3` (lines 5, 12, 14), `7` (lines 9, 13); each id must have exactly one row.")
    assert error.code == "duplicate_ids"


def test_unknown_ids_name_their_lines(labels):
    content = upload_text({**{i: v for i, v in TRUTH.items() if i < 8}, 10: 1, 11: 2})
    error = labels.error(content)
    assert error.message == ("2 ids of the competition are missing from the file, e.g. `8`, `9`. 2 rows of the file "
                             "have ids that are not in the competition, e.g. `10` (line 10), `11` (line 11).")


def test_swapped_row_is_missing_and_unknown_with_same_row_count(labels):
    content = upload_text({**{i: v for i, v in TRUTH.items() if i != 5}, 42: 1})
    error = labels.error(content)
    assert error.message == ("1 id of the competition is missing from the file, e.g. `5`. 1 row of the file has an "
                             "id that is not in the competition, e.g. `42` (line 11).")
    assert error.code == "missing_ids"


def test_values_that_do_not_parse_name_line_and_column(labels):
    content = upload_text({**TRUTH, 2: "cat", 7: "2.5"})
    error = labels.error(content)
    assert error.message == ("Column `label` has 2 values that are not integer class labels, e.g. line 4: `cat`, "
                             "line 9: `2.5`.")
    assert error.code == "bad_values"


def test_many_bad_values_show_five(labels):
    content = upload_text({i: f"x{i}" for i in TRUTH})
    error = labels.error(content)
    assert error.message == ("Column `label` has 10 values that are not integer class labels, e.g. line 2: `x0`, "
                             "line 3: `x1`, line 4: `x2`, line 5: `x3`, line 6: `x4` and 5 more.")


def test_integer_ids_that_do_not_parse(labels):
    content = upload_text({**{i: v for i, v in TRUTH.items() if i != 4}, "four": 3})
    error = labels.error(content)
    assert error.message == "Column `id` has 1 value that is not an integer id, e.g. line 11: `four`."


def test_numbers_that_do_not_parse(numbers):
    content = "id,score\n" + "".join(f"{i},{'high' if i == 3 else i}\n" for i in range(8))
    error = numbers.error(content)
    assert error.message == "Column `score` has 1 value that is not a finite number, e.g. line 5: `high`."


def test_non_finite_numbers(numbers):
    values = {0: "nan", 1: "1", 2: "inf", 3: "3", 4: "-inf", 5: "5", 6: "6", 7: "7"}
    error = numbers.error("id,score\n" + "".join(f"{i},{v}\n" for i, v in values.items()))
    assert error.message == ("Column `score` has 3 values that are not finite numbers, e.g. line 2: `nan`, line 4: "
                             "`inf`, line 6: `-inf`.")


def test_empty_values_name_line_and_column(labels):
    content = upload_text({**TRUTH, 3: "", 8: ""})
    error = labels.error(content)
    assert error.message == "Column `label` has 2 empty values, on lines 5, 10."
    assert error.code == "empty_values"


def test_quoted_empty_value_is_empty(numbers):
    content = "id,score\n" + "".join(f'{i},{chr(34) * 2 if i == 6 else i}\n' for i in range(8))
    assert numbers.error(content).message == "Column `score` has 1 empty value, on line 8."


def test_empty_id(labels):
    content = upload_text(TRUTH).replace("\n4,3\n", "\n,3\n")
    error = labels.error(content)
    assert error.message == "Column `id` has 1 empty value, on line 6."


def test_bad_and_empty_values_are_reported_together(labels):
    content = upload_text({**TRUTH, 1: "dog", 6: ""})
    error = labels.error(content)
    assert error.message == ("Column `label` has 1 value that is not an integer class label, e.g. line 3: `dog`. "
                             "Column `label` has 1 empty value, on line 8.")


def test_lines_with_the_wrong_number_of_fields(labels):
    content = upload_text(TRUTH).replace("\n3,0\n", "\n3,0,1\n").replace("\n6,2\n", "\n6\n")
    error = labels.error(content)
    assert error.message == ("2 lines have the wrong number of fields (expected 2, as in the header `id,label`): "
                             "line 5 has 3 fields, line 8 has 1 field.")
    assert error.code == "bad_rows"


def test_line_numbers_count_quoted_newlines_and_blank_lines(tmp_path):
    competition = Competition(tmp_path, "id,text,Usage\n1,a b,Public\n2,c,Private\n3,d,Private\n4,e,Public\n",
                              EXACT_TEXT)
    content = 'id,text\n1,"a\nb"\n\n2,c\n,d\n4,e\n'
    error = competition.error(content)
    assert error.message == "Column `id` has 1 empty value, on line 6."


def test_empty_text_is_a_valid_prediction(tmp_path):
    competition = Competition(tmp_path, "id,text,Usage\n1,hello,Public\n2,,Private\n3,x,Private\n", EXACT_TEXT)
    result = competition.score('id,text\n1,hello\n2,""\n3,\n')
    assert (result.public, result.private) == (1.0, 0.5)


def test_integral_floats_are_accepted_as_integer_labels(labels):
    result = labels.score(upload_text({i: f"{v}.0" for i, v in TRUTH.items()}))
    assert (result.public, result.private) == (1.0, 1.0)


def test_messages_carry_no_traceback_for_garbage(labels):
    error = labels.error(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    assert error.code == "not_text"
    assert "NUL byte at byte offset 8" in error.message

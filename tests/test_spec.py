"""`podium load` refuses a bad course folder with one line naming the file and the key (issue: competitions as code)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from podium.errors import ConfigError
from podium.spec import read_course
from tests.conftest import write_course


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def refusal(course: Path, load=read_course) -> str:
    with pytest.raises(ConfigError) as info:
        load(course)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_good_folder_reads_with_deadlines_in_utc(course_dir):
    spec = read_course(course_dir)
    comp = spec.competitions[0]
    assert spec.slug == "c1" and spec.timezone == "America/New_York"
    assert comp.opens.utcoffset().total_seconds() == 0
    assert comp.opens < comp.early < comp.ontime < comp.late
    assert comp.higher_is_better is True
    assert [p.name for p in comp.data_files] == ["README.md", "sample_submission.csv"]
    assert spec.policy["slack_days"] == 7 and spec.policy["daily_limit"] == 5


def test_unknown_metric_is_refused_with_the_available_ones(course_dir):
    edit(course_dir / "hw1/competition.toml", 'metric = "accuracy"', 'metric = "acuracy"')
    message = refusal(course_dir)
    assert message.startswith(str(course_dir / "hw1/competition.toml") + ": [evaluation] metric:")
    assert "'acuracy'" in message and "accuracy" in message.split("available:")[1]


def test_cutoffs_out_of_order_for_a_higher_is_better_metric(course_dir):
    edit(course_dir / "hw1/competition.toml", "B = 0.8", "B = 0.95")
    message = refusal(course_dir)
    assert "competition.toml: [grading] cutoffs:" in message
    assert "B" in message


def test_cutoffs_must_decrease_for_a_lower_is_better_metric(tmp_path):
    course = write_course(tmp_path, cutoffs="{ A = 0.9, B = 0.8, C = 0.7, D = 0.5 }")
    edit(course / "hw1/competition.toml", 'metric = "accuracy"', 'metric = "rmse"')
    assert "[grading] cutoffs:" in refusal(course)
    edit(course / "hw1/competition.toml", "A = 0.9, B = 0.8, C = 0.7, D = 0.5", "A = 0.5, B = 0.7, C = 0.8, D = 0.9")
    assert read_course(course).competitions[0].higher_is_better is False


def test_late_before_ontime_is_refused(course_dir):
    toml = course_dir / "hw1/competition.toml"
    late = re.search(r'late = "(.*)"', toml.read_text()).group(1)
    ontime = re.search(r'ontime = "(.*)"', toml.read_text()).group(1)
    edit(toml, f'late = "{late}"', f'late = "{ontime[:4]}-01-01 00:00:00"')
    edit(toml, 'opens = "', f'opens = "{int(ontime[:4]) - 1}-01-01 00:00:00"\n# was "')
    toml.write_text(re.sub(r'early = ".*"\n', "", toml.read_text()))
    assert "competition.toml: [schedule] late: is before ontime" in refusal(course_dir)


def test_unknown_time_zone_is_refused(course_dir):
    edit(course_dir / "course.toml", 'timezone = "America/New_York"', 'timezone = "Mars/Olympus"')
    message = refusal(course_dir)
    assert message.startswith(str(course_dir / "course.toml") + ": [course] timezone:")
    assert "Mars/Olympus" in message


def test_a_malformed_time_is_refused_with_the_expected_format(course_dir):
    edit(course_dir / "hw1/competition.toml", 'ontime = "', 'ontime = "tomorrow"\n# ')
    message = refusal(course_dir)
    assert "[schedule] ontime:" in message and "YYYY-MM-DD HH:MM:SS" in message


@pytest.mark.parametrize("key, name", [("solution", "solution.csv"), ("sample_submission", "sample_submission.csv")])
def test_missing_files_are_refused(course_dir, key, name):
    (course_dir / "hw1" / name).unlink()
    message = refusal(course_dir)
    assert f"[evaluation] {key}: file not found" in message and name in message


def test_a_missing_data_file_is_refused(course_dir):
    (course_dir / "hw1/README.md").unlink()
    assert "[evaluation] data_files: file not found" in refusal(course_dir)


def test_the_solution_may_not_be_offered_for_download(course_dir):
    edit(course_dir / "hw1/competition.toml", 'data_files = ["README.md"', 'data_files = ["solution.csv", "README.md"')
    assert "[evaluation] data_files: must not list the solution" in refusal(course_dir)


def test_files_outside_the_competition_folder_are_refused(course_dir):
    edit(course_dir / "hw1/competition.toml", 'solution = "solution.csv"', 'solution = "../course.toml"')
    assert "[evaluation] solution: '../course.toml' lies outside the competition folder" in refusal(course_dir)


def test_a_missing_course_toml_is_refused(course_dir):
    (course_dir / "course.toml").unlink()
    assert "course.toml: missing" in refusal(course_dir)


def test_unknown_keys_are_refused_so_typos_do_not_fall_back_to_defaults(course_dir):
    edit(course_dir / "hw1/competition.toml", "[schedule]", "[schedule]\nontme = \"2019-01-01 00:00:00\"")
    message = refusal(course_dir)
    assert "[schedule] ontme: unknown key; expected one of early, late, ontime, opens" in message


def test_a_missing_required_key_is_named(course_dir):
    toml = course_dir / "hw1/competition.toml"
    toml.write_text(re.sub(r'id_column = ".*"\n', "", toml.read_text()))
    assert "[evaluation] id_column: missing" in refusal(course_dir)


def test_bad_policy_values_are_refused(course_dir):
    edit(course_dir / "course.toml", "daily_limit = 5", 'daily_limit = 5\nslack_policy = "generous"')
    assert "[policy] slack_policy: must be one of chronological, optimal" in refusal(course_dir)


def test_a_custom_metric_needs_its_direction(course_dir):
    (course_dir / "hw1/metric.py").write_text("def score(solution, submission, row_id_column_name):\n    return 1.0\n")
    edit(course_dir / "hw1/competition.toml", 'metric = "accuracy"', 'metric = "custom:metric.py"')
    assert "[evaluation] higher_is_better: required with a custom metric" in refusal(course_dir)
    edit(course_dir / "hw1/competition.toml", 'metric = "custom:metric.py"',
         'metric = "custom:metric.py"\nhigher_is_better = true')
    assert read_course(course_dir).competitions[0].metric == "custom:metric.py"


def test_invalid_toml_is_refused_with_the_parser_position(course_dir):
    (course_dir / "hw1/competition.toml").write_text("[competition\nslug = 'x'\n")
    assert "competition.toml: not valid TOML" in refusal(course_dir)

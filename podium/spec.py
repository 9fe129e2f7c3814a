"""Competitions as code: read and check a course folder.

A course folder holds `course.toml` and one sub-folder per competition with its `competition.toml`
(format in DESIGN.md). Reading it has no side effects; `services.courses.load_course` stores the result.
Every refusal is one line naming the file and the key, so an instructor can fix it without reading code.
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import scorers
from podium import rules
from podium.rules.code import DEFAULT_CODE_UPLOADS
from podium.errors import ConfigError
from podium.models import Competition, Course

COURSE_FILE = "course.toml"
COMPETITION_FILE = "competition.toml"
CUSTOM_PREFIX = "custom:"

_DEFAULTS = rules.CoursePolicy()
# POLICY.md section 1's defaults, as the rules define them; a course's [policy] table overrides any of them.
DEFAULT_POLICY: dict[str, Any] = {
    "slack_days": _DEFAULTS.slack_days,
    "slack_policy": _DEFAULTS.slack_policy,
    "late_factor": _DEFAULTS.late_factor,
    "early_miss_factor": _DEFAULTS.early_miss_factor,
    "bonus_points": _DEFAULTS.bonus_points,
    "points": asdict(_DEFAULTS.points),
    "selection": _DEFAULTS.selection,
    "max_selected": _DEFAULTS.max_selected,
    "daily_limit": _DEFAULTS.daily_limit,
    "missing_code": _DEFAULTS.missing_code,
}

# The earliest and latest wall-clock years a schedule may give: anything outside is a typo, and times near
# datetime's own limits (years 1 and 9999) overflow when converted to UTC or moved by slack days and extensions.
YEARS = (1900, 2999)
# Upper bounds where a larger number breaks something rather than meaning more: a daily limit is stored in a 32-bit
# column (a larger one failed the load with a database error), and the optimal slack policy's search costs time
# and memory in proportion to the slack budget (a budget of 10**9 would hang grading).
MAX_DAILY_LIMIT = 1_000_000
MAX_SLACK_DAYS = 365
# A Canvas assignment id is stored in a 64-bit column.
MAX_CANVAS_ID = 2**63 - 1

COURSE_KEYS = {"course": {"slug", "title", "timezone"}, "policy": set(DEFAULT_POLICY)}
COMPETITION_KEYS = {
    "competition": {"slug", "title", "weight", "slack_eligible", "allow_practice", "auto_release",
                    "data_visible_before_open", "display_precision", "daily_limit", "description",
                    "canvas_assignment_id"},
    "schedule": {"opens", "early", "ontime", "late"},
    "evaluation": {"metric", "id_column", "solution", "sample_submission", "data_files", "higher_is_better"},
    "grading": {"cutoffs"},
    "code": {"required", "deadline", "max_mb", "max_uploads", "kinds", "starter"},
}
REQUIRED = {
    "course": ("slug", "title", "timezone"),
    "competition": ("slug", "title"),
    "schedule": ("opens", "ontime", "late"),
    "evaluation": ("metric", "id_column", "solution"),
    "grading": ("cutoffs",),
}


# [code]: what students may upload as the code behind their predictions (POLICY.md section 12).
CODE_KINDS = (".zip", ".tar.gz", ".py", ".ipynb")
CODE_DEADLINE_AFTER_LATE = timedelta(days=2)
DEFAULT_CODE_MB = 20.0
MAX_CODE_UPLOADS = 1000
MAX_CODE_MB = 1000.0  # more is a typo: a course's code is megabytes, and the archive checks read it all


@dataclass(frozen=True)
class CodeSpec:
    """A competition's [code] table: whether code is required, its deadline (UTC; the student's extension moves it
    like the other deadlines), the upload size limit, the kinds of file accepted, and the starter files every
    student received (boilerplate the integrity report leaves out)."""

    required: bool
    deadline: datetime
    max_mb: float = DEFAULT_CODE_MB
    kinds: tuple[str, ...] = CODE_KINDS
    starter: tuple[Path, ...] = ()
    max_uploads: int = DEFAULT_CODE_UPLOADS  # per student; with max_mb, the disk one student can fill


@dataclass(frozen=True)
class CompetitionSpec:
    slug: str
    title: str
    weight: float
    slack_eligible: bool
    allow_practice: bool
    auto_release: bool
    display_precision: int
    daily_limit: int | None
    description: str
    opens: datetime
    early: datetime | None
    ontime: datetime
    late: datetime
    metric: str
    higher_is_better: bool
    id_column: str
    solution: Path
    sample_submission: Path | None
    data_files: tuple[Path, ...]
    cutoffs: dict[str, Any]
    folder: Path
    toml_path: Path
    canvas_assignment_id: int | None = None
    # Students download the data files before `opens` too (they are hidden from students until then otherwise).
    data_visible_before_open: bool = False
    code: CodeSpec | None = None

    def scorer(self) -> scorers.AnyScorer:
        return scorer_for(self.metric, self.folder, self.higher_is_better)


@dataclass(frozen=True)
class CourseSpec:
    slug: str
    title: str
    timezone: str
    policy: dict[str, Any]
    folder: Path
    competitions: tuple[CompetitionSpec, ...] = field(default=())


def scorer_for(metric: str, folder: Path, higher_is_better: bool | None = None) -> scorers.AnyScorer:
    """The registered scorer, or the instructor's Kaggle-style metric file for `custom:FILE`."""
    if metric.startswith(CUSTOM_PREFIX):
        from scorers.kaggle import load_custom  # pandas: only for a custom metric, never for a light command

        path = folder / metric[len(CUSTOM_PREFIX):]
        return load_custom(path, higher_is_better=bool(higher_is_better), name=f"{folder.name}:{path.name}")
    return scorers.get(metric)


def read_course(folder: Path) -> CourseSpec:
    """Read and check a whole course folder; raises ConfigError on the first problem found."""
    folder = Path(folder)
    course_file = folder / COURSE_FILE
    if not folder.is_dir():
        raise ConfigError(folder, "", "no such course folder")
    if not course_file.is_file():
        raise ConfigError(course_file, "", f"missing; a course folder needs a {COURSE_FILE}")
    data = _read_toml(course_file)
    _check_tables(course_file, data, COURSE_KEYS)
    course = data["course"]
    tz = _timezone(course_file, "[course] timezone", course["timezone"])
    policy = _policy(course_file, data.get("policy", {}))
    competitions = tuple(
        read_competition(path, tz, policy)
        for path in sorted(folder.glob(f"*/{COMPETITION_FILE}"))
    )
    slugs = [c.slug for c in competitions]
    if dup := sorted({s for s in slugs if slugs.count(s) > 1}):
        raise ConfigError(folder, "[competition] slug", f"used by more than one competition: {', '.join(dup)}")
    canvas_ids = [c.canvas_assignment_id for c in competitions if c.canvas_assignment_id is not None]
    if dup := sorted({i for i in canvas_ids if canvas_ids.count(i) > 1}):
        # Two columns for one Canvas assignment: Canvas would fill it twice, the second column's grades winning.
        raise ConfigError(folder, "[competition] canvas_assignment_id",
                          f"used by more than one competition: {', '.join(map(str, dup))}")
    return CourseSpec(
        slug=_slug(course_file, "[course] slug", course["slug"], width=Course.slug.type.length),
        title=_text(course_file, "[course] title", course["title"], width=Course.title.type.length),
        timezone=tz.key,
        policy=policy,
        folder=folder.resolve(),
        competitions=tuple(sorted(competitions, key=lambda c: rules.course_order(c.ontime, c.slug))),
    )


def read_competition(path: Path, tz: ZoneInfo, policy: dict[str, Any]) -> CompetitionSpec:
    data = _read_toml(path)
    _check_tables(path, data, COMPETITION_KEYS)
    folder = path.parent.resolve()
    comp, schedule, evaluation = data["competition"], data["schedule"], data["evaluation"]

    times = {key: _local_time(path, f"[schedule] {key}", schedule[key], tz) for key in schedule}
    _check_schedule(path, times)

    metric = _text(path, "[evaluation] metric", evaluation["metric"], width=Competition.metric.type.length)
    higher = evaluation.get("higher_is_better")
    if metric.startswith(CUSTOM_PREFIX) and higher is None:
        raise ConfigError(path, "[evaluation] higher_is_better",
                          "required with a custom metric: true when a larger score is better")
    try:
        scorer = scorer_for(metric, folder, higher)
    except scorers.ScorerError as exc:
        raise ConfigError(path, "[evaluation] metric", str(exc)) from None
    if higher is not None and not metric.startswith(CUSTOM_PREFIX) and bool(higher) != scorer.higher_is_better:
        raise ConfigError(path, "[evaluation] higher_is_better",
                          f"{metric} is {'higher' if scorer.higher_is_better else 'lower'}-is-better; remove the key")

    cutoffs = _cutoffs(path, data["grading"]["cutoffs"], scorer.higher_is_better)
    return CompetitionSpec(
        slug=_slug(path, "[competition] slug", comp["slug"], width=Competition.slug.type.length),
        title=_text(path, "[competition] title", comp["title"], width=Competition.title.type.length),
        weight=_number(path, "[competition] weight", comp.get("weight", 1.0), minimum=0),
        slack_eligible=_bool(path, "[competition] slack_eligible", comp.get("slack_eligible", True)),
        allow_practice=_bool(path, "[competition] allow_practice", comp.get("allow_practice", False)),
        auto_release=_bool(path, "[competition] auto_release", comp.get("auto_release", False)),
        data_visible_before_open=_bool(path, "[competition] data_visible_before_open",
                                       comp.get("data_visible_before_open", False)),
        display_precision=int(_number(path, "[competition] display_precision", comp.get("display_precision", 5),
                                      minimum=0, maximum=12, integer=True)),
        daily_limit=(None if "daily_limit" not in comp else
                     int(_number(path, "[competition] daily_limit", comp["daily_limit"], minimum=1,
                                 maximum=MAX_DAILY_LIMIT, integer=True))),
        description=_description(path, comp.get("description", "")),
        opens=times["opens"],
        early=times.get("early"),
        ontime=times["ontime"],
        late=times["late"],
        metric=metric,
        higher_is_better=scorer.higher_is_better,
        id_column=_text(path, "[evaluation] id_column", evaluation["id_column"],
                        width=Competition.id_column.type.length),
        solution=_existing_file(path, "[evaluation] solution", folder, evaluation["solution"]),
        sample_submission=(None if "sample_submission" not in evaluation else
                           _existing_file(path, "[evaluation] sample_submission", folder,
                                          evaluation["sample_submission"])),
        data_files=tuple(_data_files(path, folder, evaluation.get("data_files", []), evaluation)),
        cutoffs=cutoffs,
        folder=folder,
        toml_path=path,
        canvas_assignment_id=(None if "canvas_assignment_id" not in comp else
                              _canvas_assignment_id(path, comp["canvas_assignment_id"])),
        code=None if "code" not in data else _code(path, folder, data["code"], times, tz),
    )


# --- the checks, one small function each -------------------------------------------------------------------


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", f"not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(path, "", "not UTF-8 text") from None


def _check_tables(path: Path, data: dict[str, Any], allowed: dict[str, set[str]]) -> None:
    """Unknown tables and keys are refused: a typo such as `ontme` must not silently fall back to a default."""
    for table in data:
        if table not in allowed:
            raise ConfigError(path, f"[{_shown(table)}]",
                              f"unknown table; expected {', '.join(f'[{t}]' for t in allowed)}")
        if not isinstance(data[table], dict):
            raise ConfigError(path, f"[{table}]", "must be a table, e.g. [" + table + "]")
        for key in data[table]:
            if key not in allowed[table]:
                raise ConfigError(path, f"[{table}] {_shown(key)}",
                                  f"unknown key; expected one of {', '.join(sorted(allowed[table]))}")
    for table, keys in REQUIRED.items():
        if table not in allowed:
            continue
        for key in keys:
            if key not in data.get(table, {}):
                raise ConfigError(path, f"[{table}] {key}", "missing")


def _shown(name: str) -> str:
    """A table or key name as written, with control characters escaped: an error is one printable line."""
    return name if name.isprintable() else repr(name)[1:-1]


def _timezone(path: Path, key: str, value: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(value))
    # OSError too: a folder of the zone database ("America") or a name too long for a file name is no zone either.
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(path, key, f"unknown time zone {value!r}; use an IANA name such as America/New_York") from None


def _local_time(path: Path, key: str, value: Any, tz: ZoneInfo) -> datetime:
    try:
        instant = rules.local_to_utc(value, tz)
    except (ValueError, TypeError, OverflowError) as exc:  # OverflowError: year 1 or 9999 shifted out of range
        raise ConfigError(path, key, f"{exc}; write it as \"YYYY-MM-DD HH:MM:SS\" in the course time zone") from None
    if not YEARS[0] <= instant.year <= YEARS[1]:
        raise ConfigError(path, key, f"{value!s} is not between the years {YEARS[0]} and {YEARS[1]}")
    return instant


def _check_schedule(path: Path, t: dict[str, datetime]) -> None:
    if t["ontime"] < t["opens"]:
        raise ConfigError(path, "[schedule] ontime", "is before opens")
    if "early" in t and not t["opens"] <= t["early"] <= t["ontime"]:
        raise ConfigError(path, "[schedule] early", "must lie between opens and ontime")
    if t["late"] < t["ontime"]:
        raise ConfigError(path, "[schedule] late", "is before ontime; late must be at or after ontime")


def _policy(path: Path, given: dict[str, Any]) -> dict[str, Any]:
    policy = {**DEFAULT_POLICY, **given}
    choices = {"slack_policy": rules.SLACK_POLICIES, "selection": (rules.KAGGLE, rules.ALL),
               "missing_code": rules.MISSING_CODE_POLICIES}
    for key, allowed in choices.items():
        if policy[key] not in allowed:
            raise ConfigError(path, f"[policy] {key}", f"must be one of {', '.join(allowed)}, not {policy[key]!r}")
    for key, maximum in (("slack_days", MAX_SLACK_DAYS), ("max_selected", None), ("daily_limit", MAX_DAILY_LIMIT)):
        _number(path, f"[policy] {key}", policy[key], minimum=0 if key == "slack_days" else 1, maximum=maximum,
                integer=True)
    for key in ("late_factor", "early_miss_factor"):
        _number(path, f"[policy] {key}", policy[key], minimum=0, maximum=1)
    _number(path, "[policy] bonus_points", policy["bonus_points"], minimum=0)
    if not isinstance(policy["points"], dict):
        raise ConfigError(path, "[policy] points", "must be a table such as { A = 100, B = 85, C = 75, D = 65, F = 0 }")
    points = {**DEFAULT_POLICY["points"], **policy["points"]}
    for letter, value in points.items():
        if letter not in ("A", "B", "C", "D", "F"):  # not `in "ABCDF"`: "" and "AB" are substrings of it
            raise ConfigError(path, f"[policy] points.{_shown(letter)}", "unknown letter; use A, B, C, D or F")
        _number(path, f"[policy] points.{letter}", value)
    order = [points[letter] for letter in "ABCDF"]
    if order != sorted(order, reverse=True):
        raise ConfigError(path, "[policy] points", "must decrease from A to F")
    policy["points"] = {k: float(v) for k, v in points.items()}
    return policy


def _code(path: Path, folder: Path, given: dict[str, Any], times: dict[str, datetime], tz: ZoneInfo) -> CodeSpec:
    """The [code] table (POLICY.md section 12); the deadline defaults to two days after `late`."""
    if "deadline" in given:
        deadline = _local_time(path, "[code] deadline", given["deadline"], tz)
        if deadline < times["opens"]:
            raise ConfigError(path, "[code] deadline", "is before opens; code is due after the competition opens")
    else:
        deadline = times["late"] + CODE_DEADLINE_AFTER_LATE
    kinds = given.get("kinds", list(CODE_KINDS))
    if (not isinstance(kinds, list) or not kinds or any(k not in CODE_KINDS for k in kinds)
            or len(set(kinds)) != len(kinds)):
        raise ConfigError(path, "[code] kinds", f"must be a list of distinct kinds among {', '.join(CODE_KINDS)}, "
                                                f"such as [\".zip\", \".py\"]")
    starter = given.get("starter", [])
    if not isinstance(starter, list):
        raise ConfigError(path, "[code] starter", "must be a list of file names in the competition folder")
    return CodeSpec(
        required=_bool(path, "[code] required", given.get("required", False)),
        deadline=deadline,
        max_mb=_number(path, "[code] max_mb", given.get("max_mb", DEFAULT_CODE_MB), minimum=0.001,
                       maximum=MAX_CODE_MB),
        kinds=tuple(k for k in CODE_KINDS if k in kinds),
        starter=tuple(_existing_file(path, "[code] starter", folder, name) for name in starter),
        max_uploads=int(_number(path, "[code] max_uploads", given.get("max_uploads", DEFAULT_CODE_UPLOADS),
                                minimum=1, maximum=MAX_CODE_UPLOADS, integer=True)),
    )


def _cutoffs(path: Path, given: Any, higher_is_better: bool) -> dict[str, Any]:
    if not isinstance(given, dict):
        raise ConfigError(path, "[grading] cutoffs", "must be a table such as { A = 0.8, B = 0.7, C = 0.6, D = 0.5 }")
    problem = rules.check_cutoffs(given, higher_is_better)
    if problem:
        raise ConfigError(path, "[grading] cutoffs", problem)
    return dict(given)


def _existing_file(path: Path, key: str, folder: Path, name: Any) -> Path:
    if not isinstance(name, str) or not name or "\x00" in name:  # a NUL byte is no file name: os.stat raises
        raise ConfigError(path, key, "must be a file name")
    file = (folder / name).resolve()
    if folder not in file.parents:
        raise ConfigError(path, key, f"{name!r} lies outside the competition folder")
    try:
        found = file.is_file()
    except OSError as exc:  # a name too long for the file system is a file that cannot be there
        raise ConfigError(path, key, f"{name[:60]!r}...: {exc.strerror}") from None
    if not found:
        raise ConfigError(path, key, f"file not found: {file}")
    return file


def _data_files(path: Path, folder: Path, names: Any, evaluation: dict[str, Any]) -> list[Path]:
    if not isinstance(names, list):
        raise ConfigError(path, "[evaluation] data_files", "must be a list of file names")
    solution = (folder / str(evaluation["solution"])).resolve()
    files = [_existing_file(path, "[evaluation] data_files", folder, name) for name in names]
    if solution in files:
        raise ConfigError(path, "[evaluation] data_files", "must not list the solution: students would download it")
    return files


def _slug(path: Path, key: str, value: Any, width: int) -> str:
    text = _text(path, key, value, width)
    if not all(ch.isalnum() or ch in "-_" for ch in text) or not text[0].isalnum():
        raise ConfigError(path, key, f"{text!r}: use letters, digits, - and _ only, starting with a letter or digit")
    return text


def _text(path: Path, key: str, value: Any, width: int | None = None) -> str:
    """A non-empty string that its database column can hold (``width`` characters, no NUL): refused here, with
    the file and key named, rather than by the database once the load is under way."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(path, key, "must be a non-empty string")
    if "\x00" in value:
        raise ConfigError(path, key, "must not contain a NUL character (\\u0000)")
    if width is not None and len(value.strip()) > width:
        raise ConfigError(path, key, f"is {len(value.strip())} characters long; the most is {width}")
    return value.strip()


def _description(path: Path, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(path, "[competition] description", "must be a string (Markdown)")
    if "\x00" in value:
        raise ConfigError(path, "[competition] description", "must not contain a NUL character (\\u0000)")
    return value


def _canvas_assignment_id(path: Path, value: Any) -> int:
    """The number at the end of the assignment's Canvas address (.../assignments/123); digits in a string too,
    since that is how it is copied from the address bar."""
    key = "[competition] canvas_assignment_id"
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CANVAS_ID:
        raise ConfigError(path, key, f"must be the assignment's number in Canvas, such as 123 (from its address "
                                     f".../assignments/123), not {value!r}")
    return value


def _bool(path: Path, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(path, key, "must be true or false")
    return value


def _number(path: Path, key: str, value: Any, *, minimum: float | None = None, maximum: float | None = None,
            integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(path, key, f"must be a number, not {value!r}")
    if integer and value != int(value):
        raise ConfigError(path, key, f"must be a whole number, not {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(path, key, f"must be at least {minimum}, not {value!r}")
    if maximum is not None and value > maximum:
        raise ConfigError(path, key, f"must be at most {maximum}, not {value!r}")
    return float(value)

"""Load a course folder (competitions as code) into the database, idempotently.

What a running server needs is copied under the data directory: the solution in its compiled form, a custom
metric file, and the files students may download. The instructor's checkout can change or vanish afterwards.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from podium import rules
from podium.config import Settings
from podium.errors import ConfigError, Forbidden, NotFound
from podium.models import Competition, Course, DataFile, Role, User
from podium.services import audit
from podium.services.rule_values import schedule_of
from podium.services.users import role_in
from podium.services.files import sha256_of, store_copy

# podium.spec (course.toml, the metrics' registry) is imported by the functions that load a folder: the commands that
# only look a course or a competition up (`grades explain`, `slack balance`, `jobs`) never read one.
if TYPE_CHECKING:
    from podium.spec import CompetitionSpec, CourseSpec


@dataclass(frozen=True)
class KeyChange:
    """One setting a load changed: `key` as written in the folder's files, values as the files say them."""

    key: str
    old: Any
    new: Any

    def line(self) -> str:
        return f"{self.key}: {_shown(self.old)} -> {_shown(self.new)}"

    def as_detail(self) -> dict:
        return {"key": self.key, "old": _as_json(self.old), "new": _as_json(self.new)}


@dataclass
class LoadReport:
    course: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    solution_changed: list[str] = field(default_factory=list)
    # What changed, key by key: under the course's slug for course.toml, under a public id for a competition.
    changes: dict[str, list[KeyChange]] = field(default_factory=dict)
    regraded: list = field(default_factory=list)  # regrades.Change: grades of finalised competitions it changed

    @property
    def course_changes(self) -> list[KeyChange]:
        return self.changes.get(self.course, [])

    def lines(self) -> list[str]:
        out = [f"course {self.course}: " + ("updated" if self.course_changes else "unchanged")]
        out += [f"    {change.line()}" for change in self.course_changes]
        for label, ids in (("created", self.created), ("updated", self.updated), ("unchanged", self.unchanged)):
            if ids:
                out.append(f"  {label}: {', '.join(ids)}")
            if label == "updated":
                for public_id in ids:
                    out.append(f"  {public_id}:")
                    out += [f"    {change.line()}" for change in self.changes.get(public_id, [])]
        for public_id in self.solution_changed:
            out.append(f"  the solution of {public_id} changed: run `podium rescore {public_id}`")
        out += [f"  regraded: {change.line()}" for change in self.regraded]
        return out

    def audit_details(self) -> dict:
        return {target: [c.as_detail() for c in changes] for target, changes in self.changes.items() if changes}


def load_course(session: Session, settings: Settings, folder: Path, actor: str = "cli", *, regrade: bool = False
                ) -> LoadReport:
    """Create or update the course in `folder`; refuses the whole folder on the first problem found, and, without
    `regrade`, a load that changes final grades of finalised or released competitions (POLICY.md section 11).

    The settings are written first and the grades compared; files are copied only once the load is accepted, so
    a refused load leaves the data dir as it was (a compiled solution has a folder of its own per version)."""
    from podium.services import regrades
    from podium.spec import read_course

    spec = read_course(Path(folder))
    _refuse_public_id_collisions(session, spec)
    compiled = {c.slug: compile_competition(settings, spec, c) for c in spec.competitions}

    course = session.scalar(select(Course).where(Course.slug == spec.slug))
    report = LoadReport(course=spec.slug)
    if course is None:
        course = Course(slug=spec.slug, title=spec.title, timezone=spec.timezone, policy=spec.policy)
        session.add(course)
        session.flush()
    with regrades.decision(session, course, what=f"loading {spec.folder}", actor=actor, regrade=regrade) as regraded:
        report.changes[spec.slug] = _course_changes(course, spec)
        competitions = {c.slug: _load_settings(session, settings, course, c, compiled[c.slug], report)
                        for c in spec.competitions}
        metrics = {c.slug: _metric_file_change(c, _home(settings, course, c)) for c in spec.competitions}
        for comp_spec in spec.competitions:
            _note(report, competitions[comp_spec.slug].public_id, metrics[comp_spec.slug])
        _refuse_new_solutions_of_finalised(report, competitions, regrade)
    report.regraded = regraded
    for comp_spec in spec.competitions:
        comp, home = competitions[comp_spec.slug], _home(settings, course, comp_spec)
        if metrics[comp_spec.slug]:
            _copy_metric(comp_spec, home)
        _copy_starter(comp_spec, home)
        _note(report, comp.public_id, _sync_data_files(settings, comp, comp_spec, home / "files"))
    session.flush()
    if report.created or report.updated or report.course_changes:
        audit.record(session, actor, "course.load", course_id=course.id, target=spec.slug,
                     created=report.created, updated=report.updated, folder=str(spec.folder),
                     changes=report.audit_details())
    return report


def _home(settings: Settings, course: Course, spec: CompetitionSpec) -> Path:
    """Where the server keeps what it needs of a competition: its metric file and its data files."""
    return settings.courses_dir / course.slug / spec.slug


def _course_changes(course: Course, spec: CourseSpec) -> list[KeyChange]:
    """course.toml's settings, the [policy] table key by key."""
    old_policy = dict(course.policy or {})
    changes = [KeyChange(name, old, new) for name, old, new in _assign(course, title=spec.title,
                                                                        timezone=spec.timezone)]
    if old_policy != spec.policy:
        course.policy = spec.policy
        changes += [KeyChange(f"policy.{key}", old_policy.get(key), spec.policy.get(key))
                    for key in sorted(old_policy.keys() | spec.policy.keys())
                    if old_policy.get(key) != spec.policy.get(key)]
    course.source_dir = str(spec.folder)  # where it was loaded from last: not a setting
    return changes


def _refuse_new_solutions_of_finalised(report: LoadReport, competitions: dict[str, Competition], regrade: bool
                                       ) -> None:
    """A new solution or metric changes grades once rescored, which the grade comparison cannot see yet."""
    from podium.services.regrades import refuse_unless_asked

    for comp in competitions.values():
        keys = {c.key for c in report.changes.get(comp.public_id, [])}
        if any(k.startswith(("evaluation.solution", "evaluation.metric", "evaluation.id_column")) for k in keys):
            refuse_unless_asked(comp, what=f"loading {comp.public_id}", regrade=regrade, because=(
                "it is finalised or released and its solution or metric changed, so its grades change when its "
                f"submissions are rescored (then run `podium rescore {comp.public_id} --regrade`)"))


def compile_competition(settings: Settings, course: CourseSpec, comp: CompetitionSpec) -> tuple[str, Path, list]:
    """Compile the solution once into its fast form; reuse it when the same solution was compiled before."""
    # Here, not at the top: this module's lookups (get_course, get_competition) serve commands that never score,
    # and the scoring stack (pyarrow, pandas) would cost them half a second.
    from podium import scoring

    sha = sha256_of(comp.solution)
    scorer = comp.scorer()
    # A compiled solution depends on the file, the id column and the metric's target type: one folder for each,
    # so a metric or id column edited in competition.toml is compiled afresh (reusing the folder compiled for the
    # old metric failed every upload), and a load refused after compiling leaves the folder in use untouched.
    variant = hashlib.sha256(f"{sha}\0{comp.id_column}\0{scoring.scorer_mode(scorer)}".encode()).hexdigest()
    dest = settings.compiled_dir / course.slug / comp.slug / variant[:16]
    try:
        if scoring.compiled_is_current(comp.solution, dest, id_column=comp.id_column, scorer=scorer):
            solution = scoring.CompiledSolution.open(dest)
        else:  # compile_solution swaps the new folder in whole: a broken one in its place is never removed first
            solution = scoring.compile_solution(comp.solution, comp.id_column, scorer, dest)
        if comp.sample_submission is not None:
            scoring.check_sample_submission(comp.sample_submission, solution)
    except scoring.SolutionError as exc:
        key = f"[evaluation] {exc.key}" if exc.key in ("sample_submission", "metric") else "[evaluation] solution"
        raise ConfigError(comp.toml_path, key, str(exc)) from None
    return sha, dest, list(solution.expected_header)


def _refuse_public_id_collisions(session: Session, spec: CourseSpec) -> None:
    """Public ids are unique across the instance: course `x-y` with `z` and course `x` with `y-z` would both be
    `x-y-z`, and only one of them could be reached. Checked before anything is written."""
    others = session.execute(select(Course.slug, Competition.slug).join(Competition.course)
                             .where(Course.slug != spec.slug)).all()
    taken = {f"{course}-{comp}": course for course, comp in others}
    for comp in spec.competitions:
        public_id = f"{spec.slug}-{comp.slug}"
        if public_id in taken:
            raise ConfigError(comp.toml_path, "competition.slug",
                              f"the public id {public_id} is taken by a competition of course {taken[public_id]}; "
                              f"rename this competition or the course so that <course>-<competition> differs")


# The competition's columns under the keys of competition.toml that set them; the rest (where the compiled solution
# and the copied files are, the header read off the solution) follow from these and are not reported.
SETTING_KEYS = {
    **{name: f"competition.{name}" for name in ("title", "weight", "slack_eligible", "allow_practice", "auto_release",
                                                "display_precision", "daily_limit", "description",
                                                "canvas_assignment_id")},
    **{name: f"schedule.{name}" for name in ("opens", "early", "ontime", "late")},
    **{name: f"evaluation.{name}" for name in ("metric", "id_column", "higher_is_better")},
    "cutoffs": "grading.cutoffs", "solution_sha256": "evaluation.solution",
    "code_deadline": "code.deadline", "code_settings": "code",
}


def _load_settings(session: Session, settings: Settings, course: Course, spec: CompetitionSpec,
                   compiled: tuple[str, Path, list], report: LoadReport) -> Competition:
    """Write a competition's settings (not its files), noting each key that changed."""
    sha, compiled_dir, header = compiled
    comp = session.scalar(select(Competition).where(Competition.course_id == course.id, Competition.slug == spec.slug))
    public_id = f"{course.slug}-{spec.slug}"
    created = comp is None
    if created:
        comp = Competition(course=course, slug=spec.slug)
        session.add(comp)
    home = _home(settings, course, spec)
    old_sha = comp.solution_sha256
    changed = _assign(
        comp,
        title=spec.title, weight=spec.weight, slack_eligible=spec.slack_eligible, allow_practice=spec.allow_practice,
        auto_release=spec.auto_release, canvas_assignment_id=spec.canvas_assignment_id,
        data_visible_before_open=spec.data_visible_before_open,
        display_precision=spec.display_precision, daily_limit=spec.daily_limit, description=spec.description,
        opens=spec.opens, early=spec.early, ontime=spec.ontime, late=spec.late, metric=spec.metric,
        higher_is_better=spec.higher_is_better, id_column=spec.id_column, expected_header=header,
        cutoffs=spec.cutoffs, solution_sha256=sha, compiled_dir=settings.stored_path(compiled_dir),
        source_dir=settings.stored_path(home),
        code_deadline=None if spec.code is None else spec.code.deadline,
        code_settings=_code_settings(settings, spec, home),
    )
    if changed and comp.finalised_at is not None:
        # Settings edited after finalisation: position cutoffs are read again off the (final) private board.
        from podium.services.competitions import fix_cutoffs

        session.flush()
        fix_cutoffs(session, comp)
    session.flush()
    if created:
        report.created.append(public_id)
        return comp
    report.changes[public_id] = [KeyChange(SETTING_KEYS[name], _reported(name, old), _reported(name, new))
                                 for name, old, new in changed if name in SETTING_KEYS]
    if old_sha and old_sha != sha:
        report.solution_changed.append(public_id)
    _note(report, public_id, [])
    return comp


def _code_settings(settings: Settings, spec: CompetitionSpec, home: Path) -> dict[str, Any] | None:
    """The [code] table as the competition row keeps it (podium.models.Competition.code_settings); the starter
    files are named by where their copies go (`_copy_starter` puts them there once the load is accepted)."""
    if spec.code is None:
        return None
    return {"required": spec.code.required, "max_mb": spec.code.max_mb, "max_uploads": spec.code.max_uploads,
            "kinds": list(spec.code.kinds),
            "starter": [{"name": path.name, "path": settings.stored_path(home / "starter" / path.name),
                         "sha256": sha256_of(path)} for path in spec.code.starter]}


def _copy_starter(spec: CompetitionSpec, home: Path) -> None:
    """The starter files every student received, kept beside the competition's other files: the integrity report
    reads them as boilerplate without the course folder."""
    if spec.code is None:
        return
    for path in spec.code.starter:
        target = home / "starter" / path.name
        if not target.is_file() or sha256_of(target) != sha256_of(path):
            store_copy(path, target)


def _reported(name: str, value: Any) -> Any:
    return _Digest(value or None) if name == "solution_sha256" else value


def _note(report: LoadReport, public_id: str, changes: list[KeyChange]) -> None:
    """Changes found for a competition: it is listed as updated when it has any, as unchanged otherwise."""
    if public_id in report.created:
        return
    report.changes.setdefault(public_id, []).extend(changes)
    if report.changes[public_id]:
        if public_id in report.unchanged:
            report.unchanged.remove(public_id)
        if public_id not in report.updated:
            report.updated.append(public_id)
    elif public_id not in report.unchanged:
        report.unchanged.append(public_id)


def _assign(obj, **values) -> list[tuple[str, Any, Any]]:
    """Set attributes; returns (name, old, new) for each that changed (so a second load reports `unchanged`)."""
    changed = []
    for name, value in values.items():
        old = getattr(obj, name)
        if old != value:
            setattr(obj, name, value)
            changed.append((name, old, value))
    return changed


def _metric_file_change(spec: CompetitionSpec, home: Path) -> list[KeyChange]:
    """A custom metric's file, compared with the copy the server scores with (nothing copied yet)."""
    from podium.spec import CUSTOM_PREFIX

    if not spec.metric.startswith(CUSTOM_PREFIX):
        return []
    source = spec.folder / spec.metric[len(CUSTOM_PREFIX):]
    dest = home / source.name
    old = sha256_of(dest) if dest.exists() else None
    new = sha256_of(source)
    return [] if old == new else [KeyChange(f"evaluation.metric file {source.name}", _Digest(old), _Digest(new))]


def _copy_metric(spec: CompetitionSpec, home: Path) -> None:
    from podium.spec import CUSTOM_PREFIX

    source = spec.folder / spec.metric[len(CUSTOM_PREFIX):]
    store_copy(source, home / source.name)


def _sync_data_files(settings: Settings, comp: Competition, spec: CompetitionSpec, dest_dir: Path
                     ) -> list[KeyChange]:
    wanted = {path.name: path for path in spec.data_files}
    existing = {f.name: f for f in comp.files}
    changes = []
    for name, row in existing.items():
        if name not in wanted:
            comp.files.remove(row)
            changes.append(KeyChange(f"data file {name}", _Digest(row.sha256), None))
    for name, source in wanted.items():
        sha = sha256_of(source)
        row = existing.get(name)
        if row is not None and row.sha256 == sha and settings.located(row.path).is_file():
            continue
        stored = store_copy(source, dest_dir / name)
        old = None if row is None else _Digest(row.sha256)
        if row is None:
            row = DataFile(name=name)
            comp.files.append(row)
        row.path, row.size_bytes, row.sha256 = settings.stored_path(stored.path), stored.size_bytes, stored.sha256
        changes.append(KeyChange(f"data file {name}", old, _Digest(stored.sha256)))
    return changes


@dataclass(frozen=True)
class _Digest:
    """A file in a change report: its sha256, shortened as git shortens a commit."""

    sha256: str | None

    def __str__(self) -> str:
        return f"sha256 {self.sha256[:12]}" if self.sha256 else "none"


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, str):
        return json.dumps(value if len(value) <= 60 else value[:57] + "...")
    return str(value)


def _as_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, _Digest):
        return value.sha256
    return value

def get_course(session: Session, slug: str) -> Course:
    course = session.scalar(select(Course).where(Course.slug == slug))
    if course is None:
        raise NotFound(f"no course {slug!r}; `podium load DIR` creates one")
    return course


def get_competition(session: Session, public_id: str) -> Competition:
    """A competition by its public id `<course>-<competition>`.

    Both slugs may contain dashes, so every split of the id is a candidate; one query tries them all.
    """
    splits = [(public_id[:i], public_id[i + 1:]) for i, ch in enumerate(public_id) if ch == "-"]
    if splits:
        found = session.scalars(
            select(Competition).join(Course).where(
                or_(*(and_(Course.slug == course, Competition.slug == slug) for course, slug in splits))
            )
        ).first()
        if found is not None:
            return found
    raise NotFound(f"no competition {public_id!r}; ids look like <course>-<competition>, e.g. 11785-f19-hw1p2")


@dataclass(frozen=True)
class State:
    key: str
    label: str


_STATES = {rules.NOT_OPEN: State("upcoming", "not yet open"), rules.ON_TIME: State("open", "open"),
           rules.AFTER: State("late", "late window"), rules.CLOSED: State("closed", "closed")}


def state_for(schedule: rules.Schedule, now: datetime, released: bool) -> State:
    """Where a competition stands under a schedule (rules.phase): the class's, or one student's with an extension."""
    state = _STATES[rules.phase(now, schedule)]
    return State("closed", "released") if state.key == "closed" and released else state


def competition_state(comp: Competition, now: datetime) -> State:
    """Where a competition stands for the class as a whole (students with extensions may differ)."""
    return state_for(schedule_of(comp), now, comp.released_at is not None)


def overview(session: Session, now: datetime) -> list[tuple[Course, list[tuple[Competition, State]]]]:
    listing = []
    for course in session.scalars(select(Course).order_by(Course.slug)):
        listing.append((course, [(comp, competition_state(comp, now)) for comp in course.competitions]))
    return listing


# --- what one person may open ----------------------------------------------------------------------------


def competitions_for(user: User) -> list[tuple[Competition, Role]]:
    """The competitions of every course the person is enrolled in, with their role there (by course, then ontime)."""
    rows = []
    for enrolment in sorted(user.enrolments, key=lambda e: e.course.slug):
        rows.extend((comp, enrolment.role) for comp in enrolment.course.competitions)
    return rows


def competition_for_member(session: Session, public_id: str, user: User) -> tuple[Competition, Role]:
    """A competition of a course the person is enrolled in, with their role; others are refused (the list of
    competitions is public, so refusing says nothing new)."""
    comp = get_competition(session, public_id)
    role = role_in(user, comp.course)
    if role is None:
        raise Forbidden(f"You are not enrolled in {comp.course.title} ({comp.course.slug}); ask the course staff "
                        "to add you.")
    return comp, role


# --- the data files students download ----------------------------------------------------------------------


def data_files_visible(comp: Competition, *, staff: bool, now: datetime) -> bool:
    """Whether the viewer may list and download the competition's data files: staff always; students from the
    competition's opening on, or before it when staff chose to show them early (`data_visible_before_open`).
    Before that a student sees no file at all, not even its name, as on Kaggle before a launch."""
    return staff or comp.data_visible_before_open or rules.as_utc(now) >= rules.as_utc(comp.opens)


def data_files_for(comp: Competition, *, staff: bool, now: datetime) -> list[DataFile]:
    """The data files the viewer may list: every one, or none while they are hidden (`data_files_visible`)."""
    return list(comp.files) if data_files_visible(comp, staff=staff, now=now) else []


def hidden_data_message(comp: Competition) -> str:
    return (f"The data files of {comp.title} ({comp.public_id}) are published when it opens, "
            f"{rules.format_local(comp.opens, comp.course.timezone)}.")


def missing_data_file(comp: Competition, name: str) -> NotFound:
    """A data file listed for the competition whose file the server no longer has (removed from the data folder
    by hand, a restore that missed it): a 404 on every route, saying who can put it back."""
    return NotFound(f"{name} of {comp.public_id} is missing on the server; tell the course staff (uploading the file "
                    "again on the competition's settings page puts it back).")


def data_file(settings: Settings, comp: Competition, name: str, *, staff: bool, now: datetime) -> Path:
    """Where one of the files listed for the viewer is, by its exact name: nothing else (never the solution) is
    served, and nothing to a student while the files are hidden."""
    if not data_files_visible(comp, staff=staff, now=now):
        raise NotFound(hidden_data_message(comp))
    found = next((f for f in comp.files if f.name == name), None)
    if found is None:
        names = ", ".join(f.name for f in comp.files) or "none"
        raise NotFound(f"{comp.public_id} has no data file {name!r}; its files are: {names}")
    path = settings.located(found.path)
    if not path.is_file():
        raise missing_data_file(comp, name)
    return path


README_MAX_BYTES = 64_000


def readme_text(settings: Settings, comp: Competition, *, staff: bool, now: datetime) -> str | None:
    """A README among the data files, shown as the overview when the competition has no description (a data file:
    not shown to students while the files are hidden)."""
    for data_file in data_files_for(comp, staff=staff, now=now):
        path = settings.located(data_file.path)
        if data_file.name.lower().startswith("readme") and data_file.size_bytes <= README_MAX_BYTES and path.is_file():
            return path.read_text(encoding="utf-8", errors="replace")
    return None


def data_archive(settings: Settings, comp: Competition, *, staff: bool, now: datetime) -> Path:
    """A zip of all the competition's data files, built once per set of file contents and then reused."""
    if not data_files_visible(comp, staff=staff, now=now):
        raise NotFound(hidden_data_message(comp))
    for f in comp.files:
        if not settings.located(f.path).is_file():
            raise missing_data_file(comp, f.name)
    digest = hashlib.sha256("".join(f"{f.name}\0{f.sha256}\0" for f in comp.files).encode()).hexdigest()[:16]
    folder = settings.data_dir / "archives" / comp.course.slug / comp.slug
    archive = folder / f"{digest}.zip"
    if archive.is_file():
        return archive
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".building-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in comp.files:
                zf.write(settings.located(f.path), arcname=f.name)
        os.replace(tmp, archive)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    for old in folder.glob("*.zip"):
        if old != archive:
            old.unlink(missing_ok=True)
    return archive

"""The integrity report of a competition, for its staff: who may have copied code or predictions (issue 17).

What it reads: each student's counted code (`code.counted_code`: the latest upload by their code deadline), the
competition's starter files (boilerplate every student received), each student's counted submission (the one
their grade uses, `grading.grade_course`) read as answers on the Private rows, and the hash of every file each
student uploaded. What it gives (podium.integrity does the comparing): pairs ranked by code similarity, with the
matching parts of the pairs shown; pairs ranked by shared wrong answers against independent errors; identical
prediction files uploaded by different students.

A report of 300 students takes seconds (bench/integrity.py), too long for a request: `build` runs in the
background (podium.web.tasks) and keeps the report on disk under the data dir, with the key of everything it read
(`Inputs.key`); a page opens the report kept when its key is still the key of what the database says now, and
otherwise asks for a new one. Every opening of a report or of a pair is audited.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from podium.config import Settings
from podium.db import Database
from podium.domain import utcnow
from podium.errors import NotFound, PodiumError
from podium.models import CodeSubmission, Competition, Enrolment, Role, Submission, User
from podium.services import audit, code, grading

log = logging.getLogger(__name__)

FORMAT = 1  # of the report kept on disk; a report of another format is computed again
SHOWN = 50  # pairs of each kind a report keeps (the most suspicious first)

Progress = Callable[[str, int, int], None]  # (what is being done, done, total)


# --- what a report reads ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeInput:
    user_id: int
    code_id: int
    path: str  # as stored (relative to the data dir)
    kind: str
    file_name: str
    sha256: str


@dataclass(frozen=True)
class PredictionInput:
    user_id: int
    submission_id: int
    path: str
    file_name: str
    sha256: str


@dataclass(frozen=True)
class Inputs:
    comp_id: int
    code: tuple[CodeInput, ...]
    starter: tuple[tuple[str, str, str], ...]  # (stored path, name, sha256) of each starter file
    code_limits: tuple | None  # the archive limits code is read with
    counted: tuple[PredictionInput, ...]
    uploads: tuple[tuple[int, str], ...]  # (user id, sha256) of every upload by a student
    solution: tuple[str, str, str, str, bool]  # compiled dir, solution sha256, metric, source dir, higher is better

    @property
    def key(self) -> str:
        """Everything the report depends on, hashed: the same key, the same report."""
        text = json.dumps([FORMAT, asdict(self)], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


def inputs_of(session: Session, comp: Competition) -> Inputs:
    found = code.code_settings(comp)
    counted_code = code.counted_code(session, comp)
    code_inputs = tuple(CodeInput(uid, c.id, c.file_path, c.kind, c.file_name, c.sha256)
                        for uid, c in sorted(counted_code.items()))
    starter = tuple((e["path"], e.get("name", Path(e["path"]).name), e.get("sha256", ""))
                    for e in (found.starter if found else ()))
    limits = code.limits_for(found) if found else None
    return Inputs(comp.id, code_inputs, starter, None if limits is None else tuple(asdict(limits).values()),
                  _counted_predictions(session, comp), _uploads(session, comp),
                  (comp.compiled_dir, comp.solution_sha256, comp.metric, comp.source_dir, comp.higher_is_better))


def _counted_predictions(session: Session, comp: Competition) -> tuple[PredictionInput, ...]:
    """Each student's counted submission: the one their grade in this competition uses (staff's view)."""
    _, grades = grading.grade_course(session, comp.course)
    ids = {uid: g.grade(comp.slug).submission_id for uid, g in grades.items()}
    wanted = {sid: uid for uid, sid in ids.items() if sid is not None}
    if not wanted:
        return ()
    rows = session.execute(select(Submission.id, Submission.file_path, Submission.file_name, Submission.sha256)
                           .where(Submission.id.in_(wanted))).all()
    return tuple(sorted((PredictionInput(wanted[sid], sid, path, name, sha) for sid, path, name, sha in rows),
                        key=lambda p: p.user_id))


def _uploads(session: Session, comp: Competition) -> tuple[tuple[int, str], ...]:
    rows = session.execute(
        select(Submission.user_id, Submission.sha256).distinct()
        .join(Enrolment, (Enrolment.user_id == Submission.user_id) & (Enrolment.course_id == comp.course_id))
        .where(Submission.competition_id == comp.id, Enrolment.role == Role.student,
               Submission.benchmark_name.is_(None))
    ).all()
    return tuple(sorted((uid, sha) for uid, sha in rows))


# --- the report -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    id: int
    email: str
    name: str


@dataclass(frozen=True)
class CodePairRow:
    a: Person
    b: Person
    shared: int
    share_a: float
    share_b: float

    @property
    def similarity(self) -> float:
        return max(self.share_a, self.share_b)


@dataclass(frozen=True)
class PredictionPairRow:
    a: Person
    b: Person
    shared_wrong: int
    expected: float
    surprise: float
    wrong_a: int
    wrong_b: int

    @property
    def ratio(self) -> float:
        return self.shared_wrong / max(self.expected, 0.01)


@dataclass(frozen=True)
class IdenticalFile:
    sha256: str
    people: tuple[Person, ...]


@dataclass(frozen=True)
class Report:
    built_at: datetime
    collects_code: bool
    code_students: int  # students with counted code that holds code
    code_pairs: tuple[CodePairRow, ...]
    prediction_students: int
    private_rows: int
    prediction_pairs: tuple[PredictionPairRow, ...]
    identical: tuple[IdenticalFile, ...]
    unreadable: tuple[tuple[Person, str], ...]  # whose code or predictions could not be read, and why


@dataclass(frozen=True)
class ReportPage:
    report: Report | None  # None: not computed yet for what the database holds now
    current: bool  # the report is that of what the database holds now


def report_path(settings: Settings, comp_id: int) -> Path:
    return settings.data_dir / "integrity" / f"{comp_id}.json"


def _kept(settings: Settings, comp_id: int) -> dict | None:
    try:
        kept = json.loads(report_path(settings, comp_id).read_text())
    except (OSError, ValueError):
        return None
    return kept if isinstance(kept, dict) and kept.get("format") == FORMAT else None


def _people(session: Session, ids: set[int]) -> dict[int, Person]:
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.email, User.name).where(User.id.in_(ids))).all()
    people = {uid: Person(uid, email, name or "") for uid, email, name in rows}
    return {uid: people.get(uid, Person(uid, f"user {uid}", "")) for uid in ids}


def _report_of(session: Session, kept: dict) -> Report:
    ids = {p[k] for p in kept["code_pairs"] + kept["prediction_pairs"] for k in ("a", "b")}
    ids |= {uid for g in kept["identical"] for uid in g["students"]} | {uid for uid, _ in kept["unreadable"]}
    people = _people(session, ids)
    return Report(
        built_at=datetime.fromisoformat(kept["built_at"]), collects_code=kept["collects_code"],
        code_students=kept["code_students"],
        code_pairs=tuple(CodePairRow(people[p["a"]], people[p["b"]], p["shared"], p["share_a"], p["share_b"])
                         for p in kept["code_pairs"]),
        prediction_students=kept["prediction_students"], private_rows=kept["private_rows"],
        prediction_pairs=tuple(PredictionPairRow(people[p["a"]], people[p["b"]], p["shared_wrong"], p["expected"],
                                                 p["surprise"], p["wrong_a"], p["wrong_b"])
                               for p in kept["prediction_pairs"]),
        identical=tuple(IdenticalFile(g["sha256"], tuple(people[uid] for uid in g["students"]))
                        for g in kept["identical"]),
        unreadable=tuple((people[uid], why) for uid, why in kept["unreadable"]))


def _competition(session: Session, comp_id: int) -> Competition:
    comp = session.get(Competition, comp_id)
    if comp is None:
        raise NotFound("no such competition")
    return comp


def open_report(db: Database, settings: Settings, comp_id: int, actor: str) -> ReportPage:
    """The report kept for the competition, and whether it is that of what the database holds now; audited."""
    with db.session() as session:
        comp = _competition(session, comp_id)
        kept = _kept(settings, comp_id)
        current = kept is not None and kept["key"] == inputs_of(session, comp).key
        report = _report_of(session, kept) if kept is not None else None
        audit.record(session, actor, "integrity.report_opened", course_id=comp.course_id, target=comp.public_id,
                     built_at=kept["built_at"] if kept else None)
        return ReportPage(report, current)


def is_current(db: Database, settings: Settings, comp_id: int) -> bool:
    with db.session() as session:
        kept = _kept(settings, comp_id)
        return kept is not None and kept["key"] == inputs_of(session, _competition(session, comp_id)).key


# --- computing it -----------------------------------------------------------------------------------------


def build(db: Database, settings: Settings, comp_id: int, *, progress: Progress | None = None) -> Report:
    """Compute the competition's report from what the database holds now and keep it on disk (replacing the
    one kept). Reads files outside any transaction."""
    from podium.integrity import code_similarity, predictions

    with db.session() as session:
        inputs = inputs_of(session, _competition(session, comp_id))
    collects_code = inputs.code_limits is not None
    unreadable: list[tuple[int, str]] = []
    step = progress or (lambda what, done, total: None)

    step("Reading the code", 0, len(inputs.code))
    students, boilerplate = _code_texts(settings, inputs, unreadable)
    code_pairs = code_similarity.rank_pairs(
        students, boilerplate, limit=SHOWN,
        progress=lambda done, total: step("Comparing the code", done, total))

    step("Reading the predictions", 0, len(inputs.counted))
    answers, truth = _private_answers(settings, inputs, unreadable,
                                      lambda done, total: step("Reading the predictions", done, total))
    step("Comparing the predictions", 0, 1)
    agreement = predictions.agreement_pairs(answers, truth, limit=SHOWN) if truth is not None else []
    shas: dict[int, set[str]] = {}
    for uid, sha in inputs.uploads:
        shas.setdefault(uid, set()).add(sha)
    identical = predictions.identical_files(shas)

    kept = {
        "format": FORMAT, "key": inputs.key, "built_at": utcnow().isoformat(), "collects_code": collects_code,
        "code_students": len(students),
        "code_ids": {str(c.user_id): c.code_id for c in inputs.code},
        "code_pairs": [{"a": p.a, "b": p.b, "shared": p.shared, "share_a": p.share_a, "share_b": p.share_b,
                        "marks_a": p.marks_a, "marks_b": p.marks_b} for p in code_pairs],
        "prediction_students": len(answers), "private_rows": 0 if truth is None else len(truth),
        "prediction_pairs": [{"a": p.a, "b": p.b, "shared_wrong": p.shared_wrong, "expected": p.expected,
                              "surprise": p.surprise, "wrong_a": p.wrong_a, "wrong_b": p.wrong_b}
                             for p in agreement],
        "identical": [{"sha256": sha, "students": list(who)} for sha, who in identical],
        "unreadable": unreadable,
    }
    _write(report_path(settings, comp_id), kept)
    with db.session() as session:
        return _report_of(session, json.loads(json.dumps(kept)))


def _write(path: Path, kept: dict) -> None:
    """Atomically: a page reading it meanwhile reads the old report or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    partial.write_text(json.dumps(kept))
    os.replace(partial, path)


def _read_code(settings: Settings, stored: str, kind: str, file_name: str, limits) -> list:
    from podium import code_archives
    from podium.integrity import code_similarity

    members = code_archives.texts(settings.located(stored), kind, limits)
    if kind in (".py", ".ipynb"):  # a single file: its name is the one it was uploaded with
        members = ((file_name, raw) for _, raw in members)
    return code_similarity.code_files(members)


def _code_texts(settings: Settings, inputs: Inputs, unreadable: list) -> tuple[dict, list]:
    """Each student's code files and the starter files, as text; code that cannot be read is noted."""
    from podium import code_archives

    if inputs.code_limits is None:
        return {}, []
    limits = code_archives.Limits(*inputs.code_limits)
    students = {}
    for c in inputs.code:
        try:
            files = _read_code(settings, c.path, c.kind, c.file_name, limits)
        except (OSError, code_archives.CodeArchiveError) as exc:
            unreadable.append((c.user_id, f"code {c.file_name}: {exc}"))
            continue
        if files:
            students[c.user_id] = files
    boilerplate = []
    for stored, name, _ in inputs.starter:
        kind = code_archives.kind_of(name)
        try:
            boilerplate += _read_code(settings, stored, kind, name, limits) if kind else []
        except (OSError, code_archives.CodeArchiveError) as exc:
            log.warning("starter file %s of competition %s cannot be read: %s", name, inputs.comp_id, exc)
    return students, boilerplate


def _private_answers(settings: Settings, inputs: Inputs, unreadable: list, step: Callable[[int, int], None]):
    """Each student's counted answers on the Private rows, and the truth; (empty, None) when the solution cannot
    be opened."""
    from podium import scoring
    from podium.spec import scorer_for

    compiled_dir, _, metric, source_dir, higher_is_better = inputs.solution
    if not inputs.counted or not compiled_dir:
        return {}, None
    try:
        compiled = scoring.CompiledSolution.open(settings.located(compiled_dir))
        scorer = scorer_for(metric, settings.located(source_dir), higher_is_better)
    except Exception as exc:  # the competition's side: the report says so rather than failing
        log.warning("integrity report of competition %s: the solution cannot be read: %s", inputs.comp_id, exc)
        return {}, None
    limits = scoring.UploadLimits(max_bytes=settings.max_upload_bytes, max_decompressed_bytes=settings.max_upload_bytes)
    answers = {}
    for done, p in enumerate(inputs.counted, 1):
        try:
            answers[p.user_id] = scoring.private_predictions(compiled, settings.located(p.path), scorer, limits,
                                                             original_name=p.file_name)
        except (OSError, scoring.SubmissionError) as exc:
            unreadable.append((p.user_id, f"submission {p.submission_id}: {exc}"))
        step(done, len(inputs.counted))
    return answers, compiled.truth("Private")


# --- one pair, side by side -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairPage:
    pair: CodePairRow
    files_a: tuple  # code_similarity.MarkedFile, files with marks first
    files_b: tuple
    built_at: datetime


def open_pair(db: Database, settings: Settings, comp_id: int, a: int, b: int, actor: str) -> PairPage:
    """Two students' code side by side with the matching parts marked, as the kept report found them (the same
    uploads, read again); audited. NotFound when the kept report has no such pair."""
    from podium import code_archives
    from podium.integrity import code_similarity

    with db.session() as session:
        comp = _competition(session, comp_id)
        kept = _kept(settings, comp_id)
        found = None if kept is None else next(
            (p for p in kept["code_pairs"] if {p["a"], p["b"]} == {a, b}), None)
        if found is None:
            raise NotFound("This pair is not in the competition's integrity report; open the report again.")
        uploads = {c.user_id: c for c in session.scalars(select(CodeSubmission).where(
            CodeSubmission.id.in_([kept["code_ids"][str(found["a"])], kept["code_ids"][str(found["b"])]])))}
        people = _people(session, {found["a"], found["b"]})
        audit.record(session, actor, "integrity.pair_opened", course_id=comp.course_id, target=comp.public_id,
                     students=[people[found["a"]].email, people[found["b"]].email])
        found_settings = code.code_settings(comp)
    limits = code.limits_for(found_settings) if found_settings else code_archives.DEFAULT_LIMITS
    sides = []
    for uid, marks in ((found["a"], found["marks_a"]), (found["b"], found["marks_b"])):
        files = _read_pair_side(settings, uploads.get(uid), people[uid], limits)
        sides.append(code_similarity.marked_files(files, [(name, tuple(map(tuple, spans))) for name, spans in marks]))
    pair = CodePairRow(people[found["a"]], people[found["b"]], found["shared"], found["share_a"], found["share_b"])
    return PairPage(pair, sides[0], sides[1], datetime.fromisoformat(kept["built_at"]))


def _read_pair_side(settings: Settings, upload: CodeSubmission | None, person: Person, limits) -> list:
    """One side's code files for the pair page; a clear refusal when the upload the report read is gone or no
    longer readable (a file removed from the data dir, or changed on disk), never a traceback."""
    from podium import code_archives

    if upload is None or not settings.located(upload.file_path).is_file():
        raise PodiumError(f"The code of {person.email} that the report compared is no longer stored; compute the "
                          "report again.", code=410)
    try:
        return _read_code(settings, upload.file_path, upload.kind, upload.file_name, limits)
    except (OSError, code_archives.CodeArchiveError) as exc:
        raise PodiumError(f"The code of {person.email} ({upload.file_name}) cannot be read any more: "
                          f"{_without_disk_name(str(exc), settings.located(upload.file_path).name, upload.file_name)}",
                          code=409) from None


def _without_disk_name(message: str, disk_name: str, file_name: str) -> str:
    return message.replace(disk_name, file_name)

"""Competition settings changed from the web, checked exactly as `podium load` checks a course folder.

The form's values become a competition.toml that `spec.read_competition` reads, next to the competition's
stored files, so every refusal is the message `podium load` would give. A new solution is compiled the way
loading compiles one; rescoring the submissions afterwards is the caller's next step. A data file students
download can be replaced or added, with the checks loading applies to data files.

Changes made here live in the database: the next `podium load` of the course folder puts the folder's values
back. `competition_toml` gives the current settings as a file to commit, so the folder can follow.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Mapping

import tomli_w
from sqlalchemy.orm import Session

from podium import rules
from podium.config import Settings
from podium.errors import ConfigError, PodiumError
from podium.models import Competition, DataFile
from podium.services import audit, code, regrades
from podium.services.files import StoredFile, TooLarge, fsync_dir, store_stream
from podium.spec import COMPETITION_FILE, CUSTOM_PREFIX, read_competition, scorer_for

if TYPE_CHECKING:
    from podium import scoring

# The scoring stack (pandas, pyarrow) is imported by the functions that check a solution or a sample submission,
# not with this module: the web app imports this module as it is built, in every `podium run` worker, and the
# workers score in processes of their own that load it anyway.

WALL_CLOCK = "%Y-%m-%d %H:%M:%S"
SCHEDULE_KEYS = ("opens", "early", "ontime", "late")
CUTOFF_LETTERS = ("A", "B", "C", "D", "F")
FLAGS = ("slack_eligible", "allow_practice", "auto_release", "data_visible_before_open")
PLACEHOLDER_SOLUTION = "solution.csv"
EDITABLE = ("title", "description", "weight", "slack_eligible", "allow_practice", "auto_release",
            "data_visible_before_open", "display_precision", "daily_limit", "opens", "early", "ontime", "late",
            "cutoffs")


@dataclass(frozen=True)
class SettingsForm:
    """The form's text, as a person typed it, keyed like the TOML."""

    values: dict[str, str]

    @classmethod
    def of(cls, comp: Competition) -> SettingsForm:
        tz = comp.course.timezone
        values = {
            "title": comp.title, "description": comp.description, "weight": f"{comp.weight:g}",
            "display_precision": str(comp.display_precision),
            "daily_limit": "" if comp.daily_limit is None else str(comp.daily_limit),
        }
        for key in SCHEDULE_KEYS:
            at = getattr(comp, key)
            values[key] = "" if at is None else rules.as_utc(at).astimezone(rules.zone(tz)).strftime(WALL_CLOCK)
        for letter in CUTOFF_LETTERS:
            value = comp.cutoffs.get(letter)
            values[f"cutoff_{letter}"] = "" if value is None else (value if isinstance(value, str) else f"{value:g}")
        for flag in FLAGS:
            values[flag] = "on" if getattr(comp, flag) else ""
        return cls(values)

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> SettingsForm:
        keys = ["title", "description", "weight", "display_precision", "daily_limit", *SCHEDULE_KEYS, *FLAGS,
                *(f"cutoff_{letter}" for letter in CUTOFF_LETTERS)]
        return cls({key: (form.get(key) or "").strip() for key in keys})


def _typed(text: str) -> Any:
    """A number when the text is one; otherwise the text, so the spec's check names the key and the value."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _competition_table(comp: Competition, form: SettingsForm) -> dict[str, Any]:
    v = form.values
    table: dict[str, Any] = {"slug": comp.slug, "title": v["title"], "weight": _typed(v["weight"]),
                             "display_precision": _typed(v["display_precision"]), "description": v["description"]}
    table.update({flag: bool(v.get(flag)) for flag in FLAGS})
    if v["daily_limit"]:
        table["daily_limit"] = _typed(v["daily_limit"])
    if comp.canvas_assignment_id is not None:  # not on the form: kept as loaded
        table["canvas_assignment_id"] = comp.canvas_assignment_id
    return table


def _evaluation_table(comp: Competition) -> dict[str, Any]:
    table: dict[str, Any] = {"metric": comp.metric, "id_column": comp.id_column, "solution": PLACEHOLDER_SOLUTION,
                             "data_files": [f.name for f in comp.files]}
    if comp.metric.startswith(CUSTOM_PREFIX):
        table["higher_is_better"] = comp.higher_is_better
    return table


def _code_table(comp: Competition) -> dict[str, Any] | None:
    """The [code] table as loaded (not on the form: kept as it is), its deadline written out in course time."""
    found = code.code_settings(comp)
    if found is None:
        return None
    deadline = rules.as_utc(found.deadline).astimezone(rules.zone(comp.course.timezone)).strftime(WALL_CLOCK)
    return {"required": found.required, "deadline": deadline, "max_mb": found.max_mb,
            "max_uploads": found.max_uploads, "kinds": list(found.kinds),
            "starter": [entry["name"] for entry in found.starter]}


def settings_document(comp: Competition, form: SettingsForm) -> dict[str, Any]:
    v = form.values
    document = {
        "competition": _competition_table(comp, form),
        "schedule": {key: v[key] for key in SCHEDULE_KEYS if v[key] or key != "early"},
        "evaluation": _evaluation_table(comp),
        "grading": {"cutoffs": {letter: _typed(v[f"cutoff_{letter}"]) for letter in CUTOFF_LETTERS
                                if v[f"cutoff_{letter}"]}},
    }
    code_table = _code_table(comp)
    if code_table is not None:
        document["code"] = code_table
    return document


def competition_toml(comp: Competition) -> str:
    """The competition's current settings as a competition.toml (the solution's file name is a placeholder)."""
    return tomli_w.dumps(settings_document(comp, SettingsForm.of(comp)))


def _staged_folder(settings: Settings, comp: Competition, document: dict[str, Any], root: Path) -> Path:
    """A throwaway competition folder that `read_competition` can check: the stored data files and metric, a
    stand-in for the solution (compiled already; its content is not what is being checked)."""
    folder = root / comp.slug
    folder.mkdir(parents=True)
    (folder / PLACEHOLDER_SOLUTION).write_text(f"{comp.id_column}\n")
    for data_file in comp.files:
        _link_or_copy(settings.located(data_file.path), folder / data_file.name)
    for name, path in zip(document.get("code", {}).get("starter", ()), code.starter_files(settings, comp)):
        _link_or_copy(path, folder / name)
    if comp.metric.startswith(CUSTOM_PREFIX):
        name = comp.metric[len(CUSTOM_PREFIX):]
        shutil.copy(settings.located(comp.source_dir) / Path(name).name, folder / name)
    (folder / COMPETITION_FILE).write_text(tomli_w.dumps(document))
    return folder


def _link_or_copy(source: Path, dest: Path) -> None:
    # A hard link, not a symbolic one: the spec refuses files that resolve outside the competition folder.
    try:
        os.link(source, dest)
    except OSError:
        shutil.copy(source, dest)


def check(settings: Settings, comp: Competition, form: SettingsForm) -> dict[str, Any]:
    """The checked values, or a PodiumError with `podium load`'s message (without the throwaway path)."""
    document = settings_document(comp, form)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # Staged inside the data folder so the data files can be hard-linked rather than copied.
    with tempfile.TemporaryDirectory(prefix=".settings-", dir=settings.data_dir) as tmp:
        folder = _staged_folder(settings, comp, document, Path(tmp))
        try:
            spec = read_competition(folder / COMPETITION_FILE, rules.zone(comp.course.timezone), comp.course.policy)
        except ConfigError as exc:
            # The message names the key and the problem; the throwaway file's path would only confuse.
            raise PodiumError(exc.message.removeprefix(f"{exc.file}: "), code=422) from None
    return {key: getattr(spec, key) for key in EDITABLE}


def update(session: Session, settings: Settings, comp: Competition, form: SettingsForm, actor: str, *,
           regrade: bool = False) -> list[str]:
    """Apply the form after checking it; returns the names of the settings that changed (audited). A change that
    moves final grades of a finalised or released competition needs `regrade` (podium.services.regrades)."""
    values = check(settings, comp, form)
    changed = [key for key, value in values.items() if getattr(comp, key) != value]
    if not changed:
        return []
    with regrades.decision(session, comp.course, what=f"changing the settings of {comp.public_id}", actor=actor,
                           regrade=regrade):
        for key in changed:
            setattr(comp, key, values[key])
        session.flush()
        if comp.finalised_at is not None:
            from podium.services.competitions import fix_cutoffs

            fix_cutoffs(session, comp)  # finalised: position cutoffs are read again off the final board
    audit.record(session, actor, "competition.settings", course_id=comp.course_id, target=comp.public_id,
                 changed={key: _audit_value(values[key]) for key in changed})
    return changed


def _audit_value(value: Any) -> Any:
    return rules.format_utc(value) if isinstance(value, datetime) else value


# --- a new solution ----------------------------------------------------------------------------------------


def replace_solution(session: Session, settings: Settings, comp: Competition, stream: BinaryIO, actor: str, *,
                     regrade: bool = False) -> bool:
    """Compile an uploaded solution for the competition; returns False when it is the solution already in use.

    A solution the scorer cannot use is refused with the instructor's message and changes nothing; so is one for a
    finalised or released competition unless a regrade was asked for (its grades change once rescored).
    """
    from podium import scoring

    regrades.refuse_unless_asked(comp, what=f"a new solution for {comp.public_id}", regrade=regrade, because=(
        "it is finalised or released, so its grades change when its submissions are rescored with it"))
    incoming = settings.data_dir / "incoming" / f"{comp.id}-solution.csv"
    stored = store_stream(stream, incoming)
    try:
        if stored.sha256 == comp.solution_sha256:
            return False
        dest = settings.compiled_dir / comp.course.slug / comp.slug / stored.sha256[:16]
        scorer = scorer_for(comp.metric, settings.located(comp.source_dir), comp.higher_is_better)
        try:
            if dest.exists():
                shutil.rmtree(dest)
            solution = scoring.compile_solution(stored.path, comp.id_column, scorer, dest)
        except scoring.SolutionError as exc:
            raise PodiumError(f"The solution was not accepted: {exc}", code=422) from None
        old = comp.solution_sha256
        comp.solution_sha256, comp.compiled_dir = stored.sha256, settings.stored_path(dest)
        comp.expected_header = list(solution.expected_header)
        audit.record(session, actor, "competition.solution", course_id=comp.course_id, target=comp.public_id,
                     old_sha256=old, new_sha256=stored.sha256, rows=solution.n_rows)
        return True
    finally:
        stored.path.unlink(missing_ok=True)


# --- the data files students download ----------------------------------------------------------------------

DATA_FILE_NAME_MAX = 255  # the column's width


@dataclass(frozen=True)
class DataFileChange:
    name: str
    added: bool  # a new file for students, not a replacement
    changed: bool  # False when the upload is the file in use already


def data_file_name(typed: str | None, uploaded: str | None) -> str:
    """The name students will download the file under: the one typed in the form, else the uploaded file's own.
    It is checked, never cleaned up: a name that needs cleaning is refused with the reason."""
    name = (typed or "").strip() or (uploaded or "")
    problem = data_file_name_problem(name)
    if problem:
        raise PodiumError(problem, code=422)
    return name


def data_file_name_problem(name: str) -> str | None:
    """Why `name` cannot name a data file, or None. Files are stored and served under this name alone, so it must
    be one plain file name: `podium load` refuses what lies outside the competition folder, and a name with a
    folder in it would reach outside the competition's files."""
    if not name:
        return "Give the data file a name, such as README.md."
    if "/" in name or "\\" in name or name in (".", ".."):
        return (f"{name!r} is not a plain file name: it lies outside the competition folder. Use a name without "
                "folders, such as README.md.")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return f"{name!r} contains control characters; use a plain file name such as README.md."
    if name != name.strip():
        return f"{name!r} begins or ends with a space; remove it."
    if len(name) > DATA_FILE_NAME_MAX:
        return f"The file name is longer than {DATA_FILE_NAME_MAX} characters; use a shorter one."
    return None


def replace_data_file(session: Session, settings: Settings, comp: Competition, name: str, stream: BinaryIO,
                      actor: str) -> DataFileChange:
    """Give students `stream` as the data file `name`, replacing the file of that name or adding one (audited).

    Checked as `podium load` checks data files: a plain name inside the competition's files, never the solution,
    and a file that is the sample submission today stays a valid one. Anything refused changes nothing.
    """
    problem = data_file_name_problem(name)
    if problem:
        raise PodiumError(problem, code=422)
    files_dir = _files_dir(settings, comp)
    existing = next((f for f in comp.files if f.name == name), None)
    stored = _stored_upload(stream, files_dir, settings.max_upload_bytes)
    try:
        _check_data_file(settings, comp, existing, stored)
        if existing is not None and existing.sha256 == stored.sha256:
            return DataFileChange(name, added=False, changed=False)
        path = _kept_version(stored, files_dir, name)
    finally:
        stored.path.unlink(missing_ok=True)
    old_sha = None if existing is None else existing.sha256
    row = existing or DataFile(name=name)
    row.path, row.size_bytes, row.sha256 = settings.stored_path(path), stored.size_bytes, stored.sha256
    if existing is None:
        comp.files.append(row)
    session.flush()
    audit.record(session, actor, "competition.data_file", course_id=comp.course_id, target=comp.public_id,
                 name=name, added=existing is None, old_sha256=old_sha, new_sha256=stored.sha256,
                 size_bytes=stored.size_bytes)
    return DataFileChange(name, added=existing is None, changed=True)


def _files_dir(settings: Settings, comp: Competition) -> Path:
    """Where the competition's data files live: its home, which `podium load` recorded as `source_dir`."""
    return settings.located(comp.source_dir) / "files"


def _stored_upload(stream: BinaryIO, files_dir: Path, max_bytes: int) -> StoredFile:
    """The upload written durably next to the data files (so that putting it in place is a rename), under a name
    of its own: two uploads at once do not meet."""
    try:
        return store_stream(stream, files_dir / f".upload-{uuid.uuid4().hex}", max_bytes=max_bytes)
    except TooLarge as exc:
        limit = f"{exc.limit / 1e6:.0f} MB" if exc.limit >= 1e6 else f"{exc.limit} bytes"
        raise PodiumError(f"The file is larger than the {limit} limit for uploads; nothing changed.",
                          code=413) from None


def _check_data_file(settings: Settings, comp: Competition, existing: DataFile | None, stored: StoredFile) -> None:
    from podium import scoring

    if stored.size_bytes == 0:
        raise PodiumError("The file is empty; choose the file students should download. Nothing changed.", code=422)
    if stored.sha256 == comp.solution_sha256:
        raise PodiumError("This file is the competition's solution: students would download it. Nothing changed.",
                          code=422)
    if existing is not None and _is_sample_submission(settings, comp, settings.located(existing.path)):
        try:
            scoring.check_sample_submission(stored.path, _compiled_solution(settings, comp))
        except scoring.SolutionError as exc:
            message = str(exc).removeprefix(f"{stored.path.name}: ")
            raise PodiumError(f"{existing.name} is the sample submission students copy, and the new file does not "
                              f"fit the solution: {message} Nothing changed.", code=422) from None


def _compiled_solution(settings: Settings, comp: Competition) -> scoring.CompiledSolution:
    from podium import scoring

    return scoring.CompiledSolution.open(settings.located(comp.compiled_dir))


def _is_sample_submission(settings: Settings, comp: Competition, path: Path) -> bool:
    """Whether a data file is a valid sample submission for the solution in use: the database does not keep which
    file the course folder named as such, and a file that fits the solution's shape is one in all but name."""
    if not path.is_file() or not settings.located(comp.compiled_dir).is_dir():
        return False
    from podium import scoring

    try:
        scoring.check_sample_submission(path, _compiled_solution(settings, comp))
    except scoring.SolutionError:
        return False
    return True


def _kept_version(stored: StoredFile, files_dir: Path, name: str) -> Path:
    """Put the upload in place under a folder named by its content. The file students download changes only when
    the new row is committed, so a request that fails midway leaves the old file served and unaudited changes
    impossible; the previous version stays on disk, where the audit log's old_sha256 finds it."""
    dest = files_dir / stored.sha256[:16] / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(stored.path, dest)
    fsync_dir(dest.parent)
    return dest

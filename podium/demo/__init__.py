"""The demo course: CMU 11-785 Fall 2019's five Kaggle competitions, as code, with generated data.

A pure package (numpy, pandas, tomli_w, the standard library and the pure `podium.rules` only), so that the `podium demo`
command, the tests and an instructor's script can all use it without the platform.

- :func:`write_course` writes a loadable course folder (`podium load`), data included.
- :func:`write_definitions` writes only the files committed under ``competitions/11785-f19``.
- :func:`demo_students`, :func:`demo_staff` and :func:`simulate_submissions` populate it.

For the relative schedule, pass the same aware ``now`` to :func:`write_course` and
:func:`simulate_submissions`: the windows are placed around it and the uploads stop at it.
"""
from __future__ import annotations

import zlib
from datetime import datetime
from pathlib import Path

import numpy as np

from podium.demo.course import (
    COMPETITIONS,
    COURSE_SLUG,
    SCHEDULE_NAMES,
    CompetitionSpec,
    Schedule,
    competition_readme,
    competition_toml,
    course_toml,
    schedule_named,
)
from podium.demo.data import csv_bytes, prediction_frame, sample_submission_frame, solution_frame
from podium.demo.students import (
    DEMO_PASSWORD,
    DemoStaff,
    DemoStudent,
    SimulatedSubmission,
    demo_staff,
    demo_students,
    simulate_submissions,
)

DEFAULT_SEED = 11785

__all__ = [
    "COMPETITIONS", "COURSE_SLUG", "DEFAULT_SEED", "DEMO_PASSWORD", "SCHEDULE_NAMES", "CompetitionSpec",
    "DemoStaff", "DemoStudent", "Schedule", "SimulatedSubmission", "demo_staff", "demo_students",
    "prediction_frame", "sample_submission_frame", "schedule_named", "simulate_submissions", "solution_frame",
    "write_course", "write_definitions",
]


def write_course(dest: Path, seed: int = DEFAULT_SEED, schedule: str = "relative",
                 now: datetime | None = None) -> Path:
    """Write the course folder dest/11785-f19/ with definitions and generated data; return its path.

    Idempotent: the same seed, schedule and local date of `now` give byte-identical files, and files
    already holding the right bytes are left untouched.
    """
    windows = schedule_named(schedule, now)
    course_dir = write_definitions_for(Path(dest), windows)
    for spec in COMPETITIONS:
        solution = solution_frame(spec.slug, competition_rng(seed, spec))
        write_if_changed(course_dir / spec.slug / "solution.csv", csv_bytes(solution))
        write_if_changed(course_dir / spec.slug / "sample_submission.csv", csv_bytes(sample_submission_frame(solution)))
    return course_dir


def write_definitions(dest: Path) -> Path:
    """Write only course.toml, each competition.toml and README.md, on the fall2019 schedule."""
    return write_definitions_for(Path(dest), schedule_named("fall2019"))


def write_definitions_for(dest: Path, windows: dict[str, Schedule]) -> Path:
    course_dir = dest / COURSE_SLUG
    write_if_changed(course_dir / "course.toml", course_toml().encode())
    for spec in COMPETITIONS:
        folder = course_dir / spec.slug
        write_if_changed(folder / "competition.toml", competition_toml(spec, windows[spec.slug]).encode())
        write_if_changed(folder / "README.md", competition_readme(spec).encode())
    return course_dir


def competition_rng(seed: int, spec: CompetitionSpec) -> np.random.Generator:
    # Keyed by the slug, not the position: adding or reordering competitions changes no other data.
    return np.random.default_rng([seed, zlib.crc32(spec.slug.encode())])


def write_if_changed(path: Path, content: bytes) -> None:
    # Rewriting identical bytes would only disturb mtimes (and `podium load`'s change detection).
    if path.exists() and path.read_bytes() == content:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)

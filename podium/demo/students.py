"""The demo class: fictional students and staff, and the submission histories the students leave.

Names are random pairs of common first and last names; nobody real is meant. Every account, student
or staff, logs in with :data:`DEMO_PASSWORD`.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from podium.demo.course import WALL_CLOCK_FORMAT, to_utc
from podium.demo.data import csv_bytes, prediction_frame, read_solution
from podium.rules import course_order

DEMO_PASSWORD = "demo-password"  # the one password of every demo account, students and staff alike
EMAIL_DOMAIN = "demo.podium.test"  # .test is reserved (RFC 2606): no mail can ever leave the demo
STUDENT_COUNT = 40


@dataclass(frozen=True)
class DemoStudent:
    email: str
    name: str
    leaderboard_name: str
    skill: float  # 0..1: the quality this student's models approach by the on-time deadline

    @property
    def password(self) -> str:
        return DEMO_PASSWORD


@dataclass(frozen=True)
class DemoStaff:
    email: str
    name: str
    role: str  # a role of `podium users add`: "instructor" or "staff"
    password: str = DEMO_PASSWORD


@dataclass(frozen=True)
class SimulatedSubmission:
    email: str
    competition_slug: str
    at: datetime  # aware, UTC: when the upload finished
    csv_bytes: bytes
    description: str
    file_name: str


FIRST_NAMES = (
    "Alex", "Maria", "Wei", "Priya", "Daniel", "Sofia", "Hiroshi", "Amara", "Lucas", "Elena", "Omar",
    "Hana", "Mateo", "Chloe", "Arjun", "Fatima", "Noah", "Ingrid", "Kofi", "Yuki", "Diego", "Leila",
    "Samuel", "Mei", "Jonas", "Aisha", "Gabriel", "Nadia", "Felix", "Rosa", "Tariq", "Emma", "Ravi",
    "Lina", "Marco", "Zara", "Victor", "Ana", "Kenji", "Olivia", "Ethan", "Isabel", "Tomas", "Grace",
)
LAST_NAMES = (
    "Garcia", "Chen", "Kim", "Patel", "Nguyen", "Smith", "Rossi", "Silva", "Tanaka", "Okafor",
    "Johansson", "Kowalski", "Haddad", "Lopez", "Ivanova", "Murphy", "Schmidt", "Wang", "Santos",
    "Dubois", "Ali", "Novak", "Yamamoto", "Mensah", "Costa", "Larsen", "Moreno", "Park", "Singh",
    "Fischer", "Huang", "Romero", "Adeyemi", "Nakamura", "Bianchi", "Kaur", "Petrov", "Liu", "Reyes",
    "Walsh", "Demir", "Hoang", "Ortiz", "Berg",
)
HANDLE_ADJECTIVES = (
    "Vanishing", "Exploding", "Stochastic", "Greedy", "Sleepy", "Overfit", "Residual", "Recurrent",
    "Sparse", "Noisy", "Lazy", "Hungry", "Convolutional", "Attentive", "Bidirectional", "Gated",
    "Dilated", "Frozen", "Batchnormal", "Softmaxed",
)
HANDLE_NOUNS = (
    "Gradient", "Perceptron", "Neuron", "Tensor", "Kernel", "Otter", "Walrus", "Badger", "Goose",
    "Octopus", "Ferret", "Capybara", "Yak", "Lemur", "Moose", "Narwhal", "Penguin", "Panda",
    "Hedgehog", "Axolotl",
)


def demo_staff() -> list[DemoStaff]:
    return [
        DemoStaff(f"instructor@{EMAIL_DOMAIN}", "Demo Instructor", "instructor"),
        DemoStaff(f"ta@{EMAIL_DOMAIN}", "Demo Teaching Assistant", "staff"),
    ]


def demo_students(seed: int = 11785, count: int = STUDENT_COUNT) -> list[DemoStudent]:
    """`count` students, student01@... upwards, with names, handles and skills fixed by `seed`."""
    if not 0 < count <= min(len(FIRST_NAMES), len(LAST_NAMES)):
        raise ValueError(f"the demo has names for 1 to {min(len(FIRST_NAMES), len(LAST_NAMES))} students")
    rng = np.random.default_rng([seed, 1])
    firsts = rng.permutation(FIRST_NAMES)[:count]
    lasts = rng.permutation(LAST_NAMES)[:count]
    # Skills spread over the whole grade range, most students between a C and an A.
    skills = np.clip(rng.beta(4.5, 2.0, size=count), 0.3, 0.97).round(3)
    return [
        DemoStudent(f"student{n:02d}@{EMAIL_DOMAIN}", f"{first} {last}", handle, float(skill))
        for n, (first, last, handle, skill) in enumerate(zip(firsts, lasts, leaderboard_handles(count, rng), skills), 1)
    ]


def leaderboard_handles(count: int, rng: np.random.Generator) -> list[str]:
    combos = rng.choice(len(HANDLE_ADJECTIVES) * len(HANDLE_NOUNS), size=count, replace=False)
    handles = []
    for combo in combos:
        adjective, noun = divmod(int(combo), len(HANDLE_NOUNS))
        # Some students add a number, as people do when their favourite handle is taken.
        suffix = str(rng.integers(2, 100)) if rng.random() < 0.25 else ""
        handles.append(HANDLE_ADJECTIVES[adjective] + HANDLE_NOUNS[noun] + suffix)
    return handles


# --- simulated submissions -------------------------------------------------------------------------

DAILY_CAP = 8            # below the course's daily limit of 10, so no simulated upload is refused for it
PARTICIPATION = 0.95     # a few students skip a competition entirely
EARLY_MISS_RATE = 0.15   # the share of students whose first upload comes after the early deadline
LATE_STUDENTS = 4        # per competition, students who also submit 1 to 3 days after on-time
SIX_DAYS_LATE = 6        # one student in the first competition submits this many days late
FRENZY_RATE = 0.08       # students who upload again and again in the last hours before on-time
FIRST_UPLOAD_DEFECT_RATE = 0.06  # first uploads fail more often: the format is new
LATER_UPLOAD_DEFECT_RATE = 0.015

# Streams of randomness, kept apart so that one part of the simulation never shifts another's draws.
STREAM_LATE, STREAM_SIX_DAYS, STREAM_HISTORY, STREAM_UPLOAD = 10, 11, 12, 13

DESCRIPTIONS = {
    "hw1p2": ("baseline MLP, context 5", "context 12, 4 hidden layers", "added batchnorm", "dropout 0.2",
              "context 15, 2048 wide", "lr schedule: reduce on plateau", "ensemble of 3 MLPs", "more epochs"),
    "hw2p2-classification": ("baseline CNN", "ResNet-18", "ResNet-34, SGD momentum", "data augmentation",
                             "center loss", "label smoothing", "wider first layer", "ensemble"),
    "hw2p2-verification": ("cosine similarity of classification embeddings", "center loss embeddings",
                           "ArcFace head", "L2-normalised features", "ResNet-34 embeddings", "TTA: flips"),
    "hw3p2": ("BiLSTM 3 layers, greedy decode", "beam search width 10", "CNN front end + BiLSTM",
              "locked dropout", "4 layers, hidden 512", "pyramid downsampling"),
    "hw4p2": ("LAS baseline", "teacher forcing 0.9", "locked dropout", "beam search", "pretrained decoder",
              "attention plots look diagonal now", "weight tying"),
}
GENERIC_DESCRIPTIONS = ("", "", "tuned lr", "checkpoint epoch 20", "trying again", "fixed a bug in the loader")
FILE_NAMES = ("submission.csv", "submission.csv", "predictions.csv", "test_predictions.csv", "{slug}_submission.csv",
              "sub{n}.csv")


@dataclass(frozen=True)
class CompetitionWindows:
    """What the simulation needs of a competition folder: its windows as UTC instants."""

    slug: str
    folder: Path
    zone: ZoneInfo
    opens: datetime
    early: datetime | None
    ontime: datetime
    late: datetime


@dataclass(frozen=True)
class PlannedUpload:
    at: datetime
    quality: float
    defect: str | None  # None, "no_header" or "wrong_header"


def read_competitions(course_dir: Path) -> list[CompetitionWindows]:
    """The course's competitions in on-time order (ties: slug), as the slack accounting orders them."""
    course = tomllib.loads((course_dir / "course.toml").read_text(encoding="utf-8"))
    zone = ZoneInfo(course["course"]["timezone"])
    competitions = []
    for path in sorted(course_dir.glob("*/competition.toml")):
        config = tomllib.loads(path.read_text(encoding="utf-8"))
        times = {key: to_utc(datetime.strptime(text, WALL_CLOCK_FORMAT), zone)
                 for key, text in config["schedule"].items()}
        competitions.append(CompetitionWindows(config["competition"]["slug"], path.parent, zone, times["opens"],
                                               times.get("early"), times["ontime"], times["late"]))
    return sorted(competitions, key=lambda c: course_order(c.ontime, c.slug))


def simulate_submissions(course_dir: Path, students: list[DemoStudent], seed: int,
                         now: datetime) -> list[SimulatedSubmission]:
    """Every upload the students have made by `now` in the course at `course_dir`, sorted by time.

    The histories are planned for the whole course and then cut at `now`, so a later `now` only
    adds uploads: the past does not change.
    """
    if now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware (e.g. datetime.now(timezone.utc))")
    now = now.astimezone(timezone.utc)
    competitions = read_competitions(Path(course_dir))
    late_days = late_submitters(len(students), len(competitions), seed)
    submissions = []
    for c, competition in enumerate(competitions):
        solution = None
        for s, student in enumerate(students):
            rng = np.random.default_rng([seed, STREAM_HISTORY, s, c])
            history = plan_history(student, competition, late_days.get((s, c), ()), rng)
            uploads = [upload for upload in cap_per_day(history, competition.zone) if upload.at <= now]
            if uploads and solution is None:
                solution = read_solution(competition.folder / "solution.csv")
            for n, upload in enumerate(uploads):
                upload_rng = np.random.default_rng([seed, STREAM_UPLOAD, s, c, n])
                submissions.append(make_submission(student, competition.slug, upload, solution, n, upload_rng))
    return sorted(submissions, key=lambda sub: (sub.at, sub.email, sub.competition_slug))


def late_submitters(students: int, competitions: int, seed: int) -> dict[tuple[int, int], tuple[int, ...]]:
    """(student, competition) -> days late of that student's after-deadline uploads."""
    plan: dict[tuple[int, int], tuple[int, ...]] = {}
    for c in range(competitions):
        rng = np.random.default_rng([seed, STREAM_LATE, c])
        for s in rng.choice(students, size=min(LATE_STUDENTS, students), replace=False):
            days = rng.choice([1, 2, 3], size=rng.integers(1, 3), replace=False)
            plan[(int(s), c)] = tuple(sorted(int(d) for d in days))
    if competitions and students > LATE_STUDENTS:
        rng = np.random.default_rng([seed, STREAM_SIX_DAYS])
        on_time_only = [s for s in range(students) if (s, 0) not in plan]
        plan[(int(rng.choice(on_time_only)), 0)] = (SIX_DAYS_LATE,)
    return plan


def plan_history(student: DemoStudent, competition: CompetitionWindows, late_days: tuple[int, ...],
                 rng: np.random.Generator) -> list[PlannedUpload]:
    """One student's uploads in one competition over its whole life, in time order."""
    if rng.random() > PARTICIPATION and not late_days:
        return []
    skill = float(np.clip(student.skill + rng.normal(0, 0.05), 0.05, 0.99))  # some homeworks suit you better
    first = first_upload_time(competition, misses_early=rng.random() < EARLY_MISS_RATE, rng=rng)
    count = 1 + rng.poisson(1.0 + 4.0 * student.skill)  # the stronger students iterate more
    # Later uploads crowd towards the on-time deadline, as they do.
    later = [first + (competition.ontime - first) * float(f) for f in rng.beta(2.2, 1.0, size=count - 1)]
    if rng.random() < FRENZY_RATE:
        later += deadline_frenzy(competition, first, rng)
    times = sorted(whole_second(t) for t in [first, *later])
    times += [late_upload_time(competition, days, rng) for days in late_days]
    return [
        PlannedUpload(at, upload_quality(skill, competition, at, rng), upload_defect(n, rng))
        for n, at in enumerate(times)
    ]


def first_upload_time(competition: CompetitionWindows, misses_early: bool, rng: np.random.Generator) -> datetime:
    early = competition.early or competition.ontime
    if misses_early and competition.early is not None:
        return whole_second(early + (competition.ontime - early) * rng.uniform(0.02, 0.7)) + timedelta(seconds=1)
    return whole_second(competition.opens + (early - competition.opens) * rng.uniform(0.05, 1.0))


def deadline_frenzy(competition: CompetitionWindows, first: datetime, rng: np.random.Generator) -> list[datetime]:
    # More uploads than the daily cap allows, so that cap_per_day has work to do on deadline day.
    hours = rng.uniform(0, 6, size=rng.integers(6, 13))
    return [max(competition.ontime - timedelta(hours=float(h)), first) for h in hours]


def late_upload_time(competition: CompetitionWindows, days_late: int, rng: np.random.Generator) -> datetime:
    """An instant `days_late` days late in POLICY.md's sense: ceil((t - ontime) / 24h) == days_late."""
    seconds = (days_late - 1) * 86_400 + int(rng.integers(60, 86_400))
    return min(competition.ontime + timedelta(seconds=seconds), competition.late)


def upload_quality(skill: float, competition: CompetitionWindows, at: datetime, rng: np.random.Generator) -> float:
    # Models improve from 60 % to 100 % of the student's skill between opening and on-time, with noise;
    # the few who keep going after on-time gain a little more.
    progress = (at - competition.opens) / (competition.ontime - competition.opens)
    quality = skill * (0.6 + 0.4 * min(progress, 1.15)) + rng.normal(0, 0.03)
    return float(np.clip(quality, 0.0, 1.0))


def upload_defect(n: int, rng: np.random.Generator) -> str | None:
    rate = FIRST_UPLOAD_DEFECT_RATE if n == 0 else LATER_UPLOAD_DEFECT_RATE
    if rng.random() >= rate:
        return None
    return "no_header" if rng.random() < 0.5 else "wrong_header"


def whole_second(instant: datetime) -> datetime:
    return instant.replace(microsecond=0)


def cap_per_day(history: list[PlannedUpload], zone: ZoneInfo) -> list[PlannedUpload]:
    """The first DAILY_CAP uploads of each calendar day in the course time zone."""
    per_day: dict[date, int] = {}
    kept = []
    for upload in history:
        day = upload.at.astimezone(zone).date()
        if per_day.get(day, 0) < DAILY_CAP:
            per_day[day] = per_day.get(day, 0) + 1
            kept.append(upload)
    return kept


def make_submission(student: DemoStudent, slug: str, upload: PlannedUpload, solution: pd.DataFrame, n: int,
                    rng: np.random.Generator) -> SimulatedSubmission:
    frame = prediction_frame(solution, upload.quality, rng)
    if upload.defect == "wrong_header":
        frame = frame.rename(columns={frame.columns[1]: "prediction"})
    content = csv_bytes(frame, header=upload.defect != "no_header")
    description = str(rng.choice(DESCRIPTIONS.get(slug, ()) + GENERIC_DESCRIPTIONS))
    file_name = str(rng.choice(FILE_NAMES)).format(slug=slug, n=n + 1)
    return SimulatedSubmission(student.email, slug, upload.at, content, description, file_name)


"""The stored state of Podium, as typed SQLAlchemy 2.0 models.

Every instant is stored in UTC (POLICY.md section 2); `UTCDateTime` hands back aware datetimes on every database,
SQLite included, so the rules never see a naive time.

Without `from __future__ import annotations`: SQLAlchemy reads the `Mapped[...]` annotations when it maps each class,
and evaluating them from strings costs a fifth of this module's import, which every `podium` command pays. So the
annotations are live objects, and only the classes defined further down are named in quotes.
"""
from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.functions import FunctionElement

from podium.domain import Role, Status, utcnow

CLIENT_KEY_LENGTH = 100  # longest Idempotency-Key kept; the usual UUID takes 36
CANVAS_FIELD_LENGTH = 255  # longest Canvas id, SIS id or section name kept from a Canvas gradebook export
LEADERBOARD_KEY_LENGTH = 255  # NFKC may lengthen a name: one character can become eighteen
BENCHMARK_NAME_LENGTH = 80  # as long as a leaderboard name


class in_code_point_order(FunctionElement):  # noqa: N801 - used like a SQL function
    """Text compared by code point, as Python compares strings, on every database: SQLite's default collation
    already does; PostgreSQL's depends on the server's locale (en_US ignores "-" and "_"), so it is named there."""

    name = "in_code_point_order"
    inherit_cache = True
    type = String()


@compiles(in_code_point_order)
def _code_points_default(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)


@compiles(in_code_point_order, "postgresql")
def _code_points_postgresql(element, compiler, **kw):
    return f'{compiler.process(element.clauses, **kw)} COLLATE "C"'


def course_order() -> tuple:
    """`rules.course_order` in SQL (ontime, ties by slug), for queries that list a course's competitions."""
    return Competition.ontime, in_code_point_order(Competition.slug)


class UTCDateTime(TypeDecorator):
    """Stores aware datetimes as naive UTC and returns them aware (UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: Optional[datetime], dialect) -> Optional[datetime]:
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


class Course(Base):
    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    policy: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source_dir: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    competitions: Mapped[list["Competition"]] = relationship(
        # The course order of the rules: slack days are spent in it, and pages list the competitions in it.
        back_populates="course", order_by=lambda: list(course_order()), cascade="all, delete-orphan"
    )
    enrolments: Mapped[list["Enrolment"]] = relationship(back_populates="course", cascade="all, delete-orphan")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[Optional[str]] = mapped_column(String(255))
    api_key_hash: Mapped[Optional[str]] = mapped_column(String(128), index=True)
    api_key_created_at: Mapped[Optional[datetime]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The account's session generation: written into a browser session at sign-in, and raised to end every
    # session signed in before (sign-out, a new password, "sign out everywhere"); see podium.services.accounts.
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    # The mails the person asked for on the profile page (podium.services.notifications); none until they opt in.
    notify_submission_results: Mapped[bool] = mapped_column(Boolean, default=False)
    notify_deadline_reminders: Mapped[bool] = mapped_column(Boolean, default=False)
    notify_grade_changes: Mapped[bool] = mapped_column(Boolean, default=False)

    enrolments: Mapped[list["Enrolment"]] = relationship(back_populates="user", cascade="all, delete-orphan")

    @property
    def greeting_name(self) -> str:
        """What the site calls the person in their own header and to staff: a leaderboard name they chose (that of
        their earliest enrolment with one), else the real name, else the email's local part. Never for other
        students to read: boards show the enrolment's `board_name`."""
        chosen = [e.leaderboard_name for e in sorted(self.enrolments, key=lambda e: e.id or 0) if e.leaderboard_name]
        return next(iter(chosen), "") or self.name or self.email.split("@")[0]

    def leaderboard_name_in(self, course_id: int) -> str:
        """The leaderboard name chosen for that course; "" until one is chosen or when not enrolled."""
        return next((e.leaderboard_name for e in self.enrolments if e.course_id == course_id), "")


def board_name(user_id: int, leaderboard_name: str) -> str:
    """The name leaderboards show: the chosen leaderboard name, never the real name or the email
    (POLICY.md section 8); a neutral stand-in until the student chooses one."""
    return leaderboard_name or f"Student {user_id}"


class Enrolment(Base):
    """A person in a course with a role, and the leaderboard name they chose for that course (POLICY.md section 8):
    unique in the course after NFKC normalisation and case folding, which `leaderboard_key` holds (NULL until a
    name is chosen, so that any number of enrolments may have none).

    The `canvas_*` columns are the person's ids in the course's Canvas gradebook, kept from a roster import of
    Canvas's own export and written back by the Canvas grade export; NULL when unknown. One Canvas user is one
    enrolment of the course."""

    __tablename__ = "enrolments"
    __table_args__ = (UniqueConstraint("user_id", "course_id"),
                      Index("uq_enrolments_course_leaderboard_key", "course_id", "leaderboard_key", unique=True),
                      Index("uq_enrolments_course_canvas_user", "course_id", "canvas_user_id", unique=True))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16))
    leaderboard_name: Mapped[str] = mapped_column(String(80), default="", server_default="")
    leaderboard_key: Mapped[Optional[str]] = mapped_column(String(LEADERBOARD_KEY_LENGTH))
    canvas_user_id: Mapped[Optional[str]] = mapped_column(String(CANVAS_FIELD_LENGTH))  # Canvas's "ID"
    canvas_sis_user_id: Mapped[Optional[str]] = mapped_column(String(CANVAS_FIELD_LENGTH))
    canvas_sis_login_id: Mapped[Optional[str]] = mapped_column(String(CANVAS_FIELD_LENGTH))
    canvas_section: Mapped[Optional[str]] = mapped_column(String(CANVAS_FIELD_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped["User"] = relationship(back_populates="enrolments")
    course: Mapped["Course"] = relationship(back_populates="enrolments")

    @property
    def board_name(self) -> str:
        return board_name(self.user_id, self.leaderboard_name)

    @property
    def chosen_leaderboard_name(self) -> str | None:
        """The leaderboard name chosen for the course; None until one is (boards show "Student N" meanwhile)."""
        return self.leaderboard_name or None


class Competition(Base):
    __tablename__ = "competitions"
    __table_args__ = (UniqueConstraint("course_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    slack_eligible: Mapped[bool] = mapped_column(Boolean, default=True)
    allow_practice: Mapped[bool] = mapped_column(Boolean, default=False)
    # Release the private board by itself when the competition is finalised (after `late`), or wait for staff.
    auto_release: Mapped[bool] = mapped_column(Boolean, default=False)
    # Students may download the data files before `opens` (staff chose to show them early); otherwise not until then.
    data_visible_before_open: Mapped[bool] = mapped_column(Boolean, default=False)
    opens: Mapped[datetime]
    early: Mapped[Optional[datetime]]
    ontime: Mapped[datetime]
    late: Mapped[datetime]
    metric: Mapped[str] = mapped_column(String(200))
    higher_is_better: Mapped[bool] = mapped_column(Boolean)
    id_column: Mapped[str] = mapped_column(String(100))
    expected_header: Mapped[list] = mapped_column(JSON, default=list)
    cutoffs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    resolved_cutoffs: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    display_precision: Mapped[int] = mapped_column(Integer, default=5)
    daily_limit: Mapped[Optional[int]] = mapped_column(Integer)
    # The id of the Canvas assignment this competition's grades fill ("Title (123)" in the Canvas export).
    canvas_assignment_id: Mapped[Optional[int]] = mapped_column(BigInteger)
    description: Mapped[str] = mapped_column(Text, default="")
    solution_sha256: Mapped[str] = mapped_column(String(64), default="")
    compiled_dir: Mapped[str] = mapped_column(Text, default="")
    source_dir: Mapped[str] = mapped_column(Text, default="")
    finalised_at: Mapped[Optional[datetime]]
    released_at: Mapped[Optional[datetime]]
    # The competition's [code] table (POLICY.md section 12); both NULL when it collects no code. `code_settings`:
    # {"required": bool, "max_mb": float, "kinds": [".zip", ...], "starter": [stored paths of the starter files]}.
    code_deadline: Mapped[Optional[datetime]]
    code_settings: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    course: Mapped["Course"] = relationship(back_populates="competitions")
    files: Mapped[list["DataFile"]] = relationship(
        back_populates="competition", order_by="DataFile.name", cascade="all, delete-orphan"
    )

    @property
    def public_id(self) -> str:
        """`<course-slug>-<competition-slug>`, used in URLs, the CLI and both APIs."""
        return f"{self.course.slug}-{self.slug}"


class DataFile(Base):
    """A file students may download (never the solution)."""

    __tablename__ = "data_files"
    __table_args__ = (UniqueConstraint("competition_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("competitions.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(BigInteger)  # 64-bit: a course's data files exceed 2 GiB
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    competition: Mapped["Competition"] = relationship(back_populates="files")


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (
        Index("ix_submissions_competition_user", "competition_id", "user_id", "submitted_at"),
        Index("ix_submissions_status", "status"),
        # The newest scoring time of a competition, read on every leaderboard request to know whether the cached
        # ranking still holds: an index seek instead of a scan.
        Index("ix_submissions_competition_scored", "competition_id", "scored_at"),
        # A client's key for one upload, so that a retry after a lost answer finds the first submission instead of
        # making a second one. NULLs are distinct in a unique index on SQLite and PostgreSQL alike.
        Index("uq_submissions_client_key", "user_id", "competition_id", "client_key", unique=True),
        # A competition's benchmarks, read on every leaderboard request: a seek to the few named rows.
        Index("ix_submissions_competition_benchmark", "competition_id", "benchmark_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("competitions.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    submitted_at: Mapped[datetime]
    file_path: Mapped[str] = mapped_column(Text)
    file_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)  # 64-bit: a course's data files exceed 2 GiB
    rows: Mapped[Optional[int]] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[Status] = mapped_column(Enum(Status, native_enum=False, length=16), default=Status.queued)
    error: Mapped[Optional[str]] = mapped_column(Text)
    public_score: Mapped[Optional[float]] = mapped_column(Float)
    private_score: Mapped[Optional[float]] = mapped_column(Float)
    scoring_seconds: Mapped[Optional[float]] = mapped_column(Float)
    scored_at: Mapped[Optional[datetime]]
    practice: Mapped[bool] = mapped_column(Boolean, default=False)
    selected: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when staff recorded the upload for the student (outage recovery): who did it.
    recorded_by: Mapped[Optional[str]] = mapped_column(String(254))
    # The scoring worker that holds the claim (host:pid:nonce) and until when the claim holds unless renewed;
    # a claim whose lease has run out may be taken over (podium/jobs.py).
    claimed_by: Mapped[Optional[str]] = mapped_column(String(128))
    lease_until: Mapped[Optional[datetime]]
    # Claims of this submission so far that did not end with a result, the current one included; one given back by
    # a clean shutdown is not counted. Past PODIUM_SCORING_ATTEMPTS the submission fails instead of being retried.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The Idempotency-Key the client sent with the upload, if any.
    client_key: Mapped[Optional[str]] = mapped_column(String(CLIENT_KEY_LENGTH))
    # When the file was deleted from the data dir (a failed upload past its keeping time): the row, its error and
    # the file's name, size and hash stay.
    file_removed_at: Mapped[Optional[datetime]]
    # The name of the benchmark row this submission is on the boards ("Benchmark: NAME"), set by staff on
    # submissions of the course's staff only (podium.services.benchmarks): it ranks no student and counts for no grade.
    benchmark_name: Mapped[Optional[str]] = mapped_column(String(BENCHMARK_NAME_LENGTH))

    competition: Mapped["Competition"] = relationship()
    user: Mapped["User"] = relationship()


class CodeSubmission(Base):
    """The code behind a student's predictions for one competition (POLICY.md section 12): every upload is kept,
    the latest one received by the student's code deadline counts. `late`: received after that deadline, as it
    stood at upload time (what counts is always decided afresh by podium.services.code.counted_code)."""

    __tablename__ = "code_submissions"
    __table_args__ = (Index("ix_code_submissions_competition_user", "competition_id", "user_id", "submitted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("competitions.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    submitted_at: Mapped[datetime]
    file_path: Mapped[str] = mapped_column(Text)  # relative to the data dir, like Submission.file_path
    file_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))  # ".zip", ".tar.gz", ".py" or ".ipynb"
    members: Mapped[int] = mapped_column(Integer, default=1)  # files in it (1 for a single .py or .ipynb)
    late: Mapped[bool] = mapped_column(Boolean, default=False)

    competition: Mapped["Competition"] = relationship()
    user: Mapped["User"] = relationship()


class Extension(Base):
    """One student's deadlines moved on one competition (POLICY.md section 7)."""

    __tablename__ = "extensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("competitions.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    delta_seconds: Mapped[Optional[int]] = mapped_column(Integer)
    early: Mapped[Optional[datetime]]
    ontime: Mapped[Optional[datetime]]
    late: Mapped[Optional[datetime]]
    reason: Mapped[str] = mapped_column(Text, default="")
    granted_by: Mapped[str] = mapped_column(String(254), default="")
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[Optional[datetime]]
    revoked_by: Mapped[Optional[str]] = mapped_column(String(254))

    competition: Mapped["Competition"] = relationship()
    user: Mapped["User"] = relationship()


class SlackEntry(Base):
    """Slack days a student spent outside Podium (e.g. on parts graded elsewhere), recorded by staff."""

    __tablename__ = "slack_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    days: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(254), default="")
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped["User"] = relationship()


class CourseInvitation(Base):
    """A link that enrols whoever opens it, signed in, as a student of the course (podium.services.invitations).

    Only the SHA-256 of the link's token is kept: the token is shown once, when the link is made. `allowed_domains`
    lists the email domains the link accepts ("example.edu" that domain only, "*.example.edu" its subdomains);
    empty: any address. `joined` counts the people the link enrolled."""

    __tablename__ = "course_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    allowed_domains: Mapped[list] = mapped_column(JSON, default=list)
    expires_at: Mapped[Optional[datetime]]
    created_by: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[Optional[datetime]]
    revoked_by: Mapped[Optional[str]] = mapped_column(String(254))
    joined: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    course: Mapped[Course] = relationship()


class GradeChange(Base):
    """A final grade of a finalised or released competition that a decision changed: a regrade (POLICY.md section
    11), or a release that moved the slack chain. The audit event of the decision lists the same changes; these rows
    let a student see the reason beside the grade."""

    __tablename__ = "grade_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("competitions.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    old_final: Mapped[Optional[float]] = mapped_column(Float)  # None: no grade before
    new_final: Mapped[Optional[float]] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(254))
    audit_event_id: Mapped[Optional[int]] = mapped_column(ForeignKey("audit_events.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class JobLease(Base):
    """A named job that one process at a time may run (the deadline scheduler), held until `lease_until`."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    lease_until: Mapped[datetime]


class AuditEvent(Base):
    """Who did what, when: every staff action that changes what counts."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(254))
    course_id: Mapped[Optional[int]] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(255), default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class UploadTicket(Base):
    """One Kaggle-style upload: issued with the size announced, the file PUT once, then submitted once.

    Only a hash of the ticket's token is kept; the token itself travels in the upload URL. Every step is a
    conditional update, so a ticket is used once even with several server processes sharing the database.
    """

    __tablename__ = "upload_tickets"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the token, hex
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    competition_id: Mapped[int] = mapped_column(ForeignKey("competitions.id", ondelete="CASCADE"))
    file_name: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(BigInteger)  # 64-bit: a course's data files exceed 2 GiB
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    expires_at: Mapped[datetime]
    upload_started_at: Mapped[Optional[datetime]]
    received_at: Mapped[Optional[datetime]]
    staged_path: Mapped[Optional[str]] = mapped_column(Text)
    used_at: Mapped[Optional[datetime]]
    submission_id: Mapped[Optional[int]] = mapped_column(Integer)


class RateCounter(Base):
    """Requests (or failed sign-ins) counted in a fixed window per subject, shared by every server process.

    `subject` is a hash of what is counted (an email, a client address, an account id), so the table holds no
    address in clear; `window_start` is in milliseconds since the epoch. Counted with conditional updates only
    (podium.services.ratelimit), so two processes never lose a hit.
    """

    __tablename__ = "rate_counters"

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, index=True)
    hits: Mapped[int] = mapped_column(Integer)


class MailState:
    """Where a mail of the outbox stands: waiting (possibly after failed attempts), sent, or given up on."""

    PENDING, SENT, FAILED, EXPIRED = "pending", "sent", "failed", "expired"


class OutboxMail(Base):
    """One mail Podium sends (podium.services.outbox): written in the transaction of what caused it, sent later by
    the background work, retried with back-off while the mail server is down, and kept afterwards so that staff
    see what went out and what did not.

    A mail that holds a sign-in or reset link (`holds_link`) is a credential while it waits: its body is emptied
    once it is sent or given up on, and no page shows it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_send_after", "state", "send_after"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    holds_link: Mapped[bool] = mapped_column(Boolean, default=False)
    course_id: Mapped[Optional[int]] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # A mail that must go at most once however often its cause is seen (a deadline reminder): a second one with
    # the same key is not written.
    dedupe_key: Mapped[Optional[str]] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[str] = mapped_column(String(16), default=MailState.PENDING)
    send_after: Mapped[datetime] = mapped_column(default=utcnow)
    # Past this instant the mail is not sent any more (a link that no longer works, a reminder of a passed deadline).
    expires_at: Mapped[Optional[datetime]]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[Optional[str]] = mapped_column(String(128))
    claimed_until: Mapped[Optional[datetime]]
    sent_at: Mapped[Optional[datetime]]
    ended_at: Mapped[Optional[datetime]]  # when it was given up on or expired
    last_error: Mapped[str] = mapped_column(Text, default="")


# --- LTI 1.3 (podium.services.lti): Podium as a tool of the learning management systems registered here ---------


class LtiPlatform(Base):
    """A learning management system (Canvas, Moodle) registered with this Podium as an LTI 1.3 platform: who it is
    (its issuer, and the client id it gave Podium), the deployments of Podium it made, and where it signs people in,
    hands out access tokens and publishes its keys. `email_domains` are the domains it is trusted for: a person it
    sends with an address there may be matched to the Podium account of that address the first time (afterwards,
    by the platform's own id of the person only). `allow_framing`: Podium may be shown inside its pages."""

    __tablename__ = "lti_platforms"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    deployment_ids: Mapped[list] = mapped_column(JSON, default=list)
    auth_login_url: Mapped[str] = mapped_column(Text)
    auth_token_url: Mapped[str] = mapped_column(Text)
    key_set_url: Mapped[str] = mapped_column(Text)
    # The `aud` of Podium's token requests when the platform wants another than its token URL (Moodle, Brightspace).
    auth_audience: Mapped[Optional[str]] = mapped_column(Text)
    email_domains: Mapped[list] = mapped_column(JSON, default=list)
    allow_framing: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LtiIdentity(Base):
    """A Podium account as one platform knows it: the platform's id of the person (`sub`), the only thing a launch
    or a roster is matched by once linked."""

    __tablename__ = "lti_identities"
    __table_args__ = (UniqueConstraint("platform_id", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    linked_by: Mapped[str] = mapped_column(String(32))  # how: "launch", "roster", "email", "new account"
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)

    platform: Mapped["LtiPlatform"] = relationship()
    user: Mapped["User"] = relationship()


class LtiContext(Base):
    """An LMS course linked to a Podium course, as its instructor chose at the first launch. The platform's service
    addresses (roster, gradebook) are those its latest launch named. `create_accounts`: a person the LMS sends and
    Podium does not know gets an account (off by default: staff enrol people, the LMS links them)."""

    __tablename__ = "lti_contexts"
    __table_args__ = (UniqueConstraint("platform_id", "context_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    context_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(255), default="")
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    create_accounts: Mapped[bool] = mapped_column(Boolean, default=False)
    memberships_url: Mapped[Optional[str]] = mapped_column(Text)
    lineitems_url: Mapped[Optional[str]] = mapped_column(Text)
    ags_scopes: Mapped[list] = mapped_column(JSON, default=list)
    linked_by: Mapped[str] = mapped_column(String(254), default="")
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)
    synced_at: Mapped[Optional[datetime]]
    sync_error: Mapped[str] = mapped_column(Text, default="")

    platform: Mapped["LtiPlatform"] = relationship()
    course: Mapped["Course"] = relationship()


class LtiResourceLink(Base):
    """A link placed in the LMS course (by hand, or by deep linking) and the competition it opens; None: the course."""

    __tablename__ = "lti_resource_links"
    __table_args__ = (UniqueConstraint("context_id", "link_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("lti_contexts.id", ondelete="CASCADE"))
    link_id: Mapped[str] = mapped_column(String(255))
    competition_id: Mapped[Optional[int]] = mapped_column(ForeignKey("competitions.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LtiLaunchValue(Base):
    """What a launch keeps between its two requests (the nonce the platform's token must carry, taken once), shared
    by every server process; removed when used or expired."""

    __tablename__ = "lti_launch_values"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LtiLineItem(Base):
    """A competition's column in a linked LMS course's gradebook (AGS line item), found by its tag or made by Podium;
    `checked_at`: when the competition's grades were last compared with what the gradebook was sent."""

    __tablename__ = "lti_line_items"
    __table_args__ = (UniqueConstraint("context_id", "competition_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("lti_contexts.id", ondelete="CASCADE"))
    competition_id: Mapped[int] = mapped_column(ForeignKey("competitions.id", ondelete="CASCADE"))
    url: Mapped[Optional[str]] = mapped_column(Text)
    checked_at: Mapped[Optional[datetime]]


class LtiGrade(Base):
    """One student's final grade of one competition as the linked LMS gradebook should hold it, and how sending it
    went: waiting (possibly after failed attempts), sent, or given up on. A new grade (a regrade) makes it wait
    again."""

    __tablename__ = "lti_grades"
    __table_args__ = (UniqueConstraint("context_id", "competition_id", "user_id"),
                      Index("ix_lti_grades_state_next", "state", "next_attempt_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("lti_contexts.id", ondelete="CASCADE"))
    competition_id: Mapped[int] = mapped_column(ForeignKey("competitions.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    score: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[str] = mapped_column(String(16), default=MailState.PENDING)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[Optional[str]] = mapped_column(String(128))
    claimed_until: Mapped[Optional[datetime]]
    sent_score: Mapped[Optional[float]] = mapped_column(Float)
    sent_at: Mapped[Optional[datetime]]
    last_error: Mapped[str] = mapped_column(Text, default="")

    competition: Mapped["Competition"] = relationship()
    user: Mapped["User"] = relationship()

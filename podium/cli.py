"""The `podium` command: the instructor's interface to the services, and the tests'.

Each command parses its arguments, calls one service and prints the outcome. Errors are one line on stderr and a
non-zero exit status, never a traceback.

Each command imports what it uses in its own body, so a light command (`--help`, `jobs`, `users token`, `grades
explain`, `slack balance`) starts in a fraction of a second: it loads neither the scoring stack (pandas, pyarrow)
nor the web app. tests/test_cli_imports.py guards this; bench/cli.py times it.
"""
from __future__ import annotations

import gc
import getpass
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from podium.config import DEFAULT_SERVER_THREADS, DEFAULT_SERVER_WORKERS, debug_requested
from podium.errors import FieldError, PodiumError, RegradeNeeded

if TYPE_CHECKING:
    from podium.runtime import Runtime

EXIT_ERROR = 1
REGRADE_HELP = ("apply the change even though it changes final grades of finalised or released competitions "
                "(each changed grade is audited)")


def regrade_option(command):
    return click.option("--regrade", is_flag=True, help=REGRADE_HELP)(command)


class PodiumCommand(click.Command):
    """A command that leaves itself where the group's error handler finds it, to word errors about its fields."""

    def invoke(self, ctx: click.Context):
        ctx.meta["podium.command"] = self  # `meta` is shared by every context of the invocation
        return super().invoke(ctx)


class PodiumGroup(click.Group):
    """Turns every expected error into one line on stderr; an unexpected one says where to look, briefly."""

    command_class = PodiumCommand
    group_class = type  # subgroups are PodiumGroups too, with PodiumCommands

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except RegradeNeeded as exc:
            click.echo(f"error: {exc.message}", err=True)
            click.echo("Run the command again with --regrade to apply the change; every grade it changes is "
                       "recorded in the audit log.", err=True)
            ctx.exit(EXIT_ERROR)
        except PodiumError as exc:
            click.echo(f"error: {worded(exc, ctx.meta.get('podium.command'))}", err=True)
            ctx.exit(EXIT_ERROR)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except OSError as exc:
            click.echo(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
            ctx.exit(EXIT_ERROR)
        except Exception as exc:
            if debug_requested():
                raise
            click.echo(f"error: unexpected {type(exc).__name__}: {exc} (set PODIUM_DEBUG=1 for the traceback)",
                       err=True)
            ctx.exit(EXIT_ERROR)


def worded(exc: PodiumError, command: click.Command | None) -> str:
    """The message, with the fields a FieldError names worded as this command's options and arguments."""
    if not isinstance(exc, FieldError) or command is None:
        return exc.message
    names = {}
    for param in command.params:
        if isinstance(param, click.Option):
            names[param.name] = max(param.opts, key=len)
        elif isinstance(param, click.Argument):
            names[param.name] = param.human_readable_name
    return exc.worded(names)


def runtime(ctx: click.Context) -> Runtime:
    # Here, not at the top: the database layer (SQLAlchemy) costs a fifth of a second that `--help` need not pay.
    from podium.runtime import make_runtime

    root = ctx.find_root()
    if root.obj is None:
        root.obj = make_runtime()
        root.call_on_close(root.obj.db.dispose)
        collect_again()
    return root.obj


# Loading a command's code (SQLAlchemy, the models, the services) makes a few hundred thousand objects that live as
# long as the process. The cyclic collector walks them again and again while they are made and finds nothing to
# free: a tenth of a light command's start-up. So `main` turns it off until the command has its code and its
# database (`runtime`), then turns it on with what exists by then set aside from its walks (gc.freeze).
_collector_paused = False


def pause_collector() -> None:
    global _collector_paused
    if gc.isenabled():
        gc.disable()
        _collector_paused = True


def collect_again() -> None:
    """The collector on again, if `main` paused it; what was loaded until now is never walked (gc.freeze)."""
    global _collector_paused
    if _collector_paused:
        gc.freeze()
        gc.enable()
        _collector_paused = False


def actor() -> str:
    """Who ran the command, for the audit log."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@click.group(cls=PodiumGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="podium")
def cli() -> None:
    """Podium: course competitions with grading policy. Configured by DATABASE_URL and PODIUM_DATA_DIR."""


@cli.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create or upgrade the database (Alembic)."""
    rt = runtime(ctx)
    rt.db.upgrade()
    click.echo(f"database ready: {rt.db.engine.url.render_as_string(hide_password=True)}")


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--regrade", is_flag=True, help=REGRADE_HELP)
@click.pass_context
def load(ctx: click.Context, folder: Path, regrade: bool) -> None:
    """Load or update a course folder (course.toml and */competition.toml); prints what changed, key by key."""
    from podium.services.courses import load_course

    rt = runtime(ctx)
    rt.db.upgrade()
    with rt.db.session() as session:
        report = load_course(session, rt.settings, folder, actor=actor(), regrade=regrade)
    click.echo("\n".join(report.lines()))


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=None, type=click.IntRange(1, 64),
              help=f"server processes (gunicorn workers)  [default: {DEFAULT_SERVER_WORKERS}]")
@click.option("--threads", default=None, type=click.IntRange(1, 256),
              help=f"requests each server process serves at once  [default: {DEFAULT_SERVER_THREADS}]")
@click.option("--no-scheduler", is_flag=True,
              help="never run the periodic recovery or the deadline jobs here (another process on the database does)")
@click.option("--no-scoring", is_flag=True,
              help="only record uploads, queued: `podium worker` processes on the same database score them")
@click.option("--debug", is_flag=True,
              help="for developing Podium: Werkzeug's development server, Flask's debugger, reload on code changes")
@click.pass_context
def run(ctx: click.Context, host: str, port: int, workers: int | None, threads: int | None, no_scheduler: bool,
        no_scoring: bool, debug: bool) -> None:
    """Serve the web app, score uploads in the background and run the scheduler; stops cleanly on SIGTERM."""
    if debug and (workers or threads):
        raise click.UsageError("--workers and --threads are for the production server; --debug serves in one "
                               "process with Werkzeug's development server, a thread per request")
    rt = runtime(ctx)
    rt.db.upgrade()
    if debug:
        from podium.devserver import serve_for_development

        click.echo(f"Podium on http://{host}:{port}/  (data: {rt.settings.data_dir}; development server with the "
                   "debugger: for developing Podium only, never for a course)")
        ctx.exit(serve_for_development(rt, host, port, scheduler=not no_scheduler,
                                        scoring=not no_scoring))
    from podium.serve import serve

    workers, threads = workers or DEFAULT_SERVER_WORKERS, threads or DEFAULT_SERVER_THREADS
    click.echo(f"Podium on http://{host}:{port}/  (data: {rt.settings.data_dir}; {workers} "
               f"process{'es' if workers > 1 else ''} of {threads} threads)")
    # The gunicorn master forks the workers: it must not hold a database connection they would inherit.
    rt.db.dispose()
    serve(host, port, workers, threads, scheduler=not no_scheduler, scoring=not no_scoring,
          client_limits=rt.settings.client_limits)


@cli.command()
@click.option("--slots", type=click.IntRange(1, 256), default=None,
              help="attempts scored at once  [default: PODIUM_SCORING_WORKERS, or min(4, CPUs)]")
@click.option("--no-scheduler", is_flag=True,
              help="never run the periodic recovery or the deadline jobs here (another process on the database does)")
@click.pass_context
def worker(ctx: click.Context, slots: int | None, no_scheduler: bool) -> None:
    """Score queued submissions without serving HTTP, e.g. on machines of their own that share the database and
    PODIUM_DATA_DIR with the web servers; stops cleanly on SIGTERM."""
    import logging

    from podium.jobs import run_worker

    rt = runtime(ctx)
    rt.db.upgrade()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per pass says nothing an operator needs
    click.echo(f"Podium scoring worker (data: {rt.settings.data_dir}); SIGTERM or Ctrl-C stops it")
    run_worker(rt, slots, scheduler=not no_scheduler)


# --- users -----------------------------------------------------------------------------------------------


@cli.group()
def users() -> None:
    """Accounts, enrolments and API keys."""


@users.command("add")
@click.argument("email")
@click.option("--course", "course_slug", required=True, help="course slug, e.g. 11785-f19")
@click.option("--role", type=click.Choice(["student", "staff", "instructor"]), default="student", show_default=True)
@click.option("--name", default="", help="the name of a new account")
@click.option("--password", default=None, help="the password of a new account, for signing in to the web app")
@click.option("--leaderboard-name", default="", help="the leaderboard name in the course, for a new enrolment")
@regrade_option
@click.pass_context
def users_add(ctx, email, course_slug, role, name, password, leaderboard_name, regrade) -> None:
    """Enrol EMAIL in a course with a role, making the account if there is none.

    An existing account is never changed by enrolling it: giving it another name or a password here is refused
    (`podium users reset-link` lets its owner set a new password)."""
    from podium.services import courses, users as users_service

    with runtime(ctx).db.session() as session:
        existing = users_service.find_user(session, email)
        if existing is not None:
            _refuse_account_changes(existing, courses.get_course(session, course_slug), name=name, password=password,
                                    leaderboard_name=leaderboard_name)
        user = users_service.add_user(session, email, courses.get_course(session, course_slug), role, name=name,
                                      password=password, leaderboard_name=leaderboard_name, actor=actor(),
                                      regrade=regrade)
        click.echo(f"{user.email}: {role} of {course_slug}")


def _refuse_account_changes(user, course, *, name: str, password: str | None, leaderboard_name: str) -> None:
    # A leaderboard name belongs to the enrolment: it is given with the first enrolment in the course only.
    enrolled = any(e.course_id == course.id for e in user.enrolments)
    changes = [what for what, given, kept in (("--name", name.strip(), user.name),
                                               ("--leaderboard-name", leaderboard_name.strip(),
                                                user.leaderboard_name_in(course.id) if enrolled else None))
               if given and given != kept and kept is not None]
    if password:
        changes.append("--password")
    if changes:
        raise PodiumError(f"{user.email} has an account already, and enrolling it changes nothing of it: leave out "
                          f"{', '.join(changes)} (its owner changes them on the profile page; "
                          f"`podium users reset-link {user.email}` gives a link to set a new password)")


@users.command("import")
@click.argument("roster", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--course", "course_slug", required=True)
@click.option("--email-domain", default="",
              help="for Canvas's gradebook export: the domain its SIS Login IDs are addresses at (jdoe -> jdoe@DOMAIN)")
@click.option("--welcome-mail", is_flag=True,
              help="mail each account the import makes a link to set its password, and each existing account it "
                   "adds to the course a notice (needs PODIUM_SMTP_HOST and PODIUM_BASE_URL)")
@click.pass_context
def users_import(ctx, roster: Path, course_slug: str, email_domain: str, welcome_mail: bool) -> None:
    """Enrol everyone in ROSTER.csv (columns email,name[,role], or Canvas's gradebook export, whose students are
    enrolled with their Canvas ids kept); the names are those of new accounts only."""
    from podium.services import courses, users as users_service

    rt = runtime(ctx)
    with rt.db.session() as session:
        result = users_service.import_roster(session, courses.get_course(session, course_slug), roster, actor=actor(),
                                             email_domain=email_domain, welcome=rt.settings if welcome_mail else None)
    click.echo(f"{result.added} added, {result.updated} already had accounts (left as they were)")
    if welcome_mail:
        click.echo(f"{result.welcomed} welcome mails with a sign-in link and {result.notified} notices queued; "
                   "`podium mail list` shows them")
    if result.canvas_linked:
        click.echo(f"Canvas ids kept for {result.canvas_linked}")
    for email in result.staff_skipped:
        click.echo(f"skipped {email}: staff of the course (left as they were)", err=True)


@users.command("unenrol")
@click.argument("email")
@click.option("--course", "course_slug", required=True)
@regrade_option
@click.pass_context
def users_unenrol(ctx, email: str, course_slug: str, regrade: bool) -> None:
    """Take EMAIL out of a course (never its last instructor; audited); the account and its submissions stay."""
    from podium.services import courses, users as users_service

    with runtime(ctx).db.session() as session:
        kept = users_service.remove_enrolment(session, courses.get_course(session, course_slug),
                                              users_service.get_user(session, email), actor=actor(),
                                              regrade=regrade)
    click.echo(f"{email}: no longer enrolled in {course_slug}; {kept} submission{'' if kept == 1 else 's'} kept")


# The command's earlier name, still accepted.
users.add_command(PodiumCommand("remove", params=users_unenrol.params, callback=users_unenrol.callback,
                                help=users_unenrol.help, hidden=True))


@users.command("reset-link")
@click.argument("email")
@click.pass_context
def users_reset_link(ctx, email: str) -> None:
    """Print a link that lets EMAIL's owner set a new password (any account; audited). It works once, for three
    days; its address starts with PODIUM_BASE_URL."""
    from podium.services import accounts, users as users_service

    rt = runtime(ctx)
    with rt.db.session() as session:
        token = accounts.issue_reset_token(session, rt.settings, users_service.get_user(session, email),
                                           actor=actor())
    click.echo(f"{rt.settings.base_url or ''}/reset/{token}")


@users.command("token")
@click.argument("email")
@click.pass_context
def users_token(ctx, email: str) -> None:
    """Print a new API key for EMAIL (the old one stops working)."""
    from podium.services import users as users_service

    with runtime(ctx).db.session() as session:
        key = users_service.issue_api_key(session, users_service.get_user(session, email), actor=actor())
    click.echo(key)


# --- invitation links ------------------------------------------------------------------------------------


@cli.group()
def invitations() -> None:
    """Links that let people join a course as students by themselves, signed in."""


def _parse_expiry(value: str | None, timezone: str) -> datetime | None:
    """`14d` or `48h` from now; an ISO 8601 time (without an offset: in the course time zone); or a date alone, for
    a link that works through that day."""
    import re
    from datetime import timedelta

    from podium.domain import utcnow

    if value is None:
        return None
    text = value.strip()
    if found := re.fullmatch(r"(\d+(?:\.\d+)?)\s*([dh])", text):
        return utcnow() + timedelta(**{"days" if found[2] == "d" else "hours": float(found[1])})
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(timezone)) + timedelta(days=1)
        at = datetime.fromisoformat(text)
    except ValueError:
        raise PodiumError(f"--expires {value!r}: give 14d or 48h (from now), a date such as 2026-12-31 (the link "
                          "works through that day) or a time such as 2026-12-31T18:00 (course time zone)") from None
    return at.replace(tzinfo=ZoneInfo(timezone)) if at.tzinfo is None else at


@invitations.command("create")
@click.argument("course_slug", metavar="COURSE")
@click.option("--expires", default=None,
              help="when the link stops working: 14d or 48h from now, a date (the link works through it) or an ISO "
                   "8601 time (course time zone without an offset); default: until revoked")
@click.option("--domain", "domains", multiple=True,
              help="accept only emails at this domain (example.edu: exactly it; *.example.edu: its subdomains); "
                   "repeat for several; default: any address")
@click.option("--label", default="", help="a note for staff, e.g. the section")
@click.option("--mail-to", "mail_to", multiple=True,
              help="also mail the link to this address (through the outbox; repeat for several); needs a mail server "
                   "and PODIUM_BASE_URL")
@click.pass_context
def invitations_create(ctx, course_slug: str, expires: str | None, domains: tuple[str, ...], label: str,
                       mail_to: tuple[str, ...]) -> None:
    """Make a link that enrols whoever opens it, signed in, as a student of COURSE (audited). The link is printed
    once and never stored: only its fingerprint is kept."""
    from podium.services import authority, courses, invitations as service

    rt = runtime(ctx)
    with rt.db.session() as session:
        course = courses.get_course(session, course_slug)
        made = service.create(session, course, by=authority.OPERATOR, actor=actor(), label=label,
                              expires_at=_parse_expiry(expires, course.timezone), domains=domains,
                              mail_to=mail_to, settings=rt.settings)
        invitation_id = made.invitation.id
    click.echo(f"{rt.settings.base_url or ''}/join/{made.token}")
    if mail_to:
        click.echo(f"mailed to {len(set(mail_to))} address(es) through the outbox: `podium mail list` shows when each "
                   "went out", err=True)
    click.echo(f"invitation link {invitation_id} for {course_slug}: shown this once; revoke it with `podium "
               f"invitations revoke {invitation_id}`", err=True)
    if rt.settings.base_url is None:
        click.echo("PODIUM_BASE_URL is not set: put the address people open Podium at in front of the link", err=True)


@invitations.command("list")
@click.argument("course_slug", metavar="COURSE")
@click.pass_context
def invitations_list(ctx, course_slug: str) -> None:
    """List COURSE's links, newest first: id, state, people joined, allowed addresses, expiry, label."""
    from podium.services import authority, courses, invitations as service

    with runtime(ctx).db.session() as session:
        listed = service.listing(session, courses.get_course(session, course_slug), by=authority.OPERATOR)
        for row in listed:
            inv = row.invitation
            expiry = f"expires {service.expiry_words(inv)}" if inv.expires_at else "no expiry"
            state = f"revoked by {inv.revoked_by}" if inv.revoked_at else row.state
            click.echo(f"{inv.id}\t{state}\t{inv.joined} joined\t{service.describe_domains(inv.allowed_domains)}\t"
                       f"{expiry}\t{inv.label}")
        if not listed:
            click.echo(f"no invitation links in {course_slug}")


@invitations.command("revoke")
@click.argument("invitation_id", type=int)
@click.pass_context
def invitations_revoke(ctx, invitation_id: int) -> None:
    """Stop a link from enrolling anyone (audited); who joined through it stays enrolled."""
    from podium.services import authority, invitations as service

    with runtime(ctx).db.session() as session:
        revoked = service.revoke(session, None, invitation_id, by=authority.OPERATOR, actor=actor())
        click.echo(f"invitation link {invitation_id} of {revoked.course.slug} revoked; {revoked.joined} joined "
                   "through it and stay enrolled")
# --- mail ------------------------------------------------------------------------------------------------


@cli.group()
def mail() -> None:
    """The outbox: every mail Podium writes, sent by the background work of `podium run`."""


@mail.command("list")
@click.option("--course", "course_slug", default=None, help="only the mails of this course")
@click.option("--state", type=click.Choice(["pending", "sent", "failed", "expired"]), default=None,
              help="only the mails in this state")
@click.pass_context
def mail_list(ctx, course_slug: str | None, state: str | None) -> None:
    """One line per mail, failed first: id, state, kind, course, recipient, attempts, when, subject, last error.
    Never a mail's body."""
    from podium.services import mails

    with runtime(ctx).db.session() as session:
        lines = mails.describe(mails.all_mails(session, course_slug, state))
    for line in lines:
        click.echo(line)
    if not lines:
        click.echo("no mails", err=True)


@mail.command("send")
@click.pass_context
def mail_send(ctx) -> None:
    """Send the mails that are due, now, once (what `podium run` does every PODIUM_MAIL_SECONDS), and print what
    happened to each."""
    from podium.services import leases, outbox

    rt = runtime(ctx)
    done = outbox.send_due(rt.db, attempts=rt.settings.jobs.mail_attempts, worker=f"cli {leases.this_process()}")
    for what, ids in (("sent", done.sent), ("to retry", done.retrying), ("given up", done.failed),
                      ("expired", done.expired)):
        click.echo(f"{len(ids)} {what}" + (f": {', '.join(map(str, ids))}" if ids else ""))
    if not done.configured:
        raise PodiumError("no mail server is configured (PODIUM_SMTP_HOST): nothing was sent, the mails wait")


@mail.command("retry")
@click.argument("mail_id", type=int)
@click.pass_context
def mail_retry(ctx, mail_id: int) -> None:
    """Put failed mail MAIL_ID back in the outbox with all its attempts (audited); a mail that held a link gets a
    new one."""
    from podium.services import mails

    rt = runtime(ctx)
    with rt.db.session() as session:
        done = mails.retry(session, rt.settings, mail_id, actor=actor())
        click.echo(f"mail {done.id} to {done.recipient} is queued again")


# --- submissions -----------------------------------------------------------------------------------------


def _parse_at(value: str | None, timezone: str) -> datetime | None:
    """ISO 8601; without an offset the time is read in the course time zone, as the deadlines are."""
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise PodiumError(f"--at {value!r} is not ISO 8601, e.g. 2019-09-29T23:50:00-04:00") from None
    return at.replace(tzinfo=ZoneInfo(timezone)) if at.tzinfo is None else at


@cli.command()
@click.argument("competition")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "email", required=True,
              help="the student the submission belongs to (with --benchmark: a staff member of the course)")
@click.option("--at", "at", default=None,
              help="when it was made (ISO 8601, not in the future; no offset = course time zone), for outage recovery")
@click.option("-m", "--message", default="", help="description")
@click.option("--benchmark", default=None, metavar="NAME",
              help="record a baseline of the staff member --as, shown on the boards as \"Benchmark: NAME\" "
                   "(ranked nowhere, graded never)")
@click.pass_context
def submit(ctx, competition: str, file: Path, email: str, at: str | None, message: str,
           benchmark: str | None) -> None:
    """Record a submission for a student, or a staff member's benchmark (audited), and score it."""
    from podium.services import courses, submissions, users as users_service

    if benchmark is not None and at is not None:
        raise PodiumError("--at is for recording a student's submission at the time an outage kept them from making "
                          "it; a benchmark is recorded now, so leave --at out.")
    rt = runtime(ctx)
    with rt.db.session() as session:
        comp = courses.get_competition(session, competition)
        user = users_service.get_user(session, email)
        comp_id, user_id, when = comp.id, user.id, _parse_at(at, comp.course.timezone)
    with open(file, "rb") as stream:
        sub = submissions.receive(rt.db, rt.settings, comp_id, user_id, stream, file.name, message, at=when,
                                  recorded_by=actor(), benchmark=benchmark)
    sub = submissions.score(rt.db, rt.settings, sub.id) or sub
    click.echo(json.dumps(_submission_line(sub)))
    if sub.status.value == "failed":
        ctx.exit(EXIT_ERROR)


def _submission_line(sub) -> dict:
    return {"id": sub.id, "status": sub.status.value, "submitted_at": sub.submitted_at.isoformat(),
            "public": sub.public_score, "private": sub.private_score, "error": sub.error,
            **({"benchmark": sub.benchmark_name} if sub.benchmark_name else {})}


@cli.command()
@click.argument("competition")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def score(ctx, competition: str, file: Path) -> None:
    """Dry run: score FILE against COMPETITION without recording anything."""
    from podium.services import courses, submissions

    rt = runtime(ctx)
    with rt.db.session() as session:
        comp = courses.get_competition(session, competition)
        result = submissions.dry_run(rt.settings, comp, file)
    click.echo(json.dumps({"public": result.public, "private": result.private, "rows": result.rows,
                           "seconds": round(result.seconds, 4)}))


@cli.command()
@click.argument("competition")
@click.option("--regrade", is_flag=True, help=REGRADE_HELP)
@click.pass_context
def rescore(ctx, competition: str, regrade: bool) -> None:
    """Score every submission of COMPETITION again, e.g. after a solution fix (of a finalised or released
    competition: a regrade, --regrade): a progress bar on a terminal, one line per submission otherwise (on stderr;
    the counts on stdout)."""
    from podium.services import courses, submissions

    rt = runtime(ctx)
    with rt.db.session() as session:
        comp_id = courses.get_competition(session, competition).id
    with RescoreProgress(competition) as progress:
        counts = submissions.rescore_competition(rt.db, rt.settings, comp_id, actor=actor(), progress=progress,
                                                 regrade=regrade)
    regraded = f", {counts['regraded']} final grades changed (audited)" if "regraded" in counts else ""
    click.echo(f"{counts['scored']} scored, {counts['failed']} failed{regraded}")


class RescoreProgress:
    """How `podium rescore` is going, on stderr: a progress bar when it is a terminal, drawn before the first file
    is scored; otherwise (a log, CI) one line per step, since a bar redrawn with carriage returns is noise there."""

    def __init__(self, competition: str):
        self.competition = competition
        self.stream = sys.stderr
        self.terminal = self.stream.isatty()
        self.bar = None

    def __enter__(self) -> RescoreProgress:
        return self

    def __call__(self, step) -> None:
        if not self.terminal:
            click.echo(self.line(step), file=self.stream)
        elif self.bar is None and step.total:
            self.bar = click.progressbar(length=step.total, label=f"rescoring {self.competition}", file=self.stream,
                                         show_pos=True, show_eta=True, item_show_func=self.item)
            self.bar.__enter__()  # draws the bar at 0 at once
        elif self.bar is not None:
            self.bar.update(1, current_item=step)

    def line(self, step) -> str:
        if step.submission_id is None:
            return f"rescoring {step.total} submission{'s' if step.total != 1 else ''} of {self.competition}"
        return f"{step.done}/{step.total} submission {step.submission_id}: {step.outcome}"

    @staticmethod
    def item(step) -> str | None:
        return None if step is None else f"submission {step.submission_id}: {step.outcome}"

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def interactive() -> bool:
    """Whether a person answers at a terminal (a question may be asked), rather than a script."""
    return sys.stdin.isatty()


@cli.command()
@click.argument("competition")
@click.pass_context
def remind(ctx, competition: str) -> None:
    """Mail a reminder of the early deadline to every student of COMPETITION without a scored submission yet
    whose own early deadline is ahead (the overview lists them), whatever notifications they chose: it is a message
    from the course staff. Audited; a student is mailed at most once a day, so running it again mails nobody twice."""
    from podium.services import courses, notifications

    with runtime(ctx).db.session() as session:
        comp = courses.get_competition(session, competition)
        done = notifications.remind_without_early(session, comp, actor())
        words = notifications.staff_reminder_words(comp, done)
    click.echo(words)


@cli.command()
@click.argument("competition")
@click.option("--yes", is_flag=True, help="Release without asking (needed when not run in a terminal).")
@click.option("--override", metavar="REASON", default=None,
              help="Release although the late window is still open (extensions included) or uploads are unscored; "
                   "REASON goes into the audit log.")
@click.pass_context
def release(ctx, competition: str, yes: bool, override: str | None) -> None:
    """Reveal the private leaderboard of COMPETITION to students, after saying what they will see.

    Refused before the last late deadline (extensions included) or while uploads are unscored, unless --override
    says why. In a terminal it asks for confirmation; elsewhere it needs --yes."""
    from podium.services import competitions, courses

    with runtime(ctx).db.session() as session:
        comp = courses.get_competition(session, competition)
        if comp.released_at is not None:
            click.echo(f"{competition}: private leaderboard was already released")
            return
        plan = competitions.plan_release(session, comp)
        for line in competitions.plan_lines(plan):
            click.echo(line)
        if not plan.readiness.ready and override is None:
            raise PodiumError(f"{competitions.refusal(comp, plan.readiness)} To release now, add --override REASON.")
        if not yes:
            if not interactive():
                raise PodiumError("podium release asks for confirmation in a terminal; add --yes to release from a "
                                  "script.")
            click.confirm("Release it to students now?", abort=True)
        done = competitions.release(session, comp, actor=actor(), override=override)
    early = " early (override audited)" if done.early else ""
    changed = f"; {len(done.changes)} grade(s) of other released competitions changed" if done.changes else ""
    click.echo(f"{competition}: private leaderboard {'released' + early if done else 'was already released'}"
               f"{changed}")


@cli.command()
@click.argument("competition")
@click.pass_context
def finalise(ctx, competition: str) -> None:
    """Finalise COMPETITION now: fix position cutoffs (and release the board when it is set to auto_release)."""
    from podium.services import competitions, courses, finalisations

    with runtime(ctx).db.session() as session:
        comp = courses.get_competition(session, competition)
        done = competitions.finalise(session, comp, actor=actor())
        cutoffs = ", ".join(f"{k} {v:g}" for k, v in (comp.resolved_cutoffs or {}).items())
        waiting = ""
        reasons = [] if comp.released_at is not None or not comp.auto_release else \
            finalisations.release_readiness(session, comp).reasons(comp.course.timezone)
        if reasons:
            waiting = f"; its release waits: {'; '.join(reasons)}"
    click.echo(f"{competition}: {'finalised' if done else 'was already finalised'}; cutoffs {cutoffs}{waiting}")


@cli.command()
@click.option("--course", "course_slug", default=None, help="only this course's competitions")
@click.pass_context
def jobs(ctx, course_slug: str | None) -> None:
    """The scheduler's finalisations to come and past ones, and the scoring queue."""
    from podium.services import courses, finalisations

    with runtime(ctx).db.session() as session:
        course = courses.get_course(session, course_slug) if course_slug else None
        report = finalisations.report(session, course, runtime(ctx).settings.jobs.finalise_grace_seconds)
    click.echo("\n".join(finalisations.lines(report)))


@cli.command("select")
@click.argument("submission_id", type=int)
@click.option("--unselect", is_flag=True, help="remove the final mark instead")
@click.option("--regrade", is_flag=True, help=REGRADE_HELP)
@click.pass_context
def select_submission(ctx, submission_id: int, unselect: bool, regrade: bool) -> None:
    """Mark a student's submission as final (staff; audited)."""
    from podium.services import selection

    with runtime(ctx).db.session() as session:
        sub = selection.set_mark(session, submission_id, not unselect, by=None, actor=actor(), regrade=regrade)
        click.echo(f"submission {sub.id} of {sub.user.email}: {'marked' if sub.selected else 'not marked'} as final")


# --- extensions and slack --------------------------------------------------------------------------------


@cli.group()
def extensions() -> None:
    """One student's deadlines moved on one competition (no slack spent)."""


@extensions.command("grant")
@click.argument("competition")
@click.argument("email", required=False)
@click.option("--all-students", is_flag=True,
              help="every student of the course (after an outage); an earlier extension keeps its time and gets "
                   "this on top")
@click.option("--days", type=float, default=None, help="add N days to the early, on-time and late deadlines")
@click.option("--hours", type=float, default=None, help="add N hours to the early, on-time and late deadlines")
@click.option("--until", default=None, help="new on-time deadline (ISO 8601; no offset = course time zone)")
@click.option("--reason", required=True)
@regrade_option
@click.pass_context
def extensions_grant(ctx, competition: str, email: str | None, all_students: bool, days: float | None,
                     hours: float | None, until: str | None, reason: str, regrade: bool) -> None:
    """Grant EMAIL an extension on COMPETITION (replaces an earlier one), or give every student the same time
    with --all-students (one audited action). Durations are kept to the second."""
    from podium.services import courses, extensions as service, users as users_service

    if all_students == (email is not None):
        raise click.UsageError("give the student's EMAIL, or --all-students for every student of the course")
    if all_students and until is not None:
        raise click.UsageError("--all-students gives everyone the same time: use --days or --hours, not --until")
    with runtime(ctx).db.session() as session:
        comp = courses.get_competition(session, competition)
        tz = comp.course.timezone
        if all_students:
            granted = service.grant_all_students(session, comp, days=days, hours=hours, reason=reason,
                                                 actor=actor(), regrade=regrade)
            added = sum(g.replaced is not None for g in granted)
            count = f"{len(granted)} student{'s' if len(granted) != 1 else ''}"
            on_top = f" ({added} of them on top of an earlier extension)" if added else ""
            click.echo(f"{count} of {comp.course.slug} extended on {competition} by "
                       f"{service.describe_duration(days=days, hours=hours)}{on_top}")
            for g in granted:
                click.echo(f"extension {g.extension.id}: {g.email}, {service.describe(g.extension, tz)}")
            return
        user = users_service.get_user(session, email)
        ext = service.grant(session, comp, user, days=days, hours=hours, until=_parse_at(until, tz),
                            reason=reason, actor=actor(), regrade=regrade)
        click.echo(f"extension {ext.id}: {user.email} on {competition}, {service.describe(ext, tz)}")


@extensions.command("list")
@click.argument("course_or_competition")
@click.option("--all", "include_revoked", is_flag=True, help="include revoked extensions")
@click.pass_context
def extensions_list(ctx, course_or_competition: str, include_revoked: bool) -> None:
    """List the extensions of a course or of one competition."""
    from podium.errors import NotFound
    from podium.services import courses, extensions as service

    with runtime(ctx).db.session() as session:
        try:
            comp = courses.get_competition(session, course_or_competition)
            course, comp_id = comp.course, comp.id
        except NotFound:
            course, comp_id = courses.get_course(session, course_or_competition), None
        rows = service.listing(session, course.id, competition_id=comp_id, include_revoked=include_revoked)
        idle = service.without_effect(session, course.id, rows)
        for ext in rows:
            state = f"revoked {ext.revoked_at:%Y-%m-%d} by {ext.revoked_by}" if ext.revoked_at else "active"
            if ext.id in idle:
                state += " (moves nothing: not a student of the course)"
            click.echo(f"{ext.id}\t{ext.competition.public_id}\t{ext.user.email}\t"
                       f"{service.describe(ext, course.timezone)}\t{state}\tgranted by {ext.granted_by}: {ext.reason}")
        if not rows:
            click.echo("no extensions")


@extensions.command("revoke")
@click.argument("extension_id", type=int)
@regrade_option
@click.pass_context
def extensions_revoke(ctx, extension_id: int, regrade: bool) -> None:
    """Revoke an extension: the student's deadlines are the competition's again."""
    from podium.services import extensions as service

    with runtime(ctx).db.session() as session:
        service.revoke(session, extension_id, actor=actor(), regrade=regrade)
    click.echo(f"extension {extension_id} revoked")


@cli.group()
def slack() -> None:
    """Slack days: the external ledger and each student's balance."""


def echo_ledger_change(change, done: str | None = None) -> None:
    """What a ledger change did; `done` says it in place of the count of entries recorded (edit, remove)."""
    lines = change.lines()
    for line in ([done] + lines[1:] if done else lines):
        if line.startswith("over budget: "):
            click.echo(f"warning: {line}", err=True)
        else:
            click.echo(line)


@slack.command("import")
@click.argument("ledger", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--course", "course_slug", required=True)
@regrade_option
@click.pass_context
def slack_import(ctx, ledger: Path, course_slug: str, regrade: bool) -> None:
    """Record slack days spent outside Podium, from a CSV email,days,note (each entry audited); rows already in
    the ledger are not counted again."""
    from podium.services import courses, slack as service

    with runtime(ctx).db.session() as session:
        change = service.import_ledger(session, courses.get_course(session, course_slug), ledger, actor=actor(),
                                       regrade=regrade)
    echo_ledger_change(change)


@slack.command("add")
@click.argument("email")
@click.argument("days")
@click.option("--course", "course_slug", required=True)
@click.option("--note", default="", help="why, e.g. the part graded elsewhere")
@regrade_option
@click.pass_context
def slack_add(ctx, email: str, days: str, course_slug: str, note: str, regrade: bool) -> None:
    """Record DAYS slack days EMAIL spent outside Podium."""
    from podium.services import courses, slack as service

    with runtime(ctx).db.session() as session:
        change = service.record_entry(session, courses.get_course(session, course_slug), email, days, note,
                                      actor=actor(), regrade=regrade)
    echo_ledger_change(change)


@slack.command("list")
@click.argument("course_slug")
@click.pass_context
def slack_list(ctx, course_slug: str) -> None:
    """The ledger: each entry's id, student, days and note (ids for `slack edit` and `slack remove`)."""
    from podium.services import courses, slack as service

    with runtime(ctx).db.session() as session:
        course = courses.get_course(session, course_slug)
        click.echo("id\temail\tdays\tnote\trecorded by")
        for entry in service.ledger(session, course):
            click.echo(f"{entry.id}\t{entry.user.email}\t{entry.days}\t{entry.note}\t{entry.recorded_by}")
        for over in service.over_budget(session, course):
            click.echo(f"warning: over budget: {over.line()}", err=True)


@slack.command("edit")
@click.argument("entry_id", type=int)
@click.option("--course", "course_slug", required=True)
@click.option("--days", default=None, help="the corrected number of days")
@click.option("--note", default=None, help="the corrected note")
@regrade_option
@click.pass_context
def slack_edit(ctx, entry_id: int, course_slug: str, days: str | None, note: str | None, regrade: bool) -> None:
    """Correct a ledger entry's days or note (audited with both versions)."""
    from podium.services import courses, slack as service

    if days is None and note is None:
        raise click.UsageError("give --days, --note or both")
    with runtime(ctx).db.session() as session:
        change = service.edit_entry(session, courses.get_course(session, course_slug), entry_id, actor=actor(),
                                    days=days, note=note, regrade=regrade)
    echo_ledger_change(change, done=f"entry {entry_id} corrected")


@slack.command("remove")
@click.argument("entry_id", type=int)
@click.option("--course", "course_slug", required=True)
@regrade_option
@click.pass_context
def slack_remove(ctx, entry_id: int, course_slug: str, regrade: bool) -> None:
    """Remove a ledger entry (audited with what it said)."""
    from podium.services import courses, slack as service

    with runtime(ctx).db.session() as session:
        change = service.remove_entry(session, courses.get_course(session, course_slug), entry_id, actor=actor(),
                                      regrade=regrade)
    echo_ledger_change(change, done=f"entry {entry_id} removed")


@slack.command("balance")
@click.argument("course_slug")
@click.option("--policy", "slack_policy", type=click.Choice(["chronological", "optimal"]), default=None)
@click.pass_context
def slack_balance(ctx, course_slug: str, slack_policy: str | None) -> None:
    """Each student's slack budget, days used and days remaining (provisional while competitions run)."""
    from podium.services import courses, grading

    with runtime(ctx).db.session() as session:
        click.echo("email\tbudget\tused\tremaining")
        reports = grading.gradebook(session, courses.get_course(session, course_slug), slack_policy=slack_policy)
        for report in reports:
            click.echo(f"{report.user.email}\t{report.budget}\t{report.slack_used}\t{report.slack_remaining}")
        say_ungraded(grading.ungraded_competitions(reports))


def say_ungraded(ungraded) -> None:
    """On stderr, each competition without grades and why (POLICY.md section 11): it spends no slack day and adds
    nothing to a total, which the output beside it does not say."""
    for comp, why in ungraded:
        click.echo(f"note: {comp.public_id}: {why.reason}", err=True)


# --- grades ----------------------------------------------------------------------------------------------


@cli.group()
def grades() -> None:
    """Grades: export, explanations, and sending them to a linked LMS gradebook."""


@grades.command("export")
@click.argument("course_slug")
@click.option("--policy", "slack_policy", type=click.Choice(["chronological", "optimal"]), default=None,
              help="slack policy; the course's by default")
@click.option("--format", "fmt", type=click.Choice(["long", "canvas"]), default="long", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write to this file instead of standard output")
@click.pass_context
def grades_export(ctx, course_slug: str, slack_policy: str | None, fmt: str, output: Path | None) -> None:
    """Export the course's grades as CSV. `canvas` holds grades only for competitions released and closed for
    every student (the others' cells are empty), and says on stderr what Canvas will do with each column."""
    from podium.domain import utcnow
    from podium.services import courses, export

    now = utcnow()
    with runtime(ctx).db.session() as session:
        course = courses.get_course(session, course_slug)
        done = export.export_grades(session, course, slack_policy=slack_policy, fmt=fmt, now=now)
        notes = export.canvas_notes(session, course, now=now) if fmt == "canvas" else []
    text = done.text
    say_ungraded(done.ungraded)
    for note in notes:
        click.echo(f"warning: {note}", err=True)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)
        click.echo(f"wrote {output}", err=True)


@grades.command("explain")
@click.argument("competition")
@click.argument("email")
@click.option("--policy", "slack_policy", type=click.Choice(["chronological", "optimal"]), default=None)
@click.pass_context
def grades_explain(ctx, competition: str, email: str, slack_policy: str | None) -> None:
    """How EMAIL's grade in COMPETITION came about, in one sentence."""
    from podium.services import courses, grading, users as users_service

    with runtime(ctx).db.session() as session:
        comp = courses.get_competition(session, competition)
        report = grading.student_report(session, comp.course, users_service.get_user(session, email), staff=True,
                                        slack_policy=slack_policy)
        click.echo(report.row(comp).explanation)  # for a competition without grades, the reason
        # The others without grades take no slack days, which this competition's sentence counts on.
        say_ungraded((row.competition, row.grade.ungraded) for row in report.ungraded if row.competition.id != comp.id)


@grades.command("push")
@click.argument("course_slug", metavar="COURSE")
@click.option("--resend", is_flag=True, help="send every grade that leaves Podium again, even those sent already")
@click.pass_context
def grades_push(ctx, course_slug: str, resend: bool) -> None:
    """Send COURSE's grades to its linked LMS gradebook now (what the scheduler does every PODIUM_LTI_PUSH_SECONDS):
    only competitions released and closed for every student; grades new or changed since they were sent, and the
    failed ones again, with fresh attempts (this is how to retry them). Prints what was sent, what failed and why,
    and what is held back; exits non-zero when a grade failed or waits to be tried again. Audited."""
    from podium.services import lti, lti_grades

    rt = runtime(ctx)
    done = lti_grades.push(rt.db, lti.tool(rt.settings, rt.db), course_slug, actor=actor(), resend=resend,
                           attempts=rt.settings.jobs.lti_push_attempts)
    click.echo(done.summary())
    for outcome in done.failed:
        click.echo(f"failed: {outcome.line()}", err=True)
    for outcome in done.retrying:
        click.echo(f"to try again: {outcome.line()}", err=True)
    for held in done.held:
        click.echo(f"held back: {held.competition}: {held.why}")
    if not done.ok:
        ctx.exit(EXIT_ERROR)


# --- backups ---------------------------------------------------------------------------------------------


@cli.command("export")
@click.argument("course_slug")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="the zip file to write (replaced when it exists)")
@click.pass_context
def export_course(ctx, course_slug: str, output: Path) -> None:
    """Write COURSE whole (rows, uploads, data files, compiled solutions) to a zip file, checked by sha256."""
    from podium.services import backup

    rt = runtime(ctx)
    click.echo(backup.export_course(rt.db, rt.settings, course_slug, output).line())


@cli.command("import")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="replace a course with the same slug (its rows and files)")
@click.option("--max-size", "max_size_gb", type=click.FloatRange(min=0), default=100, show_default=True,
              help="refuse an archive holding more than this many gigabytes")
@click.pass_context
def import_course(ctx, archive: Path, replace: bool, max_size_gb: float) -> None:
    """Restore a course from a `podium export` zip file, all or nothing; accounts are matched by email."""
    from podium.services import backup

    rt = runtime(ctx)
    rt.db.upgrade()
    summary = backup.import_course(rt.db, rt.settings, archive, replace=replace, max_bytes=int(max_size_gb * 1e9),
                                   actor=actor())
    click.echo(summary.line())


# --- demo ------------------------------------------------------------------------------------------------


@cli.command()
@click.option("--seed", default=11785, show_default=True, type=int)
@click.option("--write", "write_to", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="only write the course folder (definitions and generated data) into this folder")
@click.option("--schedule", type=click.Choice(["relative", "fall2019"]), default="relative", show_default=True,
              help="with --write: deadlines relative to today, or the Fall 2019 dates")
@click.pass_context
def demo(ctx, seed: int, write_to: Path | None, schedule: str) -> None:
    """Create the demo course: 11-785 Fall 2019 with generated data and simulated students."""
    from podium.services import demo as demo_service

    if write_to is not None:
        from podium.demo import write_course

        collect_again()  # no database here, and generating the data is long-running work like any other
        click.echo(f"wrote {write_course(write_to, seed=seed, schedule=schedule)}")
        return
    rt = runtime(ctx)
    rt.db.upgrade()
    summary = demo_service.build_demo(rt, seed=seed, echo=lambda line: click.echo(line, err=True))
    click.echo("\n".join(summary))


# --- LTI: Podium as a tool of Canvas, Moodle and other learning management systems ----------------------


@cli.group()
def lti() -> None:
    """Learning management systems (Canvas, Moodle) that open Podium with LTI 1.3, keep its rosters and receive
    its grades."""


def _tool_addresses(settings) -> list[str]:
    """What to type into the platform's tool registration, or why it cannot be said yet."""
    from podium.services import lti as service

    if not settings.base_url:
        return ["PODIUM_BASE_URL is not set: Podium's addresses for the platform are built from it. Set it, then "
                "run `podium lti tool-config`."]
    base = settings.base_url
    return [f"  tool URL, redirect URL, deep linking URL: {base}{service.LAUNCH_PATH}",
            f"  login (OpenID Connect initiation) URL:   {base}{service.LOGIN_PATH}",
            f"  public key set URL:                      {base}{service.KEYS_PATH}"]


@lti.command("add-platform")
@click.option("--issuer", required=True, help="the platform's issuer (Canvas: https://canvas.instructure.com; "
                                              "Moodle: its address)")
@click.option("--client-id", required=True, help="the client id the platform gave Podium")
@click.option("--deployment-id", "deployment_ids", multiple=True,
              help="a deployment id of Podium in the platform (repeatable)")
@click.option("--login-url", required=True, help="the platform's authentication request (OIDC) URL")
@click.option("--token-url", required=True, help="the platform's access token URL")
@click.option("--keyset-url", required=True, help="the platform's public key set URL")
@click.option("--name", default="", help="what Podium calls the platform (default: the issuer's host)")
@click.option("--audience", default=None, help="the audience of Podium's token requests, when the platform wants "
                                               "another than its token URL")
@click.option("--email-domain", "domains", multiple=True,
              help="a domain the platform is trusted for (repeatable): its people with an address there are "
                   "linked to the Podium account of that address the first time")
@click.option("--allow-framing", is_flag=True, help="let the platform show Podium inside its pages (needs https)")
@click.pass_context
def lti_add_platform(ctx, issuer, client_id, deployment_ids, login_url, token_url, keyset_url, name, audience,
                     domains, allow_framing) -> None:
    """Register a platform, or update the registration of its issuer and client id (audited)."""
    from podium.services import lti as service

    rt = runtime(ctx)
    with rt.db.session() as session:
        platform, new = service.add_platform(session, rt.settings, name=name, issuer=issuer, client_id=client_id,
                                             deployment_ids=list(deployment_ids), login_url=login_url,
                                             token_url=token_url, key_set_url=keyset_url, audience=audience,
                                             email_domains=list(domains), allow_framing=allow_framing,
                                             actor=actor())
        click.echo(f"{'registered' if new else 'updated'} platform {platform.id}: {platform.name} ({platform.issuer}, "
                   f"client id {platform.client_id}, deployments {', '.join(platform.deployment_ids)})")
    click.echo("In the platform, Podium's addresses are:")
    for line in _tool_addresses(rt.settings):
        click.echo(line)


@lti.command("platforms")
@click.pass_context
def lti_platforms(ctx) -> None:
    """The registered platforms: id, name, issuer, client id, deployments, trusted domains, framing, linked
    courses."""
    from podium.services import lti as service, lti_roster

    with runtime(ctx).db.session() as session:
        linked = lti_roster.linked_courses(session)
        rows = [(str(p.id), p.name, p.issuer, p.client_id, ",".join(p.deployment_ids),
                 ",".join(p.email_domains) or "-", "framed" if p.allow_framing else "-",
                 ",".join(linked.get(p.id, [])) or "-") for p in service.platforms(session)]
    if not rows:
        click.echo("no platforms; `podium lti add-platform` registers one", err=True)
        return
    header = ("id", "name", "issuer", "client id", "deployments", "trusted domains", "framing", "linked courses")
    for row in (header, *rows):
        click.echo("\t".join(row))


@lti.command("remove-platform")
@click.argument("platform_id", type=int)
@click.option("--yes", is_flag=True, help="remove without asking (needed when not run in a terminal)")
@click.pass_context
def lti_remove_platform(ctx, platform_id: int, yes: bool) -> None:
    """Forget platform PLATFORM_ID with its links to people and courses (audited); Podium's accounts, courses and
    grades stay."""
    from podium.services import lti as service, lti_roster

    with runtime(ctx).db.session() as session:
        platform = service.platform_by_id(session, platform_id)
        courses = lti_roster.linked_courses(session).get(platform.id, [])
        click.echo(f"platform {platform.id}: {platform.name} ({platform.issuer}); linked to "
                   f"{', '.join(courses) or 'no course'}")
        if not yes:
            if not interactive():
                raise PodiumError("podium lti remove-platform asks for confirmation in a terminal; add --yes to "
                                  "remove it from a script.")
            click.confirm("Forget this platform, and which people and courses it links?", abort=True)
        service.remove_platform(session, platform_id, actor=actor())
    click.echo(f"platform {platform_id} removed; launches from it are refused from now on")


@lti.command("tool-config")
@click.option("--title", default="Podium", show_default=True, help="the tool's name in the platform")
@click.pass_context
def lti_tool_config(ctx, title: str) -> None:
    """Print the JSON for Canvas's developer key (LTI key, "Paste JSON"), and Podium's addresses for Moodle."""
    from podium.services import lti as service

    rt = runtime(ctx)
    config = service.tool_configuration(rt.settings, service.tool(rt.settings, rt.db).key, title=title)
    click.echo(json.dumps(config, indent=2))
    click.echo("Moodle (Site administration > Plugins > Activity modules > External tool > Manage tools > "
               "configure a tool manually; LTI 1.3, public key type \"Keyset URL\"):", err=True)
    for line in _tool_addresses(rt.settings):
        click.echo(line, err=True)


@lti.command("contexts")
@click.argument("course_slug", metavar="COURSE")
@click.pass_context
def lti_contexts(ctx, course_slug: str) -> None:
    """The LMS courses linked to COURSE: id, platform, LMS course, account creation, last roster sync."""
    from podium.services import courses, lti as service

    with runtime(ctx).db.session() as session:
        course = courses.get_course(session, course_slug)
        lines = [f"{c.id}\t{c.platform.name}\t{c.title} ({c.context_id})\taccounts made: "
                 f"{'on' if c.create_accounts else 'off'}\t{_last_sync(c, course.timezone)}"
                 for c in service.context_of_course(session, course)]
    for line in lines:
        click.echo(line)
    if not lines:
        click.echo(f"{course_slug} is linked to no LMS course: its instructor links it by opening Podium once from "
                   "the LMS course", err=True)


def _last_sync(context, timezone: str) -> str:
    if context.synced_at is None:
        return "roster never synced" if context.memberships_url else "no roster address yet (open Podium from it)"
    at = context.synced_at.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")
    return f"roster synced {at}" + (f", FAILED: {context.sync_error}" if context.sync_error else "")


@lti.command("create-accounts")
@click.argument("course_slug", metavar="COURSE")
@click.argument("setting", type=click.Choice(["on", "off"]))
@click.option("--context", "context_id", type=int, default=None,
              help="the linked LMS course (its id in `podium lti contexts COURSE`); needed when there are several")
@click.pass_context
def lti_create_accounts(ctx, course_slug: str, setting: str, context_id: int | None) -> None:
    """Whether a person the LMS course sends and Podium has no account for gets one (at a launch or a roster
    sync) when its address is at a domain the platform is trusted for, or is turned away (off, the default: staff
    enrol people, the LMS links them). Audited."""
    from podium.services import courses, lti as service

    with runtime(ctx).db.session() as session:
        course = courses.get_course(session, course_slug)
        contexts = service.context_of_course(session, course)
        chosen = [c for c in contexts if context_id is None or c.id == context_id]
        if not contexts:
            raise PodiumError(f"{course_slug} is linked to no LMS course yet: its instructor links it by opening "
                              "Podium once from the LMS course.")
        if not chosen:
            raise PodiumError(f"{context_id} is not an LMS course linked to {course_slug}; `podium lti contexts "
                              f"{course_slug}` lists them.")
        if len(chosen) > 1:
            raise PodiumError(f"{course_slug} is linked to {len(chosen)} LMS courses; say which with --context ID "
                              f"(`podium lti contexts {course_slug}`).")
        [context] = chosen
        service.set_create_accounts(session, context, setting == "on", actor=actor())
        click.echo(f"{course_slug}: people of {context.title or context.context_id} Podium has no account for "
                   + ("get one" if setting == "on" else "are turned away (staff enrol them)"))


@lti.command("sync")
@click.argument("course_slug", metavar="COURSE")
@regrade_option
@click.pass_context
def lti_sync(ctx, course_slug: str, regrade: bool) -> None:
    """Sync COURSE's roster from the LMS courses linked to it now (what the scheduler does every
    PODIUM_LTI_SYNC_SECONDS), and print what changed. Exits non-zero when a roster could not be read."""
    from podium.services import courses, lti as service, lti_roster

    rt = runtime(ctx)
    with rt.db.session() as session:
        course_id = courses.get_course(session, course_slug).id
    report = lti_roster.sync_course(rt.db, service.tool(rt.settings, rt.db), course_id, actor=actor(),
                                    regrade=regrade)
    for line in lti_roster.report_lines(report):
        click.echo(line)
    if report.errors:
        click.echo(f"error: {'; '.join(report.errors)}", err=True)
        ctx.exit(EXIT_ERROR)


def main() -> None:
    pause_collector()  # until `runtime` opens the database; the commands that open none are short (--help)
    cli(prog_name="podium")


if __name__ == "__main__":
    main()

"""LTI 1.3 Advantage: a learning management system (Canvas, Moodle) opens Podium, keeps its roster and receives its
grades. The protocol itself is podium.services.lti_tool; this module is what Podium does with it.

- Platforms are registered by the instance operator (`podium lti add-platform`), several per instance; the JSON
  for Canvas's developer key and Podium's key set come from here.
- A launch signs a person in. People are matched by the platform's own id of them (issuer, `sub`); by email only
  the first time, and only when the platform is trusted for the address's domain (`--email-domain`): any LMS
  administrator can type any address into an LMS account. A person Podium does not know gets an account only when
  the linked course allows it (off by default), and only under an address of a domain the platform is trusted for:
  an account made under any other address would wait for its owner, linked to whoever typed it into the LMS.
- The LMS course (the launch's context) is linked to a Podium course by its instructor at the first launch, and
  remembered. For a linked course the LMS is the authority on roles: a launch sets the person's role from their LMS
  roles, audited, except that the course's last instructor is never removed or demoted, and a change that would
  move a finalised grade waits for staff (podium.services.regrades).
- A link placed in the LMS (by hand, or by deep linking from Podium's own page) opens the course, or the
  competition it names.

Nothing here waits on the network with a transaction open: the caller validates the launch first
(`Tool.validate`, no session), then calls these in a unit of work.
"""
from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from podium.config import Settings
from podium.db import Database
from podium.domain import Role, utcnow
from podium.errors import Forbidden, NotFound, PodiumError, Refused, RegradeNeeded
from podium.models import (
    Competition,
    Course,
    LtiContext,
    LtiIdentity,
    LtiLaunchValue,
    LtiPlatform,
    LtiResourceLink,
    User,
)
from podium.services import audit, authority, invitations, users
from podium.services.lti_tool import MAX_ID_LENGTH, DeepLinkItem, Launch, PlatformInfo, Tool, ToolKey

LAUNCH_PATH, LOGIN_PATH, KEYS_PATH = "/lti/launch", "/lti/login", "/lti/jwks.json"
COMPETITION_PARAM = "competition"  # the custom parameter of a deep-linked item: the competition's public id
GRADE_MAXIMUM = 100.0
NAME_LENGTH = 200


class NotLinked(PodiumError):
    """A launch from an LMS course that no Podium course is linked to yet, by someone who cannot link it."""

    code = 403


# --- registering platforms ----------------------------------------------------------------------------------------


def info(platform: LtiPlatform) -> PlatformInfo:
    return PlatformInfo(id=platform.id, name=platform.name, issuer=platform.issuer, client_id=platform.client_id,
                        deployment_ids=tuple(platform.deployment_ids), auth_login_url=platform.auth_login_url,
                        auth_token_url=platform.auth_token_url, key_set_url=platform.key_set_url,
                        auth_audience=platform.auth_audience)


def _url(name: str, value: str) -> str:
    value = (value or "").strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
        raise PodiumError(f"{name} {value!r} is not an absolute http(s) address; copy it from the platform's "
                          "developer key or tool registration page.", code=422)
    return value


def add_platform(session: Session, settings: Settings, *, issuer: str, client_id: str, name: str = "",
                 deployment_ids: list[str], login_url: str, token_url: str, key_set_url: str,
                 audience: str | None = None, email_domains: str | list[str] = (), allow_framing: bool = False,
                 actor: str = "cli") -> tuple[LtiPlatform, bool]:
    """Register a platform, or update the registration of (issuer, client id); the platform and whether it is
    new. Audited."""
    issuer, client_id = _url("The issuer", issuer), (client_id or "").strip()
    if not client_id:
        raise PodiumError("Give the client id the platform gave Podium (Canvas: the developer key's id).", code=422)
    deployments = sorted({d.strip() for d in deployment_ids if d and d.strip()})
    if not deployments:
        raise PodiumError("Give at least one deployment id (Canvas: shown beside the tool once it is installed in "
                          "an account or course).", code=422)
    if allow_framing and not (settings.base_url or "").startswith("https://"):
        raise PodiumError("Showing Podium inside the platform's pages needs an HTTPS deployment (PODIUM_BASE_URL "
                          "https://...): browsers send a framed page's cookies only over HTTPS.", code=422)
    values = dict(name=(name or "").strip()[:NAME_LENGTH] or urlsplit(issuer).hostname, deployment_ids=deployments,
                  auth_login_url=_url("The login URL", login_url), auth_token_url=_url("The token URL", token_url),
                  key_set_url=_url("The key set URL", key_set_url), auth_audience=(audience or "").strip() or None,
                  email_domains=invitations.parse_domains(email_domains), allow_framing=allow_framing)
    platform = session.scalar(select(LtiPlatform).where(LtiPlatform.issuer == issuer,
                                                       LtiPlatform.client_id == client_id))
    new = platform is None
    if new:
        platform = LtiPlatform(issuer=issuer, client_id=client_id, created_by=actor, **values)
        session.add(platform)
    else:
        for key, value in values.items():
            setattr(platform, key, value)
    session.flush()
    audit.record(session, actor, "lti.platform_add" if new else "lti.platform_update", target=issuer,
                 client_id=client_id, deployment_ids=deployments, email_domains=platform.email_domains,
                 allow_framing=allow_framing)
    return platform, new


def platforms(session: Session) -> list[LtiPlatform]:
    return list(session.scalars(select(LtiPlatform).order_by(LtiPlatform.id)))


def platform_by_id(session: Session, platform_id: int) -> LtiPlatform:
    platform = session.get(LtiPlatform, platform_id)
    if platform is None:
        raise NotFound(f"No platform {platform_id} is registered; `podium lti platforms` lists them.")
    return platform


def remove_platform(session: Session, platform_id: int, *, actor: str = "cli") -> LtiPlatform:
    """Forget a platform, its linked people and courses (Podium's courses and accounts stay). Audited."""
    platform = platform_by_id(session, platform_id)
    audit.record(session, actor, "lti.platform_remove", target=platform.issuer, client_id=platform.client_id)
    session.delete(platform)
    return platform


def tool_configuration(settings: Settings, key: ToolKey, *, title: str = "Podium") -> dict:
    """What an instructor or LMS administrator pastes into Canvas (Developer Keys, LTI key, "Paste JSON"): the
    tool's addresses, its key, the services it uses and where it is placed."""
    base = require_base_url(settings)
    return {
        "title": title,
        "description": "Course competitions: upload predictions, follow the leaderboards, see your grades.",
        "oidc_initiation_url": base + LOGIN_PATH,
        "target_link_uri": base + LAUNCH_PATH,
        "public_jwk_url": base + KEYS_PATH,
        "scopes": ["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                   "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
                   "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
                   "https://purl.imsglobal.org/spec/lti-ags/scope/score",
                   "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"],
        "extensions": [{
            "platform": "canvas.instructure.com",
            "privacy_level": "public",  # names and emails: people are matched by them the first time
            "settings": {"placements": [
                {"placement": "course_navigation", "message_type": "LtiResourceLinkRequest",
                 "target_link_uri": base + LAUNCH_PATH, "text": title, "windowTarget": "_blank"},
                {"placement": "assignment_selection", "message_type": "LtiDeepLinkingRequest",
                 "target_link_uri": base + LAUNCH_PATH, "text": f"{title} competition"},
                {"placement": "link_selection", "message_type": "LtiDeepLinkingRequest",
                 "target_link_uri": base + LAUNCH_PATH, "text": f"{title} competition"},
            ]},
        }],
        "custom_fields": {},
    }


def require_base_url(settings: Settings) -> str:
    if not settings.base_url:
        raise NotFound("LTI is not set up on this Podium: it needs PODIUM_BASE_URL, the address people open Podium "
                       "at, since the platform is given Podium's login, launch and key addresses built from it.")
    return settings.base_url


# --- the tool and what it keeps ----------------------------------------------------------------------------------


class DatabaseLaunchStore:
    """The launch store of podium.services.lti_tool in the database, so that every server process sees it; each
    call its own short unit of work."""

    def __init__(self, db: Database):
        self.db = db

    def get(self, key: str) -> Any:
        # A read-only session: a request that holds the write lock (SQLite) may continue a launch without waiting on
        # itself.
        with self.db.read_sessions() as session:
            row = session.get(LtiLaunchValue, key)
            return row.value if row is not None and row.expires_at > utcnow() else None

    def put(self, key: str, value: Any, seconds: float) -> None:
        with self.db.session() as session:
            session.merge(LtiLaunchValue(key=key, value=value, expires_at=utcnow() + timedelta(seconds=seconds)))

    def take(self, key: str) -> bool:
        with self.db.session() as session:
            taken = session.execute(delete(LtiLaunchValue).where(LtiLaunchValue.key == key,
                                                                 LtiLaunchValue.expires_at > utcnow()))
            return taken.rowcount == 1


def platform_lookup(db: Database):
    def lookup(issuer: str) -> list[PlatformInfo]:
        with db.read_sessions() as session:  # read-only: asked from requests that may hold SQLite's write lock
            return [info(p) for p in session.scalars(select(LtiPlatform).where(LtiPlatform.issuer == issuer))]
    return lookup


# One Tool per database of the process (its cache of platforms' key sets shared by the process's threads), gone
# with the database.
_tools: weakref.WeakKeyDictionary[Database, Tool] = weakref.WeakKeyDictionary()
_tools_lock = threading.Lock()


def tool(settings: Settings, db: Database) -> Tool:
    """The process's Tool for this database, with the key pair of the data dir."""
    with _tools_lock:
        found = _tools.get(db)
        if found is None:
            found = Tool(ToolKey.in_folder(settings.data_dir / "lti"), platform_lookup(db), DatabaseLaunchStore(db))
            _tools[db] = found
        return found


# --- a launch lands --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Landing:
    """Where a launch takes the person: signed in as `user_id`, into a course (and maybe a competition); or, for an
    instructor at the first launch from an LMS course, to the page that links it to one of `choices`."""

    user_id: int
    course_slug: str | None = None
    competition_slug: str | None = None
    choices: tuple[tuple[str, str], ...] = ()  # (slug, title) of the courses the instructor may link
    deep_linking: bool = False

    @property
    def needs_link(self) -> bool:
        return self.course_slug is None


def land(db: Database, launch: Launch) -> Landing:
    """Sign-in and course of a validated launch, in units of work of its own: the person matched (or made, where
    the course allows it) and the link's competition found; then their role set from the LMS for a linked course
    (a change held back rolls back only itself)."""
    with db.session() as session:
        platform = platform_by_id(session, launch.platform.id)
        context = _context(session, platform, launch.context_id)
        user = person(session, platform, launch.subject, launch.email, launch.name, how="launch",
                      create=context is not None and context.create_accounts)
        if context is None:
            return _first_launch(session, launch, user)
        _remember_services(context, launch)
        course, role = context.course, launch.role
        if role is None:
            raise Forbidden(f"Your role in {launch.context_title or 'this LMS course'} ("
                            + _roles_words(launch.roles) + f") gives no access to {course.title} in Podium. If that "
                            "is wrong, tell your instructor.")
        competition = _linked_competition(session, context, launch)
        landing = Landing(user_id=user.id, course_slug=course.slug,
                          competition_slug=competition.slug if competition else None,
                          deep_linking=launch.is_deep_linking)
        course_id, course_title, actor = course.id, course.title, f"lti:{platform.name}"
    apply_role(db, course_id, landing.user_id, role, actor=actor)
    with db.session() as session:
        if authority.role_of(session.get(User, landing.user_id), session.get(Course, course_id)) is None:
            raise Refused(f"You are not enrolled in {course_title}, and enrolling you needs a decision of its staff "
                          "(it would change grades already final). Tell your instructor.")
    return landing


def _context(session: Session, platform: LtiPlatform, context_id: str) -> LtiContext | None:
    if not context_id:
        raise Refused("This launch names no LMS course (context); open Podium from inside a course.")
    return session.scalar(select(LtiContext).where(LtiContext.platform_id == platform.id,
                                                   LtiContext.context_id == context_id))


def _first_launch(session: Session, launch: Launch, user: User) -> Landing:
    if launch.role != Role.instructor:
        raise NotLinked(f"{launch.context_title or 'This LMS course'} is not linked to a Podium course yet. Your "
                        "instructor links it by opening Podium from the course once; try again after that.")
    choices = tuple((e.course.slug, e.course.title) for e in sorted(user.enrolments, key=lambda e: e.course.slug)
                    if e.role == Role.instructor)
    if not choices:
        raise NotLinked(f"{launch.context_title or 'This LMS course'} is not linked to a Podium course yet, and "
                        f"you ({user.email}) are an instructor of no Podium course to link it to. Ask the Podium "
                        "operator to load the course and enrol you as its instructor "
                        f"(`podium users add {user.email} COURSE --role instructor`), then open Podium again.")
    return Landing(user_id=user.id, choices=choices, deep_linking=launch.is_deep_linking)


def link_context(db: Database, launch: Launch, user_id: int, course_slug: str, *,
                 create_accounts: bool = False) -> Landing:
    """Link the launch's LMS course to a Podium course the launching instructor teaches, then land. Audited."""
    with db.session() as session:
        platform = platform_by_id(session, launch.platform.id)
        user = _launcher(session, platform, launch, user_id)
        if launch.role != Role.instructor:
            raise Forbidden("Only an instructor of the LMS course links it to a Podium course.")
        course = session.scalar(select(Course).where(Course.slug == course_slug))
        if course is None or authority.role_of(user, course) != Role.instructor:
            raise Forbidden("You can link the LMS course only to a Podium course you are an instructor of.")
        session.add(LtiContext(platform_id=platform.id, context_id=launch.context_id,
                               title=launch.context_title[:255], course_id=course.id,
                               create_accounts=create_accounts, linked_by=user.email, ags_scopes=[]))
        try:
            session.flush()
        except IntegrityError:
            raise Refused("This LMS course was linked to a Podium course meanwhile; open Podium again from "
                          "it.") from None
        audit.record(session, user.email, "lti.link", course_id=course.id, target=launch.context_id,
                     platform=platform.issuer, title=launch.context_title, create_accounts=create_accounts)
    return land(db, launch)


def link_choices(session: Session, launch: Launch, user: User) -> list[Course]:
    """The Podium courses the launching instructor may link the LMS course to: those they are an instructor of."""
    platform = platform_by_id(session, launch.platform.id)
    _launcher(session, platform, launch, user.id)
    if launch.role != Role.instructor:
        raise Forbidden("Only an instructor of the LMS course links it to a Podium course.")
    linked = _context(session, platform, launch.context_id)
    if linked is not None:
        raise Refused(f"This LMS course is linked to {linked.course.title} already; open Podium again from it.")
    return sorted((e.course for e in user.enrolments if e.role == Role.instructor), key=lambda c: c.slug)


def _launcher(session: Session, platform: LtiPlatform, launch: Launch, user_id: int) -> User:
    """The account the launch signed in, which alone may continue it (link the course, place competitions)."""
    identity = session.scalar(select(LtiIdentity).where(LtiIdentity.platform_id == platform.id,
                                                        LtiIdentity.subject == launch.subject))
    if identity is None or identity.user_id != user_id:
        raise Forbidden("This launch was made by someone else; open Podium again from your course in the learning "
                        "platform.")
    return identity.user


def allows_framing(session: Session, platform_id: int) -> bool:
    platform = session.get(LtiPlatform, platform_id)
    return platform is not None and platform.allow_framing


def set_create_accounts(session: Session, context: LtiContext, allowed: bool, *, actor: str) -> None:
    context.create_accounts = allowed
    audit.record(session, actor, "lti.create_accounts", course_id=context.course_id, target=context.context_id,
                 allowed=allowed)


def _remember_services(context: LtiContext, launch: Launch) -> None:
    """The platform's roster and gradebook addresses, as its latest launch names them."""
    context.title = (launch.context_title or context.title)[:255]
    if launch.memberships_url:
        context.memberships_url = launch.memberships_url
    if launch.lineitems_url:
        context.lineitems_url = launch.lineitems_url
        context.ags_scopes = sorted(launch.ags_scopes)


def _linked_competition(session: Session, context: LtiContext, launch: Launch) -> Competition | None:
    """The competition the launch's resource link opens: remembered per link, first named by the link's custom
    parameter (a deep-linked item), and only ever one of the linked course's."""
    if not launch.resource_link_id:
        return None
    link = session.scalar(select(LtiResourceLink).where(LtiResourceLink.context_id == context.id,
                                                        LtiResourceLink.link_id == launch.resource_link_id))
    if link is None:
        named = str(launch.custom.get(COMPETITION_PARAM) or "")
        competition = next((c for c in context.course.competitions if c.public_id == named), None)
        link = LtiResourceLink(context_id=context.id, link_id=launch.resource_link_id[:255],
                               competition_id=competition.id if competition else None)
        session.add(link)
        session.flush()
    return session.get(Competition, link.competition_id) if link.competition_id else None


# --- people ----------------------------------------------------------------------------------------------------------


def person(session: Session, platform: LtiPlatform, subject: str, email: str, name: str, *, how: str,
           create: bool) -> User:
    """The account of the platform's person `subject`: linked before; else the account of their email when the
    platform is trusted for its domain (linked now); else a new account when `create` and the platform is trusted
    for the address's domain. Links and new accounts are audited."""
    if len(subject) > MAX_ID_LENGTH:
        # kept cut, it would never be found again: linked anew at each launch or sync, then refused by the database
        raise Refused(f"{platform.name} names this person by an id longer than {MAX_ID_LENGTH} characters, which "
                      "the LTI specification does not allow; Podium cannot keep it.")
    identity = session.scalar(select(LtiIdentity).where(LtiIdentity.platform_id == platform.id,
                                                        LtiIdentity.subject == subject))
    if identity is not None:
        return identity.user
    user = _trusted_email_account(session, platform, email)
    if user is not None:
        _link(session, platform, subject, user, how="email")
        return user
    if not create:
        raise Forbidden(f"Podium has no account for you{_as(email)} that it may link to {platform.name}. Ask your "
                        "course staff to enrol you in Podium, then open it again from the LMS.")
    key = _creatable_email(session, platform, email)
    user = User(email=key, name=(name or "").strip()[:NAME_LENGTH])
    session.add(user)
    session.flush()
    audit.record(session, f"lti:{platform.name}", "user.created_by_lti", target=key, platform=platform.issuer)
    _link(session, platform, subject, user, how="new account")
    return user


def _as(email: str) -> str:
    return f" ({email})" if email else ""


def _trusted_email_account(session: Session, platform: LtiPlatform, email: str) -> User | None:
    if not email or not platform.email_domains:
        return None
    try:
        key = users.normalise_email(email)
    except PodiumError:
        return None
    if not invitations.domain_allows(platform.email_domains, key):
        return None
    return session.scalar(select(User).where(User.email == key))


def _creatable_email(session: Session, platform: LtiPlatform, email: str) -> str:
    if not email:
        raise Forbidden(f"{platform.name} does not share your email address with Podium, which Podium needs to make "
                        "your account. Ask your instructor to share names and emails with the tool (Canvas: "
                        "privacy level \"public\").")
    key = users.normalise_email(email)
    if session.scalar(select(User.id).where(User.email == key)) is not None:
        raise Forbidden(f"Podium has an account for {key} already, and {platform.name} is not trusted to sign in "
                        "the accounts of that domain. Sign in to Podium with that account (or ask your course "
                        "staff), or ask the Podium operator to trust the platform for the domain.")
    if not platform.email_domains or not invitations.domain_allows(platform.email_domains, key):
        # An account made under an address the platform cannot vouch for stays linked to whoever typed it into
        # their LMS account, and is the account its real owner gets when staff enrol them or a trusted platform
        # links them later.
        raise Forbidden(f"Podium has no account for {key}, and {platform.name} is not trusted for that address's "
                        "domain, so Podium does not make one for it. Ask your course staff to enrol you in Podium, "
                        "then open it again from the LMS; or ask the Podium operator to trust the platform for the "
                        "domain.")
    return key


def _link(session: Session, platform: LtiPlatform, subject: str, user: User, *, how: str) -> None:
    session.add(LtiIdentity(platform_id=platform.id, subject=subject[:255], user_id=user.id, linked_by=how))
    session.flush()
    audit.record(session, f"lti:{platform.name}", "lti.identity_link", target=user.email, platform=platform.issuer,
                 subject=subject, how=how)


def apply_role(db: Database, course_id: int, user_id: int, role: Role | None, *, actor: str,
               regrade: bool = False) -> str:
    """Set the person's role in a linked course as the LMS says (the LMS is the authority there; None: out of the
    course, their submissions kept), in a unit of work of its own, audited by the enrolment itself. What is held
    back: the course's last instructor is not demoted or removed, and a change that would move a finalised or
    released grade waits for staff (podium.services.regrades) unless `regrade` asks for it; both audited. Says what
    happened: "same", "set", "removed" or "held"."""
    return role_change(db, course_id, user_id, role, actor=actor, regrade=regrade).outcome


@dataclass(frozen=True)
class RoleChange:
    """What `apply_role` did: its outcome, the role before, and for a change held back why (and whether a
    regrade would let it through)."""

    outcome: str
    before: Role | None
    why: str = ""
    needs_regrade: bool = False


def role_change(db: Database, course_id: int, user_id: int, role: Role | None, *, actor: str,
                regrade: bool = False) -> RoleChange:
    """`apply_role`, telling what it did."""
    before = None
    try:
        with db.session() as session:
            course, user = session.get(Course, course_id), session.get(User, user_id)
            before = current = authority.role_of(user, course)
            if current == role:
                return RoleChange("same", before)
            if role is None:
                users.remove_enrolment(session, course, user, actor=actor, by=authority.OPERATOR, regrade=regrade)
                return RoleChange("removed", before)
            users.add_user(session, user.email, course, role, actor=actor, by=authority.OPERATOR, regrade=regrade)
            return RoleChange("set", before)
    except (Refused, RegradeNeeded) as exc:
        with db.session() as session:
            user = session.get(User, user_id)
            audit.record(session, actor, "lti.role_held", course_id=course_id, target=user.email,
                         role=role.value if role else "removed", why=str(exc)[:500])
        return RoleChange("held", before, why=exc.message, needs_regrade=isinstance(exc, RegradeNeeded))


def _roles_words(roles: tuple[str, ...]) -> str:
    shown = sorted({r.rsplit("#", 1)[-1].rsplit("/", 1)[-1] for r in roles if r})
    return ", ".join(shown) or "no role"


# --- deep linking ----------------------------------------------------------------------------------------------------


def deep_link_choices(session: Session, launch: Launch, user: User) -> list[Competition]:
    """The competitions an instructor or staff member may place in the LMS course: those of the linked course."""
    platform = platform_by_id(session, launch.platform.id)
    _launcher(session, platform, launch, user.id)
    if not launch.is_deep_linking:
        raise Refused("This launch did not ask for content to add; use the learning platform's \"add content\" "
                      "page (Canvas: an External Tool in an assignment or module).")
    context = _context(session, platform, launch.context_id)
    if context is None:
        raise NotLinked("Link this LMS course to a Podium course first (open Podium from it).")
    users.require_staff(user, context.course)
    return list(context.course.competitions)


def deep_link_items(session: Session, settings: Settings, launch: Launch, user: User,
                    chosen: list[str]) -> list[DeepLinkItem]:
    """The items to send back for the competitions chosen (by public id): each a link that opens the competition,
    and a gradebook column tagged with its public id, the column grades are later sent to. Audited."""
    competitions = {c.public_id: c for c in deep_link_choices(session, launch, user)}
    unknown = [c for c in chosen if c not in competitions]
    if unknown or not chosen:
        raise PodiumError("Choose at least one of the course's competitions." if not chosen
                          else f"{', '.join(unknown)} is not a competition of this course.", code=422)
    base = require_base_url(settings)
    items = [DeepLinkItem(title=c.title, url=base + LAUNCH_PATH, custom={COMPETITION_PARAM: c.public_id},
                          line_item={"label": c.title, "scoreMaximum": GRADE_MAXIMUM, "resourceId": c.public_id,
                                     "tag": c.public_id})
             for c in (competitions[p] for p in chosen)]
    audit.record(session, user.email, "lti.deep_link", course_id=next(iter(competitions.values())).course_id,
                 target=launch.context_id, competitions=chosen)
    return items


def context_of_course(session: Session, course: Course) -> list[LtiContext]:
    return list(session.scalars(select(LtiContext).where(LtiContext.course_id == course.id).order_by(LtiContext.id)))

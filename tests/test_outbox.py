"""The outbox (podium.services.outbox) against a real SMTP server: a mail is written with what caused it, sent by
the background pass, kept and retried while the server is down, given up on only for good reasons, and a mail that
held a link keeps it nowhere once it went."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from podium.config import SmtpSettings
from podium.models import MailState, OutboxMail, utcnow
from podium.services import outbox
from tests.conftest import MailServer, mail_through

ATTEMPTS = 5


def queue(rt, **given) -> int:
    fields = {"kind": "test", "to": "ana@example.edu", "subject": "Hello", "body": "A line of text.\n", **given}
    with rt.db.session() as session:
        return outbox.enqueue(session, **fields).id


def send(rt, now=None, worker="w1") -> outbox.SendReport:
    return outbox.send_due(rt.db, attempts=ATTEMPTS, worker=worker, now=now)


def stored(rt, mail_id: int) -> OutboxMail:
    with rt.db.session() as session:
        mail = session.get(OutboxMail, mail_id)
        session.expunge(mail)
        return mail


def test_a_queued_mail_is_sent_by_the_pass_and_kept_as_sent(rt, smtp_server):
    mail_id = queue(rt, to="ana@example.edu", subject="Your submission was scored", body="Score: 0.91\n")

    assert smtp_server.messages == []  # nothing leaves before the background pass
    report = send(rt)

    assert report.sent == [mail_id]
    [message] = smtp_server.messages
    assert (message["To"], message["Subject"]) == ("ana@example.edu", "Your submission was scored")
    assert "Score: 0.91" in message.get_content()
    mail = stored(rt, mail_id)
    assert (mail.state, mail.attempts, mail.body) == (MailState.SENT, 1, "Score: 0.91\n")
    assert send(rt).sent == []  # sent once


def test_nothing_is_lost_while_the_mail_server_is_down(rt, smtp_server):
    first, second = queue(rt, to="a@example.edu"), queue(rt, to="b@example.edu")
    smtp_server.stop()
    now = utcnow()

    report = send(rt, now)

    assert sorted(report.retrying) == [first, second] and report.sent == []
    mail = stored(rt, first)
    assert mail.state == MailState.PENDING and "could not be reached" in mail.last_error
    assert mail.send_after == now + timedelta(minutes=1)
    assert send(rt, now + timedelta(seconds=30)).anything is False  # waiting out its back-off

    smtp_server.start()
    report = send(rt, now + timedelta(minutes=1))

    assert sorted(report.sent) == [first, second]
    assert sorted(m["To"] for m in smtp_server.messages) == ["a@example.edu", "b@example.edu"]


def test_the_wait_doubles_up_to_an_hour_and_the_mail_is_given_up_after_its_attempts(rt, smtp_server):
    assert [outbox.wait_after(n) for n in (1, 2, 3, 7, 30)] == [
        timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4), timedelta(hours=1), timedelta(hours=1)]
    mail_id = queue(rt)
    smtp_server.stop()
    now = utcnow()
    for _ in range(ATTEMPTS):
        send(rt, now)
        now = stored(rt, mail_id).send_after

    mail = stored(rt, mail_id)
    assert (mail.state, mail.attempts) == (MailState.FAILED, ATTEMPTS)
    assert "could not be reached" in mail.last_error


def test_an_address_the_server_refuses_is_given_up_at_once_and_the_others_go(rt, smtp_server):
    smtp_server.handler.refused.add("nobody@example.edu")
    refused, fine = queue(rt, to="nobody@example.edu"), queue(rt, to="ana@example.edu")

    report = send(rt)

    assert report.failed == [refused] and report.sent == [fine]
    mail = stored(rt, refused)
    assert mail.state == MailState.FAILED and "refused the address nobody@example.edu (550" in mail.last_error


def test_a_mail_holding_a_link_keeps_it_only_until_it_is_sent_or_expires(rt, smtp_server):
    sent = queue(rt, body="https://podium.example.edu/reset/SECRET\n", holds_link=True)
    late = queue(rt, body="https://podium.example.edu/reset/OTHER\n", holds_link=True,
                 expires_at=utcnow() - timedelta(seconds=1))

    report = send(rt)

    assert report.sent == [sent] and report.expired == [late]
    assert "SECRET" in smtp_server.messages[0].get_content() and len(smtp_server.messages) == 1
    with rt.db.session() as session:
        bodies = session.scalars(select(OutboxMail.body)).all()
    assert bodies == [outbox.REDACTED, outbox.REDACTED]
    assert stored(rt, late).state == MailState.EXPIRED


def test_a_mail_with_a_key_is_written_once(rt):
    with rt.db.session() as session:
        first = outbox.enqueue(session, kind="reminder", to="a@example.edu", subject="s", body="b", dedupe_key="k1")
        again = outbox.enqueue(session, kind="reminder", to="a@example.edu", subject="s", body="b", dedupe_key="k1")
    assert first is not None and again is None


def test_two_senders_never_send_one_mail_twice(rt, smtp_server):
    ids = [queue(rt, to=f"s{i}@example.edu") for i in range(4)]
    now = utcnow()
    with rt.db.session() as session:
        taken_by_one = outbox._claim(session, "w1", now)
    with rt.db.session() as session:
        taken_by_other = outbox._claim(session, "w2", now)

    assert [m.id for m in taken_by_one] == ids and taken_by_other == []
    assert send(rt, now, worker="w2").sent == []  # w1's claim still holds
    later = now + outbox.CLAIM + timedelta(seconds=1)
    assert sorted(send(rt, later, worker="w2").sent) == ids  # a lapsed claim (a crashed sender) is taken over
    assert len(smtp_server.messages) == 4


def test_without_a_mail_server_configured_mails_wait(rt, monkeypatch):
    monkeypatch.delenv("PODIUM_SMTP_HOST", raising=False)
    mail_id = queue(rt)

    report = send(rt)

    assert report.configured is False and not report.anything
    assert stored(rt, mail_id).state == MailState.PENDING


@pytest.fixture
def ascii_only_server(monkeypatch):
    server = mail_through(MailServer(smtputf8=False), monkeypatch)
    yield server
    server.stop()


def test_a_mail_the_server_cannot_take_fails_alone_and_the_rest_of_its_batch_goes(rt, ascii_only_server):
    """An address with letters beyond ASCII needs SMTPUTF8, which this server (like many) does not offer: that mail
    is given up on, and the mails after it on the same connection are sent, not failed with it on every pass."""
    unusual, fine = queue(rt, to="zoë@example.edu"), queue(rt, to="ana@example.edu")

    report = send(rt)

    assert report.failed == [unusual] and report.sent == [fine]
    assert [m["To"] for m in ascii_only_server.messages] == ["ana@example.edu"]
    assert "could not be written for the mail server" in stored(rt, unusual).last_error


def test_a_subject_longer_than_its_column_or_on_several_lines_is_made_one_short_line(rt, smtp_server):
    several = queue(rt, subject="Added to Deep\nLearning,\r\n Fall")
    mail_id = queue(rt, subject="You were added to " + "A very long course title " * 20)

    assert stored(rt, several).subject == "Added to Deep Learning, Fall"

    assert len(stored(rt, mail_id).subject) == outbox.SUBJECT_LENGTH and stored(rt, mail_id).subject.endswith("…")
    assert sorted(send(rt).sent) == [several, mail_id]


def test_a_sender_that_breaks_midway_records_what_it_sent_and_retries_the_rest(rt):
    first, second = queue(rt, to="a@example.edu"), queue(rt, to="b@example.edu")

    def breaks_after_one(smtp, mails):
        yield mails[0].id, None
        raise RuntimeError("a fault of the sender")

    report = outbox.send_due(rt.db, attempts=ATTEMPTS, worker="w1", transport=breaks_after_one,
                             smtp=SmtpSettings("127.0.0.1", 25, "podium@example.edu", None, None, False))

    assert report.sent == [first] and report.retrying == [second]  # the first is never sent twice
    assert "a fault of the sender" in stored(rt, second).last_error

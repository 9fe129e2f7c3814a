"""Looking an account up by email without email_validator (podium.services.users.lookup_key).

A plain ASCII address is looked up under its folded spelling; that is sound only if email_validator would give
exactly that spelling for every valid plain address, which the property below checks, and if a lookup finds the
same account, says the same error and returns the same None as a lookup through `normalise_email`.
"""
from __future__ import annotations

import pytest
from hypothesis import example, given, settings, strategies as st

from podium.errors import NotFound, PodiumError
from podium.services import courses, users

# Letters of both cases, the dot-atom's symbols, what the plain pattern refuses (quotes, brackets, spaces, a second
# @) and a few characters that fold or normalise to ASCII (full-width, ligature, Kelvin sign, long s, dotless i).
ALPHABET = "aZz09.-_+!#$%&'*/=?^`{|}~@ \"[]()<>,;:\\ＡａＺ＠．ﬁKſıßü\u0301"


# Mostly well-formed addresses, so that many examples are valid: atoms and labels of mixed case and folding
# characters; and any text of the alphabet, for the shapes in between.
ATOM = st.text("aZz09_+-'!ＡｚKſı", min_size=1, max_size=6)
LABEL = st.text("aZz09-ＡｚK", min_size=1, max_size=6)
ADDRESS = st.builds("{}@{}.{}".format, st.lists(ATOM, min_size=1, max_size=3).map(".".join),
                    st.lists(LABEL, min_size=1, max_size=3).map(".".join), st.sampled_from(["edu", "TEST", "ＣＯＭ", "x1"]))


@settings(max_examples=400, derandomize=True, database=None, deadline=None)
@given(st.one_of(ADDRESS, st.text(ALPHABET, max_size=24)))
@example("Ada.Lovelace+hw1@Example.EDU")
@example("POSTMASTER@example.edu")  # email_validator lowers RFC 2142 names itself
@example("ＡＤＡ@ｅｘａｍｐｌｅ.ｅｄｕ")
@example("a..b@example.edu")
@example("ada@xn--bcher-kva.test")
@example("ada@xn--zz.test")  # invalid Punycode
@example("ada@localhost")
@example("ada@example.123")
@example("ada@-example.edu")
@example("ada@" + "a" * 64 + ".edu")
def test_a_valid_plain_address_is_normalised_to_its_folded_spelling(typed):
    key = users.lookup_key(typed)
    if key is None:
        return
    try:
        normal = users.normalise_email(typed)
    except PodiumError:
        return  # invalid: no account has it, and a lookup that finds none asks normalise_email to say why
    assert normal == key


@pytest.mark.parametrize("typed, expected", [
    ("Ada@Example.EDU", "ada@example.edu"),
    ("  ada@example.edu ", "ada@example.edu"),
    ("ＡＤＡ@ｅｘａｍｐｌｅ.ｅｄｕ", "ada@example.edu"),  # full-width letters fold to ASCII
    ("ﬁona@c1.test", "fiona@c1.test"),
    ("Straße@Bücher.test", None),  # the domain needs IDNA: only email_validator can spell it
    ("zoë@example.edu", None),
    ('"ada"@example.edu', None),
    ("ada@[127.0.0.1]", None),
    ("Ada <ada@example.edu>", None),
])
def test_only_plain_ascii_addresses_have_a_lookup_key(typed, expected):
    assert users.lookup_key(typed) == expected


ADDRESSES = ["Straße@Bücher.test", "Zoë.Ünal@Example.EDU", "ＭＩＸＥＤ.Case@C1.Test", "plain@c1.test",
             "e\u0301@c1.test"]


@pytest.fixture
def accounts(rt, course_dir):
    """The conftest course, with an account for each of ADDRESSES."""
    with rt.db.session() as session:
        courses.load_course(session, rt.settings, course_dir, actor="test")
    with rt.db.session() as session:
        course = courses.get_course(session, "c1")
        for email in ADDRESSES:
            users.add_user(session, email, course, "student")
    return rt


@pytest.mark.parametrize("typed, stored", [
    ("STRASSE@BÜCHER.TEST", "strasse@xn--bcher-kva.test"),
    ("strasse@xn--bcher-kva.test", "strasse@xn--bcher-kva.test"),
    ("zoë.ünal@example.edu", "zoë.ünal@example.edu"),
    ("Mixed.CASE@c1.test", "mixed.case@c1.test"),
    ("ｐｌａｉｎ@c1.test", "plain@c1.test"),
    ("\u00e9@C1.TEST", "\u00e9@c1.test"),
])
def test_every_spelling_of_an_address_finds_its_account(accounts, typed, stored):
    with accounts.db.session() as session:
        assert users.find_user(session, typed).email == stored
        assert users.get_user(session, typed).email == stored
        assert users.account_of(session, typed).email == stored


def test_a_lookup_that_finds_nothing_says_whether_the_address_is_invalid_or_unknown(accounts):
    with accounts.db.session() as session:
        with pytest.raises(PodiumError, match="is not a valid email address"):
            users.find_user(session, "plain..dots@c1.test")  # plain, yet invalid
        with pytest.raises(PodiumError, match="is not a valid email address"):
            users.get_user(session, "no-at-sign")
        with pytest.raises(NotFound, match="no user 'Nobody@C1.test'"):
            users.get_user(session, "Nobody@C1.test")
        assert users.find_user(session, "nobody@c1.test") is None
        assert users.account_of(session, "plain..dots@c1.test") is None
        assert users.account_of(session, "Nobody@c1.test") is None

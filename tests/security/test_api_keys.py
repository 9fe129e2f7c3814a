"""API keys: only a hash is stored, the key is shown once, and a presented key is compared in constant time."""
from __future__ import annotations

import hashlib
import hmac
import re

from sqlalchemy import text

from podium.services import users
from tests.security.conftest import EMAIL


def stored_row(rt, email: str) -> dict:
    with rt.db.engine.connect() as connection:
        return dict(connection.execute(text("SELECT * FROM users WHERE email = :e"), {"e": email}).mappings().one())


def test_the_database_row_holds_a_hash_of_the_key_never_the_key(rt, people):
    key = people.keys["student"]
    row = stored_row(rt, EMAIL["student"])
    assert all(key not in str(value) for value in row.values())
    assert row["api_key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert len(key) >= 32  # 24 random bytes: long enough that one fast hash suffices


def test_a_key_made_on_the_profile_page_is_shown_once_and_stored_hashed(app, rt, people):
    browser = app.test_client()
    browser.signed_in_as(EMAIL["other"])
    page = browser.form("/profile/api-key").get_data(as_text=True)
    row = stored_row(rt, EMAIL["other"])
    shown = [k for k in re.findall(r'id="api-key">([^<]+)<', page)
             if hashlib.sha256(k.encode()).hexdigest() == row["api_key_hash"]]
    assert shown, "the new key is on the page that made it"
    assert all(shown[0] not in str(value) for value in row.values())
    # Shown once: the profile page afterwards does not show it, and the old key stops working.
    assert shown[0] not in browser.get("/profile").get_data(as_text=True)
    assert app.test_client().get("/api/me", auth=(EMAIL["other"], people.keys["other"])).status_code == 401
    assert app.test_client().get("/api/me", auth=(EMAIL["other"], shown[0])).status_code == 200


def test_keys_are_compared_in_constant_time(rt, people, monkeypatch):
    """The comparison goes through hmac.compare_digest (the real one, watched), whose time does not depend on where
    two values first differ; a near miss is refused like any wrong key."""
    seen, real = [], hmac.compare_digest

    def watched(a, b):
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(users.hmac, "compare_digest", watched)
    key = people.keys["student"]
    with rt.db.session() as session:
        assert users.authenticate_key(session, EMAIL["student"], key).email == EMAIL["student"]
        assert users.authenticate_key(session, EMAIL["student"], key[:-1] + ("A" if key[-1] != "A" else "B")) is None
        assert users.authenticate_key(session, EMAIL["student"], "") is None
    assert len(seen) == 3
    assert all(key not in pair for pair in seen)  # hashes are compared, not the key itself


def test_a_wrong_key_or_an_unknown_account_is_a_json_401(client, people):
    for auth in ((EMAIL["student"], "wrong"), ("nobody@c1.test", people.keys["student"]), ("not an email", "x")):
        response = client.get("/api/me", auth=auth)
        assert response.status_code == 401 and response.get_json()["code"] == 401
        assert "API key" in response.get_json()["message"]

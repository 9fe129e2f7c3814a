"""What a launch keeps between its two requests (podium.services.lti.DatabaseLaunchStore): shared by every server
process through the database, a nonce taken once, nothing kept past its time."""
from __future__ import annotations

from datetime import timedelta

from podium.domain import utcnow
from podium.services import storage
from podium.services.lti import DatabaseLaunchStore


def test_a_value_is_taken_once_and_an_expired_one_is_neither_read_nor_taken_and_is_cleaned_up(rt):
    store = DatabaseLaunchStore(rt.db)
    store.put("lti1p3-nonce-a", True, 600)
    store.put("lti1p3-launch-b", {"sub": "s-1"}, 600)
    store.put("lti1p3-nonce-old", True, -1)
    assert store.get("lti1p3-launch-b") == {"sub": "s-1"}
    assert store.take("lti1p3-nonce-a") is True
    assert store.take("lti1p3-nonce-a") is False  # a replayed launch finds its nonce gone
    assert store.get("lti1p3-nonce-old") is None and store.take("lti1p3-nonce-old") is False
    store.put("lti1p3-nonce-c", True, -1)
    assert storage.clean_up(rt.db, rt.settings, utcnow() + timedelta(seconds=1)).launch_values == 2  # old and c
    assert store.get("lti1p3-launch-b") == {"sub": "s-1"}  # what has time left stays

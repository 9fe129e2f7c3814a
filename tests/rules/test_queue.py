"""The scoring queue's turn rule: oldest first, and no student's burst of uploads crowds out another's."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from podium.rules.queue import FairQueue, Waiting, fair_order


def orders(items: list[Waiting]) -> list[int]:
    return [item.order for item in items]


def test_alone_a_students_uploads_are_taken_oldest_first():
    queue = FairQueue()
    for order in (3, 1, 2):
        queue.add(Waiting(order, "a"))
    assert orders(queue.drain()) == [1, 2, 3]


def test_with_one_slot_another_students_upload_comes_right_after_the_one_being_scored():
    queue = FairQueue()
    for order in range(1, 21):
        queue.add(Waiting(order, "a"))
    first = queue.take()
    queue.add(Waiting(21, "b"))  # arrives while a's first is being scored
    queue.done(first)
    assert [first.order, queue.take().order, queue.take().order] == [1, 21, 2]


def test_a_student_holds_a_second_slot_only_while_nobody_else_waits():
    queue = FairQueue()
    for order, student in ((1, "a"), (2, "a"), (3, "a"), (4, "b"), (5, "c")):
        queue.add(Waiting(order, student))
    running = [queue.take() for _ in range(3)]  # three slots
    assert orders(running) == [1, 4, 5]
    assert queue.take().order == 2  # only a waits now


def test_students_take_turns_until_their_queues_are_empty_and_then_start_afresh():
    queue = FairQueue()
    for order, student in ((1, "a"), (2, "a"), (3, "a"), (4, "b")):
        queue.add(Waiting(order, student))
    taken = []
    while (item := queue.take()) is not None:
        taken.append(item.order)
        queue.done(item)
    assert taken == [1, 4, 2, 3]
    # a had three turns in that burst; a new burst counts from nothing for everyone.
    queue.add(Waiting(5, "b"))
    queue.add(Waiting(6, "a"))
    assert orders(queue.drain()) == [5, 6]


def test_an_upload_added_twice_waits_once():
    queue = FairQueue()
    assert queue.add(Waiting(1, "a")) and not queue.add(Waiting(1, "a"))
    assert len(queue) == 1 and 1 in queue
    assert orders(queue.drain()) == [1] and len(queue) == 0


def test_fair_order_puts_each_students_first_upload_before_anyones_second():
    waiting = [Waiting(n, student) for n, student in enumerate("aaabbc", start=1)]
    assert orders(fair_order(waiting)) == [1, 4, 6, 2, 5, 3]


def test_fair_order_puts_students_with_uploads_being_scored_after_the_others():
    waiting = [Waiting(n, student) for n, student in enumerate("aabb", start=1)]
    assert orders(fair_order(waiting, {"a": 1})) == [3, 1, 4, 2]
    assert orders(fair_order(waiting, {"a": 2})) == [3, 4, 1, 2]


@settings(max_examples=60, deadline=None)
@given(uploads=st.lists(st.tuples(st.integers(0, 60), st.sampled_from("abcde")), max_size=30),
       running=st.dictionaries(st.sampled_from("abcdef"), st.integers(0, 3)))
def test_fair_order_is_the_order_a_queue_drains_in(uploads, running):
    """The one-sort `fair_order` (which pages use to tell a waiting upload its place) agrees with the turn rule
    applied step by step, duplicates and uploads being scored elsewhere included."""
    waiting = [Waiting(order, student) for order, student in uploads]
    queue = FairQueue(running)
    for item in waiting:
        queue.add(item)
    assert [(i.order, i.student) for i in fair_order(waiting, running)] == [(i.order, i.student) for i in queue.drain()]

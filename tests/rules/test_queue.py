"""The scoring queue's turn rule: oldest first, and no student's burst of uploads crowds out another's."""
from __future__ import annotations

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

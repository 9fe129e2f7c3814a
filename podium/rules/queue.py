"""The scoring queue's turn rule: oldest first, but no student's uploads crowd out another's.

A student who uploads twenty files in a minute must not make a classmate's single upload wait behind all twenty.
The next upload to score is the oldest first waiting upload of the student who has the fewest uploads being scored
now and, among those, has had the fewest turns since their queue was last empty. So a student holds more than one
scoring slot only while nobody else waits, and with one slot the students take turns.

`FairQueue` is a scoring pool's waiting line; `fair_order` puts a set of waiting uploads (read from the database)
in the order the same rule takes them, given how many of them each student has being scored already.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Hashable, Iterable, Mapping


@dataclass(frozen=True, order=True)
class Waiting:
    """An upload waiting for its turn: `order` says which came first (the submission id, given on receipt)."""

    order: int
    student: Hashable = field(compare=False)


class FairQueue:
    """Uploads waiting to be scored, taken one at a time by the turn rule (module docstring)."""

    def __init__(self, being_scored: Mapping[Hashable, int] | None = None) -> None:
        """`being_scored`: how many uploads each student already has being scored (elsewhere)."""
        self._waiting: dict[Hashable, list[Waiting]] = {}  # per student, oldest first
        self._running: Counter = Counter(being_scored or {})
        self._turns: Counter = Counter(being_scored or {})
        self._orders: set[int] = set()

    def __len__(self) -> int:
        return len(self._orders)

    def __contains__(self, order: int) -> bool:
        return order in self._orders

    def add(self, item: Waiting) -> bool:
        """Put `item` in line; False when it is already there."""
        if item.order in self._orders:
            return False
        self._orders.add(item.order)
        line = self._waiting.setdefault(item.student, [])
        line.append(item)
        line.sort()
        return True

    def take(self) -> Waiting | None:
        """The next upload by the turn rule, now counted as being scored; None when nothing waits."""
        if not self._waiting:
            return None
        student = min(self._waiting, key=lambda s: (self._running[s], self._turns[s], self._waiting[s][0]))
        line = self._waiting[student]
        item = line.pop(0)
        if not line:
            del self._waiting[student]
        self._orders.discard(item.order)
        self._running[student] += 1
        self._turns[student] += 1
        return item

    def done(self, item: Waiting) -> None:
        """`item`, taken earlier, is no longer being scored. A student with nothing left waiting or running starts
        afresh: turns count within one burst of uploads, not forever."""
        self._running[item.student] -= 1
        if self._running[item.student] <= 0:
            del self._running[item.student]
            if item.student not in self._waiting:
                self._turns.pop(item.student, None)

    def drain(self) -> list[Waiting]:
        """Everything waiting, removed, in the order `take` gives it."""
        taken = []
        while (item := self.take()) is not None:
            taken.append(item)
        return taken


def fair_order(waiting: Iterable[Waiting], being_scored: Mapping[Hashable, int] | None = None) -> list[Waiting]:
    """`waiting` in the order the turn rule takes it, when each student already has `being_scored[student]`
    uploads being scored (elsewhere: another process's claims): what `FairQueue(being_scored)` with every item added
    gives by `drain`, computed in one sort rather than by a choice among the students at each step, so that a page
    can tell a waiting upload its place among thousands (tests/rules/test_queue.py checks the two agree).

    While a queue drains nothing is done, so each upload taken adds one to its student's running count and turns
    alike: both stay equal, starting at `being_scored[student]`. A student's j-th waiting upload (oldest first, from
    0) is therefore taken when its student's count is `being_scored[student] + j`, and the rule takes the lowest
    count first and, among equal counts, the oldest upload."""
    base = being_scored or {}
    lines: dict[Hashable, list[Waiting]] = {}
    seen: set[int] = set()
    for item in waiting:
        if item.order not in seen:  # an upload added twice waits once
            seen.add(item.order)
            lines.setdefault(item.student, []).append(item)
    keyed = [(base.get(student, 0) + j, item.order, item)
             for student, line in lines.items() for j, item in enumerate(sorted(line))]
    return [item for _, _, item in sorted(keyed, key=lambda k: (k[0], k[1]))]

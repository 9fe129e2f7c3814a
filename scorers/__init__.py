"""Metrics for Podium: a registry of scorers.

A scorer turns aligned truth and prediction arrays into one number. It declares

- ``name``: how competitions refer to it (``metric = "accuracy"``);
- ``higher_is_better``: the metric's direction, which orders cutoffs and leaderboards;
- ``target``: how the target column(s) of the solution and of an upload are parsed,
  ``"label"`` (class labels, compared exactly), ``"number"`` (floats) or ``"text"`` (strings);
- ``fn(y_true, y_pred) -> float``: a vectorised function over aligned NumPy arrays
  (shape ``(n,)`` for one target column, ``(n, k)`` for several).

An instructor's Kaggle-style ``metric.py`` is wrapped by :mod:`scorers.kaggle` as a
:class:`FrameScorer`, which receives DataFrames instead of arrays.

This package imports nothing of the platform: it is usable, and tested, on its own.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Callable, Iterable, Literal

if TYPE_CHECKING:
    # Only in annotations: the registry is imported by the platform's light paths (a `podium` command reading a
    # metric's name), which must not pay for NumPy; the metrics themselves import it.
    import numpy as np

Target = Literal["label", "number", "text"]
ENTRY_POINT_GROUP = "podium.scorers"


class ScorerError(Exception):
    """A scorer could not be found, registered or run; the message says what to fix."""


class ParticipantVisibleError(Exception):
    """Raised by a metric for a problem the submitting student should read and can fix."""


@dataclass(frozen=True)
class Scorer:
    name: str
    higher_is_better: bool
    target: Target
    fn: Callable[[np.ndarray, np.ndarray], float] = field(repr=False)
    description: str = ""

    def __call__(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return float(self.fn(y_true, y_pred))

    def better(self, a: float, b: float) -> bool:
        """True when score ``a`` is strictly better than ``b`` in this metric's direction."""
        return a > b if self.higher_is_better else a < b


@dataclass(frozen=True)
class FrameScorer:
    """A metric over whole DataFrames, in Kaggle's convention.

    ``fn(solution, submission, row_id_column_name) -> float``; both frames hold the id column and
    the target columns, aligned row for row.
    """

    name: str
    higher_is_better: bool
    fn: Callable[..., float] = field(repr=False)
    description: str = ""
    target: Target = "text"

    def __call__(self, solution, submission, row_id_column_name: str) -> float:
        return float(self.fn(solution, submission, row_id_column_name))

    def better(self, a: float, b: float) -> bool:
        return a > b if self.higher_is_better else a < b


AnyScorer = Scorer | FrameScorer

_registry: dict[str, AnyScorer] = {}
_plugins_loaded = False


def register(scorer: AnyScorer, *, replace: bool = False) -> AnyScorer:
    """Add a scorer to the registry; refuse a second scorer under a name already taken."""
    if not replace and scorer.name in _registry and _registry[scorer.name] is not scorer:
        raise ScorerError(f"a scorer named {scorer.name!r} is already registered")
    _registry[scorer.name] = scorer
    return scorer


def _load_plugins() -> None:
    """Register the scorers that installed packages offer through the ``podium.scorers`` group.

    An entry point names a Scorer, a list of them, or a callable returning either.
    """
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
            if callable(obj) and not isinstance(obj, (Scorer, FrameScorer)):
                obj = obj()
            for scorer in obj if isinstance(obj, Iterable) else [obj]:
                register(scorer)
        except Exception as exc:  # a broken plugin must not take the platform down
            raise ScorerError(f"the scorer plugin {ep.name!r} ({ep.value}) failed to load: {exc}") from exc


def get(name: str) -> AnyScorer:
    """The scorer registered as ``name``; the error lists the names that exist."""
    from scorers import builtin  # noqa: F401  (registers the built-ins on first use)

    _load_plugins()
    try:
        return _registry[name]
    except KeyError:
        raise ScorerError(f"unknown metric {name!r}; available: {', '.join(names())}") from None


def names() -> list[str]:
    from scorers import builtin  # noqa: F401

    _load_plugins()
    return sorted(_registry)

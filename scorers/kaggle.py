"""Instructors' own metrics, written in Kaggle's convention and used unchanged.

A Kaggle metric file defines, at module level::

    def score(solution: pd.DataFrame, submission: pd.DataFrame, row_id_column_name: str) -> float

and raises an exception class named ``ParticipantVisibleError`` (usually its own) for messages
meant for the student. :func:`load_custom` wraps such a file as a :class:`~scorers.FrameScorer`;
:func:`run_frame_scorer` calls it on behalf of the scoring engine.
"""
from __future__ import annotations

import hashlib
import importlib.util
import inspect
import itertools
import math
import numbers
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd

from scorers import FrameScorer, ParticipantVisibleError, ScorerError

_load_counter = itertools.count()


def load_custom(path: Path, higher_is_better: bool, name: str | None = None) -> FrameScorer:
    """Import the Kaggle-style metric file at ``path`` and wrap its ``score`` function.

    ``name`` defaults to ``<folder>/<file stem>`` (e.g. ``titanic/metric``). The description is
    the first line of the module's docstring, else of ``score``'s. Raises :class:`ScorerError`
    naming the file and what to fix when it cannot be imported or has no usable ``score``.
    """
    path = Path(path)
    if not path.is_file():
        raise ScorerError(f"{path}: no metric file there; point the competition at an existing metric.py")
    module = _import_isolated(path)
    score = getattr(module, "score", None)
    if not callable(score):
        raise ScorerError(
            f"{path}: defines no function score(solution, submission, row_id_column_name); "
            "add one at module level that returns a float"
        )
    _check_takes_three_arguments(score, path)
    return FrameScorer(
        name=name or f"{path.parent.name}/{path.stem}",
        higher_is_better=higher_is_better,
        fn=score,
        description=_first_docstring_line(module) or _first_docstring_line(score),
    )


def _import_isolated(path: Path) -> ModuleType:
    """Execute the file as a fresh module whose name no other metric file can share.

    The name mixes a digest of the resolved path with a counter, so two competitions'
    ``metric.py`` never collide and reloading an edited file yields a new module.
    """
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    module_name = f"_podium_custom_metric_{digest}_{next(_load_counter)}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ScorerError(f"{path}: cannot be imported as a Python module; name it with a .py suffix")
    module = importlib.util.module_from_spec(spec)
    # Registered before executing so dataclasses, pickling and typing in the file can find it.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[module_name]
        raise ScorerError(
            f"{path}: syntax error on line {exc.lineno}: {exc.msg}; fix the file and reload the competition"
        ) from exc
    except ImportError as exc:
        del sys.modules[module_name]
        raise ScorerError(
            f"{path}: importing it failed: {exc}; a metric may only import installed packages"
        ) from exc
    except Exception as exc:
        del sys.modules[module_name]
        raise ScorerError(
            f"{path}: running the file's top level raised {type(exc).__name__}: {exc}; fix the file"
        ) from exc
    return module


def _check_takes_three_arguments(score, path: Path) -> None:
    try:
        signature = inspect.signature(score)
    except (TypeError, ValueError):  # builtins and some wrappers have no signature to check
        return
    try:
        signature.bind(None, None, "id")
    except TypeError:
        raise ScorerError(
            f"{path}: score{signature} must accept (solution, submission, row_id_column_name)"
        ) from None


def _first_docstring_line(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def is_participant_visible(exc: BaseException) -> bool:
    """True when the student may read ``exc``'s message.

    That is our :class:`ParticipantVisibleError` or any exception whose class, or one of its
    bases, is named ``ParticipantVisibleError``: Kaggle metric files define their own.
    """
    if isinstance(exc, ParticipantVisibleError):
        return True
    return any(cls.__name__ == "ParticipantVisibleError" for cls in type(exc).__mro__)


def run_frame_scorer(
    scorer: FrameScorer, solution_df: pd.DataFrame, submission_df: pd.DataFrame, id_column: str
) -> float:
    """Call a DataFrame metric and return its score as a finite float.

    The metric receives copies, since Kaggle metrics commonly ``del solution[row_id_column_name]``.
    Exceptions the student may read (see :func:`is_participant_visible`) and :class:`ScorerError`
    propagate unchanged; any other exception, and a result that is not a finite number, becomes a
    :class:`ScorerError` for the instructor.
    """
    try:
        result = scorer.fn(solution_df.copy(), submission_df.copy(), id_column)
    except ScorerError:
        raise
    except Exception as exc:
        if is_participant_visible(exc):
            raise
        raise ScorerError(f"the metric {scorer.name!r} raised {type(exc).__name__}: {exc}") from exc
    return _finite_score(result, scorer.name)


def _finite_score(result, metric: str) -> float:
    if isinstance(result, np.ndarray) and result.ndim == 0:
        result = result[()]
    if isinstance(result, (bool, np.bool_)) or not isinstance(result, numbers.Real):
        raise ScorerError(
            f"the metric {metric!r} returned {result!r} ({type(result).__name__}); score() must return a number"
        )
    value = float(result)
    if not math.isfinite(value):
        raise ScorerError(f"the metric {metric!r} returned {value}; score() must return a finite number")
    return value

"""The registry: names, duplicates, and scorers that installed packages add through entry points."""
import sys
import textwrap

import numpy as np
import pytest

import scorers
from scorers import Scorer, ScorerError

BUILTIN_NAMES = {"accuracy", "balanced_accuracy", "macro_f1", "roc_auc", "log_loss",
                 "rmse", "mae", "mean_levenshtein", "cer", "wer"}


def test_every_builtin_is_registered_under_its_name():
    assert BUILTIN_NAMES <= set(scorers.names())
    for name in BUILTIN_NAMES:
        assert scorers.get(name).name == name


def test_an_unknown_name_lists_the_available_ones():
    with pytest.raises(ScorerError) as error:
        scorers.get("acuracy")
    message = str(error.value)
    assert "'acuracy'" in message
    assert "accuracy" in message.split("available:")[1]
    assert "wer" in message.split("available:")[1]


def test_a_second_scorer_under_a_taken_name_is_refused(isolated_registry):
    impostor = Scorer("accuracy", False, "label", lambda y_true, y_pred: 0.0)
    with pytest.raises(ScorerError, match="already registered"):
        scorers.register(impostor)
    assert scorers.get("accuracy") is not impostor


def test_registering_the_same_scorer_twice_is_harmless(isolated_registry):
    scorer = Scorer("always_one", True, "number", lambda y_true, y_pred: 1.0)
    scorers.register(scorer)
    scorers.register(scorer)
    assert scorers.get("always_one") is scorer


def test_replace_swaps_the_scorer_under_a_name(isolated_registry):
    replacement = Scorer("accuracy", True, "label", lambda y_true, y_pred: 0.25)
    scorers.register(replacement, replace=True)
    assert scorers.get("accuracy")(np.array([1]), np.array([1])) == 0.25


# --- plugins ---------------------------------------------------------------------------------


@pytest.fixture
def installed_distribution(tmp_path, monkeypatch, isolated_registry):
    """Install a distribution by hand: a module and a .dist-info with entry_points.txt on sys.path.

    Returns a function ``install(module_name, module_source, entry_points)``; the registry is
    told to look for plugins again on its next lookup.
    """
    added_modules = []

    def install(module_name: str, module_source: str, entry_points: str) -> None:
        (tmp_path / f"{module_name}.py").write_text(textwrap.dedent(module_source))
        dist_info = tmp_path / f"{module_name}-0.1.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module_name}\nVersion: 0.1\n")
        (dist_info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
        added_modules.append(module_name)
        monkeypatch.syspath_prepend(str(tmp_path))  # also invalidates the import caches
        monkeypatch.setattr(scorers, "_plugins_loaded", False)

    yield install
    for module_name in added_modules:
        sys.modules.pop(module_name, None)


def test_a_scorer_offered_through_the_entry_point_group_is_found(installed_distribution):
    installed_distribution(
        "podium_test_plugin_single",
        """
        from scorers import Scorer

        def _max_error(y_true, y_pred):
            return float(abs(y_true - y_pred).max())

        SCORER = Scorer("plugin_name", False, "number", _max_error, "Largest absolute error. Lower is better.")
        """,
        """
        [podium.scorers]
        plugin_name = podium_test_plugin_single:SCORER
        """,
    )
    scorer = scorers.get("plugin_name")
    assert scorer.higher_is_better is False
    assert scorer(np.array([1.0, 2.0]), np.array([1.5, 4.0])) == 2.0
    assert "plugin_name" in scorers.names()


def test_an_entry_point_may_name_a_function_returning_several_scorers(installed_distribution):
    installed_distribution(
        "podium_test_plugin_factory",
        """
        from scorers import Scorer

        def scorers():
            return [Scorer("plugin_zero", True, "number", lambda t, p: 0.0),
                    Scorer("plugin_one", True, "number", lambda t, p: 1.0)]
        """,
        """
        [podium.scorers]
        pair = podium_test_plugin_factory:scorers
        """,
    )
    assert scorers.get("plugin_zero")(np.zeros(1), np.zeros(1)) == 0.0
    assert scorers.get("plugin_one")(np.zeros(1), np.zeros(1)) == 1.0


def test_a_plugin_that_fails_to_load_is_reported_by_name(installed_distribution):
    installed_distribution(
        "podium_test_plugin_broken",
        "raise RuntimeError('missing model file')\n",
        """
        [podium.scorers]
        broken = podium_test_plugin_broken:SCORER
        """,
    )
    with pytest.raises(ScorerError, match="'broken'.*missing model file"):
        scorers.get("accuracy")

"""The recipe's search: section: distributions, the paths that may vary, and the draws."""

import numpy as np
import pytest

from traincraft.api.search import draw_trials
from traincraft.errors import RecipeError
from traincraft.recipe import recipe_from_dict

DATA = {"source": "x.csv", "label": "y"}


def _search(section: dict):
    return recipe_from_dict({"data": DATA, "search": section}).search


def test_random_draws_stay_in_their_ranges_and_repeat_for_the_same_seed() -> None:
    space = _search({"trials": 50, "space": {
        "train.lr": {"log_uniform": [1e-4, 1e-2]},
        "model.dropout": {"uniform": [0.0, 0.5]},
        "train.batch_size": [32, 64, 128],  # a bare list is a choice
        "model.text.embedding_dim": {"int_uniform": [8, 12]},
    }})
    trials = draw_trials(space, seed=3)
    assert trials[0] == {} and len(trials) == 51  # the recipe's own settings first
    trials = trials[1:]
    assert trials == draw_trials(space, seed=3)[1:] and trials != draw_trials(space, seed=4)[1:]
    lrs = np.array([t["train.lr"] for t in trials])
    assert (lrs >= 1e-4).all() and (lrs <= 1e-2).all()
    assert (np.log10(lrs) < -3).sum() >= 10 and (np.log10(lrs) > -3).sum() >= 10  # log-uniform: both decades drawn
    assert all(0.0 <= t["model.dropout"] <= 0.5 for t in trials)
    assert {t["train.batch_size"] for t in trials} == {32, 64, 128}
    assert {t["model.text.embedding_dim"] for t in trials} == {8, 9, 10, 11, 12}


def test_grid_tries_every_combination_in_order() -> None:
    space = _search({"method": "grid", "include_recipe": False, "space": {"train.lr": [0.001, 0.01], "model.hidden": [[64], [128, 128], []]}})
    trials = draw_trials(space, seed=0)
    assert len(trials) == 6
    assert trials[0] == {"train.lr": 0.001, "model.hidden": [64]} and trials[-1] == {"train.lr": 0.01, "model.hidden": []}


@pytest.mark.parametrize("section, message", [
    ({"space": {"split.train": [0.5, 0.6]}}, "'split.train' cannot be searched: split decides which rows"),
    ({"space": {"seed": [0, 1]}}, "'seed' cannot be searched"),
    ({"space": {"evaluate.bootstrap": [0, 10]}}, "'evaluate.bootstrap' cannot be searched"),
    ({"space": {"train.lr": {"uniform": [0.1, 0.01]}}}, "uniform needs low < high"),
    ({"space": {"train.lr": {"log_uniform": [0.0, 0.01]}}}, "log_uniform needs low > 0"),
    ({"space": {"train.lr": {"choice": [0.1], "uniform": [0.0, 1.0]}}}, "give exactly one of choice, uniform"),
    ({"space": {"train.lr": {"choice": []}}}, "choice needs at least one value"),
    ({"method": "grid", "space": {"train.lr": {"uniform": [0.0, 1.0]}}}, "method: grid tries listed values only; give train.lr a choice list"),
    ({"trials": 0, "space": {"train.lr": [0.1]}}, "search.trials"),
    ({"space": {"train..lr": [0.1]}}, "is not a dotted recipe path"),
])
def test_bad_search_sections_name_the_problem(section, message) -> None:
    with pytest.raises(RecipeError, match=message):
        _search(section)

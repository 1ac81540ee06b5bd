"""Regularized ("aging") evolution (Real et al. 2019, AmoebaNet) as an Optuna sampler, for categorical spaces.

The population is the most recent `population` finished trials: older ones age out, whatever their score. A new
candidate is a copy of the best of `sample` members drawn at random from the population, with one parameter
changed to another of its values. Until the population is full, candidates are drawn at random."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState


class RegularizedEvolutionSampler(BaseSampler):
    """Aging evolution over the categorical parameters a study suggests (single objective)."""

    def __init__(self, population: int = 16, sample: int = 4, seed: int | None = None) -> None:
        if population < 2 or not 1 <= sample <= population:
            raise ValueError("aging evolution needs population >= 2 and 1 <= sample <= population")
        self.population, self.sample = population, sample
        self._rng = random.Random(seed)
        self._random = RandomSampler(seed=seed)

    def reseed_rng(self) -> None:
        self._rng.seed()
        self._random.reseed_rng()

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return optuna.search_space.intersection_search_space(study.get_trials(deepcopy=False, states=(
            TrialState.COMPLETE,)), include_pruned=False)

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        if not search_space or any(not isinstance(d, CategoricalDistribution) for d in search_space.values()):
            return {}
        done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                if all(name in t.params for name in search_space)]
        if len(done) < self.population:
            return {}
        members = sorted(done, key=lambda t: t.number)[-self.population:]  # the youngest: aging
        contenders = self._rng.sample(members, self.sample)
        maximize = study.direction == StudyDirection.MAXIMIZE
        parent = (max if maximize else min)(contenders, key=lambda t: t.value)
        child = {name: parent.params[name] for name in search_space}
        name = self._rng.choice(sorted(search_space))
        options = [c for c in search_space[name].choices if c != child[name]]  # type: ignore[attr-defined]
        if options:
            child[name] = self._rng.choice(options)
        return child

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        return self._random.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        self._random.after_trial(study, trial, state, values)


__all__ = ["RegularizedEvolutionSampler"]

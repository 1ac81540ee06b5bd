"""Searches on the experiment engine: Step 1's alpha / beta / gamma grid and Step 2's family (paper Section 4), and
the baseline architecture search in MnasNet's space."""

from .architecture import ArchitectureSearch, pareto_front, run_architecture_search
from .coefficients import CoefficientSearch, run_coefficient_search, write_family
from .evolution import RegularizedEvolutionSampler
from .space import SearchSpace, StageChoice, reward

__all__ = ["ArchitectureSearch", "CoefficientSearch", "RegularizedEvolutionSampler", "SearchSpace", "StageChoice",
           "pareto_front", "reward", "run_architecture_search", "run_coefficient_search", "write_family"]

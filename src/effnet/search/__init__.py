"""Searches on the experiment engine: Step 1's alpha / beta / gamma grid and Step 2's family (paper Section 4)."""

from .coefficients import CoefficientSearch, run_coefficient_search, write_family

__all__ = ["CoefficientSearch", "run_coefficient_search", "write_family"]

"""The paper's experiments, run on the experiment engine: the scaling study (Fig. 3 / 4 / 8, Table 7)."""

from .scaling import ScalingStudy, parse_budgets, run_scaling_study, study_baseline

__all__ = ["ScalingStudy", "parse_budgets", "run_scaling_study", "study_baseline"]

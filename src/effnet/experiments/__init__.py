"""The paper's experiments, run on the experiment engine: the scaling study (Fig. 3 / 4 / 8, Table 7), and
comparisons of networks trained the same way. Every trial of them, and of the searches, trains here (`trial.py`:
spec -> proxy training -> metrics), and their verdicts rest on the paired statistics in `stats.py`."""

from .compare import Comparison, model_spec, run_comparison
from .scaling import ScalingStudy, parse_budgets, run_scaling_study, study_baseline

__all__ = ["Comparison", "ScalingStudy", "model_spec", "parse_budgets", "run_comparison", "run_scaling_study",
           "study_baseline"]

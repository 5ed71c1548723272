"""A/B test summaries: the statistics (tests.py), the compared variants (variants.py), the summary, charts and report."""

from .tests import Comparison, NoVariationError, SampleRatio, cuped, holm, sample_ratio, two_proportions, welch
from .variants import VariantError, Variants, choose

__all__ = ["Comparison", "NoVariationError", "SampleRatio", "VariantError", "Variants", "choose", "cuped", "holm",
           "sample_ratio", "two_proportions", "welch"]

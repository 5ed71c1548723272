"""A/B test summaries: the statistics (tests.py) first; the summary, charts and report follow (issue 10)."""

from .tests import Comparison, SampleRatio, cuped, holm, sample_ratio, two_proportions, welch

__all__ = ["Comparison", "SampleRatio", "cuped", "holm", "sample_ratio", "two_proportions", "welch"]

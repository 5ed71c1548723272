"""Push and retargeting audiences from an Amplitude cohort: cleaning, filters, cap, hold-out, split, history.

The modules read like the funnel: :mod:`.buckets` (the deterministic hash), :mod:`.steps` (each step
over Arrow/NumPy columns), :mod:`.holdout` (the global hold-out's versions), :mod:`.store` (the keyed
write and reading it back), :mod:`.pipeline` (the whole run the notebooks call).
"""

from .buckets import bucket_sql, buckets, salt_for
from .pipeline import AudienceOutcome, AudienceRequest, build_audience, suggested_sub_id
from .steps import Filters
from .store import SavedAudience, history, saved, why_not

__all__ = ["AudienceOutcome", "AudienceRequest", "Filters", "SavedAudience", "bucket_sql", "build_audience",
           "buckets", "history", "salt_for", "saved", "suggested_sub_id", "why_not"]

"""Local stand-ins for the SaaS APIs we cannot reach in tests and demos, following shared/contracts/."""

from .amocrm import FakeAmoCRM
from .amplitude import FakeAmplitude, cohort_csv
from .slack import FakeSlack

__all__ = ["FakeAmoCRM", "FakeAmplitude", "FakeSlack", "cohort_csv"]

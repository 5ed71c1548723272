"""The tests' Amplitude: the product's local Amplitude server (:mod:`analytics.clients.local_amplitude`)."""

from ...clients.local_amplitude import (
    API_KEY,
    DEMO,
    SECRET_KEY,
    FakeAmplitude,
    Request,
    cohort_csv,
    demo_cohorts,
    start_demo_amplitude,
)

__all__ = ["API_KEY", "DEMO", "SECRET_KEY", "FakeAmplitude", "Request", "cohort_csv", "demo_cohorts",
           "start_demo_amplitude"]

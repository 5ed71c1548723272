"""Clients of the outside services we call: one HTTP session with timeouts and retries, then one module per service."""

from .amplitude import AmplitudeClient, CohortFile
from .http import http_session

__all__ = ["AmplitudeClient", "CohortFile", "http_session"]

"""The fakes' HTTP server helpers (:mod:`analytics.clients.local_server`)."""

from ...clients.local_server import reply, start, stop

__all__ = ["reply", "start", "stop"]

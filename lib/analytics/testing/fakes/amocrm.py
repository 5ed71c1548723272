"""The tests' amoCRM account: the product's local amoCRM server (:mod:`analytics.clients.local_amocrm`)."""

from ...clients.local_amocrm import BLOCK_PAGE, ENTITIES, START, FakeAmoCRM

__all__ = ["BLOCK_PAGE", "ENTITIES", "START", "FakeAmoCRM"]

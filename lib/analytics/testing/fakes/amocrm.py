"""The tests' amoCRM account: the product's local amoCRM server (:mod:`analytics.clients.local_amocrm`).

This name is that very module, not a copy of its names: a test that patches the server's module (the answers'
content type, say) through ``analytics.testing.fakes.amocrm`` patches what the running server reads.
"""

import sys

from ...clients import local_amocrm

sys.modules[__name__] = local_amocrm

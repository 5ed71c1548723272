"""The demo store's CRM data: the demo amoCRM account loaded by the real loader, as a team's history would be.

:func:`load_demo` serves the demo account (:mod:`analytics.clients.demo_amocrm`) on loopback and runs the real
:class:`~analytics.crm.loader.Loader` against it at moments every few days over its three months (a full load
first, then loads of changes), the account moved on to each moment in between. The loads between the first and
the last read only leads: each stream's load costs the store about half a second of bookkeeping (its checkpoint,
its versions, its counts) however little changed, and only the leads' stages make the funnel's history; managers,
stages, contacts, companies and the trash are read at the start and at the end. So the store holds what a
scheduled load would have gathered: several versions of each lead that moved, each saying when it entered the
stage it shows (the funnel's time in stage), and the latest equal to the account at its end, which is also
what the demo app serves (``ANALYTICS_AMOCRM_URL=demo``): a load of changes there finds the store up to date.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..clients.amocrm import AmoCRM, RateLimit
from ..clients.demo_amocrm import SEED, demo_account
from ..db import Database
from ..warehouse.demo import DEMO_END
from . import store
from .entities import CHOICES, ENTITIES, streams
from .loader import Loader
from .tables import CRM_TABLES, LEADS

EVERY = dt.timedelta(days=4)
# The demo's requests go through amoCRM's own limit of 7 a second (RateLimit's default) although the server is
# ours: measured, the load takes 15-16 s either way (the store's bookkeeping between requests, about half a second
# per stream and load, spaces them out), so a faster limit for the demo would only be a second path to keep.


@dataclass(frozen=True)
class DemoLoad:
    loads: int
    leads: int  # current at the end
    versions: int  # lead versions stored, all loads together
    seconds: float


def load_demo(db: Database, *, seed: int = SEED, end: dt.date = DEMO_END, every: dt.timedelta = EVERY,
              say: Callable[[str], None] | None = None) -> DemoLoad:
    """(Re)create the ``crm_*`` tables in ``db`` from the demo account, loaded at every ``every`` and at its end.

    The loader's spool, locks and request log live in a temporary home of their own: they must never mix with a
    real account's load in the installation's home.
    """
    started = time.monotonic()
    tell = say or (lambda text: None)
    for spec in CRM_TABLES:
        db.drop_table(spec.name)
    account = demo_account(seed, end)
    moments = account.moments(every)
    with tempfile.TemporaryDirectory(prefix="analytics-crm-demo-") as folder, account.fake(account.start) as fake:
        home = Path(folder)
        client = AmoCRM(fake.url, fake.access_token, RateLimit(home / ".amocrm-requests"))
        for number, moment in enumerate(moments):
            account.advance_to(fake, moment)
            seen = dt.datetime.fromtimestamp(moment, dt.UTC).replace(tzinfo=None)
            tell(f"Demo CRM: load {number + 1} of {len(moments)}, as of {seen:%d.%m.%Y}")
            between = 0 < number < len(moments) - 1
            loader = Loader(client, db, home, user="demo", now=lambda seen=seen: seen)
            loader.run([ENTITIES["leads"]] if between else streams(list(CHOICES)), "changes" if number else "full")
        client.session.close()
    versions = db.scalar("SELECT count() FROM " + store.committed_rows(LEADS))
    leads = db.scalar("SELECT count() FROM " + store.current(LEADS, columns=["id", "is_deleted"]))
    return DemoLoad(len(moments), int(leads), int(versions), time.monotonic() - started)

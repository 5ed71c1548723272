"""The demo's weekly raffle: set up over the demo's promo chain, with a salt anyone can recompute.

It lives with the raffle, not with the warehouse's demo data: the warehouse (the catalog of tables and the
data generator) knows nothing of raffles; ``analytics demo-data`` loads the data, then sets this up.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from ..config import Settings
from ..db import Database
from ..warehouse.demo import DEMO_END
from .setup import Raffle, salt_path, setup, write_salt

DEMO_RAFFLE = "promo_weekly"
# The demo raffle's salt is derived from a public text, so every demo home can hold it and verify the
# demo's draws; it is therefore not secret. A real raffle (`analytics raffle-setup`) gets a random one.
DEMO_RAFFLE_SALT = hashlib.sha256(b"analytics demo raffle salt").hexdigest()


def set_up_raffle(db: Database, settings: Settings) -> Raffle:
    """The demo's weekly raffle over the promo chain, set up (its salt fixed) before the demo's first day."""
    if not salt_path(settings, DEMO_RAFFLE, 1).is_file():
        write_salt(salt_path(settings, DEMO_RAFFLE, 1), DEMO_RAFFLE_SALT)
    first = db.scalar("SELECT min(event_date) FROM events") or DEMO_END
    return setup(db, settings, DEMO_RAFFLE, scenario="promo_chain", steps=(1, 2, 3, 4, 5), timezone="Europe/Moscow",
                 title="Weekly promo raffle", user="demo", now=dt.datetime.combine(first, dt.time()) - dt.timedelta(days=1))

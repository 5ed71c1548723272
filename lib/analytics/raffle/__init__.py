"""The weekly promo raffle: who took part, a draw anyone can verify, and its history.

* :mod:`.setup`: a raffle's chain, time zone and committed salt; calendar weeks; participants.
* :mod:`.fairness`: the commitment, the participant list's hash and the SHA-256 pick stream.
* :mod:`.draws`: the keyed draw (show, redraw, replace a winner) and :func:`verify`.
"""

from .draws import Draw, DrawOutcome, Verification, draw, history, replace_winner, stored, verify
from .setup import Raffle, Week, in_force, last_full_week, participants, setup, setups, week_of

__all__ = ["Draw", "DrawOutcome", "Raffle", "Verification", "Week", "draw", "history", "in_force", "last_full_week",
           "participants", "replace_winner", "setup", "setups", "stored", "verify", "week_of"]

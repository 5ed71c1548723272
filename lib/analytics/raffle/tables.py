"""The tables the raffle writes, declared once for both backends (see DOMAIN.md, "raffle_draws").

A raffle is set up once (``raffle_setups``: its chain, time zone, whether past winners are left out,
and the SHA-256 commitment to its secret salt). Setups made before that rule was part of a setup are
in the older ``raffles`` table and read as "past winners left out", the default they were drawn with.
Each draw of a raffle-week is three writes under one ``write_id``: the participants, the picks, then one
row in ``raffle_weeks``, the commit. Readers look only at writes a commit names, so a draw killed at any
moment leaves the week as it was; every version stays, the highest is current.
"""

from __future__ import annotations

from ..db import TableSpec

SETUPS = TableSpec("raffle_setups", {
    "raffle": "String", "version": "UInt32", "title": "String", "scenario": "String", "steps": "String",
    "timezone": "String", "exclude_past_winners": "UInt8", "commitment": "String", "created_at": "DateTime",
    "created_by": "String",
}, key=("raffle",), version="version",
    description="Raffles set up: the chain, the time zone, whether past winners are left out, the salt's commitment",
    labels={"raffle": "Raffle", "version": "Setup version", "title": "Title", "scenario": "Scenario",
            "steps": "Steps", "timezone": "Time zone", "exclude_past_winners": "Past winners left out",
            "commitment": "SHA-256 of the secret salt", "created_at": "Set up at (UTC)", "created_by": "Set up by"})

# Setups made before the past-winners rule was part of a setup: read (as "left out"), never written.
RAFFLES = TableSpec("raffles", {
    "raffle": "String", "version": "UInt32", "title": "String", "scenario": "String", "steps": "String",
    "timezone": "String", "commitment": "String", "created_at": "DateTime", "created_by": "String",
}, key=("raffle",), version="version", description="Raffles set up before the past-winners rule was part of a setup",
    labels={"raffle": "Raffle", "version": "Setup version", "title": "Title", "scenario": "Scenario",
            "steps": "Steps", "timezone": "Time zone", "commitment": "SHA-256 of the secret salt",
            "created_at": "Set up at (UTC)", "created_by": "Set up by"})

WEEKS = TableSpec("raffle_weeks", {
    "raffle": "String", "week_start": "Date", "version": "UInt32", "write_id": "String", "participants_write": "String",
    "setup_version": "UInt32", "commitment": "String", "participants_hash": "String", "participants": "UInt32",
    "eligible": "UInt32", "winners": "UInt32", "picks": "UInt32", "reason": "String", "parameters": "String",
    "drawn_at": "DateTime", "drawn_by": "String",
}, key=("raffle", "week_start"), version="version", description="Each draw of a raffle-week, every version",
    labels={"raffle": "Raffle", "week_start": "Week from", "version": "Draw version", "write_id": "Write",
            "participants_write": "Participants' write", "setup_version": "Setup version",
            "commitment": "SHA-256 of the secret salt", "participants_hash": "SHA-256 of the participant list",
            "participants": "Participants", "eligible": "In the draw", "winners": "Winners", "picks": "Picks",
            "reason": "Why drawn", "parameters": "Parameters", "drawn_at": "Drawn at (UTC)", "drawn_by": "Drawn by"})

PARTICIPANTS = TableSpec("raffle_participants", {
    "raffle": "String", "week_start": "Date", "write_id": "String", "user_id": "UInt64", "completed_at": "DateTime",
    "excluded": "String",
}, order_by=("raffle", "week_start", "user_id"), description="Who completed the chain in each raffle-week",
    labels={"raffle": "Raffle", "week_start": "Week from", "write_id": "Write", "user_id": "User ID",
            "completed_at": "Reached the last step at (UTC)", "excluded": "Left out of the draw"})

DRAWS = TableSpec("raffle_draws", {
    "raffle": "String", "week_start": "Date", "version": "UInt32", "write_id": "String", "rank": "UInt32",
    "user_id": "UInt64", "status": "String", "commitment": "String", "participants_hash": "String",
    "drawn_at": "DateTime", "drawn_by": "String",
}, order_by=("raffle", "week_start", "version", "rank"), description="The picks of each draw, in the order drawn",
    labels={"raffle": "Raffle", "week_start": "Week from", "version": "Draw version", "write_id": "Write",
            "rank": "Pick", "user_id": "User ID", "status": "Status", "commitment": "SHA-256 of the secret salt",
            "participants_hash": "SHA-256 of the participant list", "drawn_at": "Drawn at (UTC)",
            "drawn_by": "Drawn by"})

RAFFLE_TABLES = (SETUPS, WEEKS, PARTICIPANTS, DRAWS)  # what a setup creates

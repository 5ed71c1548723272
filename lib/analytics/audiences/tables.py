"""The tables audiences write, declared once for both backends (see DOMAIN.md, "Tables the product writes").

A saved audience is three writes under one ``write_id``: its exclusions, its recipients, then one row
in ``audiences``, the commit. Readers look only at writes that ``audiences`` names, so a run killed
at any moment leaves nothing visible for its sub_id, and a retry starts clean.
"""

from __future__ import annotations

from ..db import TableSpec

AUDIENCES = TableSpec("audiences", {
    "sub_id": "String", "version": "UInt32", "write_id": "String", "kind": "String", "cohort_id": "String",
    "salt": "UInt64", "control_percent": "Float64", "holdout_version": "UInt32", "cohort_size": "UInt64",
    "target_size": "UInt64", "control_size": "UInt64", "excluded_size": "UInt64", "parameters": "String",
    "created_at": "DateTime", "created_by": "String",
}, key=("sub_id",), version="version", description="Saved push and retargeting audiences, every version",
    labels={"sub_id": "Sub ID", "version": "Version", "write_id": "Write", "kind": "Kind", "cohort_id": "Cohort ID",
            "salt": "Salt", "control_percent": "Control group, %", "holdout_version": "Hold-out version",
            "cohort_size": "In the cohort", "target_size": "Target group", "control_size": "Control group",
            "excluded_size": "Left out", "parameters": "Parameters", "created_at": "Saved at (UTC)",
            "created_by": "Saved by"})

RECIPIENTS = TableSpec("audience_recipients", {
    "sub_id": "String", "version": "UInt32", "write_id": "String", "user_id": "UInt64", "amplitude_id": "UInt64",
    "group": "String", "cohort_id": "String", "salt": "UInt64", "created_at": "DateTime", "created_by": "String",
    "parameters": "String",
}, order_by=("sub_id", "version", "user_id"), description="Who is in which group of each audience version",
    labels={"sub_id": "Sub ID", "version": "Version", "write_id": "Write", "user_id": "User ID",
            "amplitude_id": "Amplitude ID", "group": "Group", "cohort_id": "Cohort ID", "salt": "Salt",
            "created_at": "Saved at (UTC)", "created_by": "Saved by", "parameters": "Parameters"})

EXCLUSIONS = TableSpec("audience_exclusions", {
    "sub_id": "String", "version": "UInt32", "write_id": "String", "user_id": "UInt64", "amplitude_id": "UInt64",
    "reason": "String",
}, order_by=("sub_id", "version", "user_id"), description="Who was left out of each audience version, and why",
    labels={"sub_id": "Sub ID", "version": "Version", "write_id": "Write", "user_id": "User ID",
            "amplitude_id": "Amplitude ID", "reason": "Why left out"})

HOLDOUT = TableSpec("holdout_versions", {
    "holdout": "String", "version": "UInt32", "salt": "UInt64", "percent": "Float64", "bucket_from": "UInt16",
    "bucket_to": "UInt16", "created_at": "DateTime", "created_by": "String",
}, key=("holdout",), version="version", description="Versions of the global hold-out: a bucket range under a salt",
    labels={"holdout": "Hold-out", "version": "Version", "salt": "Salt", "percent": "Share, %",
            "bucket_from": "First bucket", "bucket_to": "Bucket after the last", "created_at": "Created at (UTC)",
            "created_by": "Created by"})

AUDIENCE_TABLES = (AUDIENCES, RECIPIENTS, EXCLUSIONS, HOLDOUT)

"""The tables the amoCRM loader writes (DOMAIN.md, "crm_*"), declared once for both backends.

Every entity table keeps **one row per entity version**: a load appends the versions it has not stored yet
and never rewrites a row, so readers pick the latest version per id (:mod:`analytics.crm.store`) and the
history of a lead's stages stays readable (time in stage). Rows carry the ``write_id`` of the batch that
wrote them; a batch counts only once its checkpoint row is in ``crm_checkpoints`` (:data:`LEDGER`), so a
load killed while inserting leaves nothing half-visible, and a load resumed from its checkpoint never adds
a second copy of a version it already committed.
"""

from __future__ import annotations

from ..db import Database, TableSpec
from ..ledger import Ledger

_LOAD = {"write_id": "String", "loaded_at": "DateTime"}
_LOAD_LABELS = {"write_id": "Load batch", "loaded_at": "Loaded at (UTC)"}

LEADS = TableSpec("crm_leads", {
    "id": "UInt64", "updated_at": "DateTime", "name": "String", "price": "Int64", "pipeline_id": "UInt64",
    "status_id": "UInt64", "responsible_user_id": "UInt64", "created_at": "DateTime", "closed_at": "DateTime",
    "loss_reason": "String", "contact_id": "UInt64", "company_id": "UInt64", "is_deleted": "UInt8", **_LOAD,
}, order_by=("id", "updated_at"), description="amoCRM leads, one row per version the loader saw",
    labels={"id": "Lead ID", "updated_at": "Changed at (UTC)", "name": "Lead", "price": "Budget",
            "pipeline_id": "Pipeline ID", "status_id": "Stage ID", "responsible_user_id": "Manager ID",
            "created_at": "Created at (UTC)", "closed_at": "Closed at (UTC)", "loss_reason": "Lost reason",
            "contact_id": "Main contact ID", "company_id": "Company ID", "is_deleted": "Deleted", **_LOAD_LABELS})

# what contacts and companies share: who, whose, since when, and how to reach them (fields.py's _reachable)
_REACHABLE = {"id": "UInt64", "updated_at": "DateTime", "name": "String", "responsible_user_id": "UInt64",
              "created_at": "DateTime", "phone": "String", "phones": "String", "email": "String", "emails": "String"}
_REACHABLE_LABELS = {"updated_at": "Changed at (UTC)", "responsible_user_id": "Manager ID",
                     "created_at": "Created at (UTC)", "phone": "Phone", "phones": "All phones", "email": "E-mail",
                     "emails": "All e-mails"}

CONTACTS = TableSpec("crm_contacts", {**_REACHABLE, "company_id": "UInt64", "is_deleted": "UInt8", **_LOAD},
                     order_by=("id", "updated_at"), description="amoCRM contacts, one row per version the loader saw",
                     labels={"id": "Contact ID", "name": "Contact", **_REACHABLE_LABELS, "company_id": "Company ID",
                             "is_deleted": "Deleted", **_LOAD_LABELS})

COMPANIES = TableSpec("crm_companies", {**_REACHABLE, "inn": "String", "is_deleted": "UInt8", **_LOAD},
                      order_by=("id", "updated_at"), description="amoCRM companies, one row per version the loader saw",
                      labels={"id": "Company ID", "name": "Company", **_REACHABLE_LABELS, "inn": "INN",
                              "is_deleted": "Deleted", **_LOAD_LABELS})

# Users and statuses have no `updated_at` in the API: a version is a change of what is stored, stamped when
# the loader first saw it (``updated_at``) and told apart by ``fingerprint``.
USERS = TableSpec("crm_users", {
    "id": "UInt64", "updated_at": "DateTime", "fingerprint": "String", "name": "String", "email": "String",
    "is_active": "UInt8", "is_admin": "UInt8", "is_deleted": "UInt8", **_LOAD,
}, order_by=("id", "updated_at"), description="amoCRM users (managers), one row per change the loader saw",
    labels={"id": "Manager ID", "updated_at": "First seen so at (UTC)", "fingerprint": "Version", "name": "Manager",
            "email": "E-mail", "is_active": "Active", "is_admin": "Administrator", "is_deleted": "Deleted",
            **_LOAD_LABELS})

STATUSES = TableSpec("crm_statuses", {
    "id": "UInt64", "pipeline_id": "UInt64", "updated_at": "DateTime", "fingerprint": "String", "name": "String",
    "sort": "Int64", "type": "Int64", "pipeline_name": "String", "pipeline_sort": "Int64", "is_main": "UInt8",
    "is_deleted": "UInt8", **_LOAD,
}, order_by=("pipeline_id", "id", "updated_at"), description="amoCRM pipelines and their stages",
    labels={"id": "Stage ID", "pipeline_id": "Pipeline ID", "updated_at": "First seen so at (UTC)",
            "fingerprint": "Version", "name": "Stage", "sort": "Order", "type": "Kind", "pipeline_name": "Pipeline",
            "pipeline_sort": "Pipeline order", "is_main": "Main pipeline", "is_deleted": "Deleted", **_LOAD_LABELS})

# One row per committed batch: the commit of the ledger protocol, and the checkpoint a killed load resumes from.
CHECKPOINTS = TableSpec("crm_checkpoints", {
    "entity": "String", "batch": "UInt64", "write_id": "String", "load_id": "String", "mode": "String",
    "page": "UInt64", "cursor_updated_at": "UInt64", "cursor_id": "UInt64", "window_page": "UInt64", "since": "UInt64",
    "done": "UInt8", "reported": "UInt64",
    "rows": "UInt64", "started_at": "DateTime", "committed_at": "DateTime", "committed_by": "String",
}, key=("entity",), version="batch", description="Each committed batch of an amoCRM load: its rows' write and the "
                                                 "checkpoint (page and cursor) a load resumes from",
    labels={"entity": "Entity", "batch": "Batch", "write_id": "Write", "load_id": "Load", "mode": "Full or changes",
            "page": "Last page", "cursor_updated_at": "Cursor: changed at", "cursor_id": "Cursor: id",
            "window_page": "Next page from the cursor", "since": "Changes since",
            "done": "Load finished", "reported": "Entities the API reported", "rows": "New versions",
            "started_at": "Load started at (UTC)", "committed_at": "Committed at (UTC)", "committed_by": "By"})

LEDGER = Ledger(CHECKPOINTS, stamp="committed_at", prefix="crm")

ENTITY_TABLES = (LEADS, CONTACTS, COMPANIES, USERS, STATUSES)
CRM_TABLES = (*ENTITY_TABLES, CHECKPOINTS)


def ensure_tables(writer: Database) -> None:
    for spec in CRM_TABLES:
        writer.create_table(spec)

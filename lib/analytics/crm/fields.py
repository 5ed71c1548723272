"""amoCRM entities flattened into the rows of the ``crm_*`` tables (contracts §3.3, §3.5).

Custom fields are identified by ``field_code`` (``PHONE``, ``EMAIL``), never by ``field_name``, which is
localised. The tax id has no standard code: a field coded ``INN``, or named "ИНН"/"INN", is taken. Values of
multitext fields carry their kind as ``enum`` in the API's examples and ``enum_code`` in the official PHP
library's reading, so both are accepted (the kind is not stored: the first value is the one reports show).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any

EPOCH = dt.datetime(1970, 1, 1)
INN_NAMES = {"инн", "inn"}


def moment(seconds: Any) -> dt.datetime:
    """A Unix time of the API (seconds, or null) as a naive UTC datetime; null is the epoch, ClickHouse's zero."""
    return EPOCH + dt.timedelta(seconds=int(seconds or 0))


def custom_values(entity: Mapping[str, Any], code: str, names: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
    """Every value of the custom field with this ``field_code`` (or one of these lower-case names), in order."""
    found: list[str] = []
    for item in entity.get("custom_fields_values") or []:
        item_code = str(item.get("field_code") or "").upper()
        item_name = str(item.get("field_name") or "").strip().lower()
        if item_code == code or (names and item_name in names):
            found += [str(value.get("value", "")).strip() for value in item.get("values") or []
                      if str(value.get("value", "")).strip()]
    return found


def value_kind(value: Mapping[str, Any]) -> str:
    """The kind of one multitext value ("WORK", "MOB"…), under either key amoCRM uses for it."""
    return str(value.get("enum_code") or value.get("enum") or "")


def _first_linked(entity: Mapping[str, Any], key: str, *, main: bool = False) -> int:
    linked = (entity.get("_embedded") or {}).get(key) or []
    if main:
        linked = sorted(linked, key=lambda item: not item.get("is_main"))
    return int(linked[0]["id"]) if linked else 0


def _loss_reason(lead: Mapping[str, Any]) -> str:
    reasons = (lead.get("_embedded") or {}).get("loss_reason") or []
    if isinstance(reasons, dict):
        reasons = [reasons]
    return str(reasons[0].get("name", "")) if reasons else ""


def lead_row(lead: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": int(lead["id"]), "updated_at": moment(lead.get("updated_at")), "name": str(lead.get("name") or ""),
            "price": int(lead.get("price") or 0), "pipeline_id": int(lead.get("pipeline_id") or 0),
            "status_id": int(lead.get("status_id") or 0), "responsible_user_id": int(lead.get("responsible_user_id") or 0),
            "created_at": moment(lead.get("created_at")), "closed_at": moment(lead.get("closed_at")),
            "loss_reason": _loss_reason(lead), "contact_id": _first_linked(lead, "contacts", main=True),
            "company_id": _first_linked(lead, "companies"), "is_deleted": int(bool(lead.get("is_deleted")))}


def _reachable(entity: Mapping[str, Any]) -> dict[str, Any]:
    phones, emails = custom_values(entity, "PHONE"), custom_values(entity, "EMAIL")
    return {"phone": phones[0] if phones else "", "phones": "; ".join(phones),
            "email": emails[0].lower() if emails else "", "emails": "; ".join(email.lower() for email in emails)}


def contact_row(contact: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": int(contact["id"]), "updated_at": moment(contact.get("updated_at")),
            "name": str(contact.get("name") or ""), "responsible_user_id": int(contact.get("responsible_user_id") or 0),
            "created_at": moment(contact.get("created_at")), **_reachable(contact),
            "company_id": _first_linked(contact, "companies"), "is_deleted": int(bool(contact.get("is_deleted")))}


def company_row(company: Mapping[str, Any]) -> dict[str, Any]:
    inns = custom_values(company, "INN", INN_NAMES)
    return {"id": int(company["id"]), "updated_at": moment(company.get("updated_at")),
            "name": str(company.get("name") or ""), "responsible_user_id": int(company.get("responsible_user_id") or 0),
            "created_at": moment(company.get("created_at")), **_reachable(company), "inn": inns[0] if inns else "",
            "is_deleted": int(bool(company.get("is_deleted")))}


def fingerprint(row: Mapping[str, Any]) -> str:
    """What tells two versions of an entity without ``updated_at`` apart: a hash of the fields stored."""
    return hashlib.sha256(json.dumps(row, sort_keys=True, default=str, ensure_ascii=False).encode()).hexdigest()[:16]


def user_row(user: Mapping[str, Any], seen_at: dt.datetime) -> dict[str, Any]:
    rights = user.get("rights") or {}
    row = {"id": int(user["id"]), "name": str(user.get("name") or ""), "email": str(user.get("email") or "").lower(),
           "is_active": int(bool(rights.get("is_active", True))), "is_admin": int(bool(rights.get("is_admin"))),
           "is_deleted": 0}
    return {**row, "fingerprint": fingerprint(row), "updated_at": seen_at}


def status_rows(pipeline: Mapping[str, Any], seen_at: dt.datetime) -> list[dict[str, Any]]:
    rows = []
    for status in (pipeline.get("_embedded") or {}).get("statuses") or []:
        row = {"id": int(status["id"]), "pipeline_id": int(pipeline["id"]), "name": str(status.get("name") or ""),
               "sort": int(status.get("sort") or 0), "type": int(status.get("type") or 0),
               "pipeline_name": str(pipeline.get("name") or ""), "pipeline_sort": int(pipeline.get("sort") or 0),
               "is_main": int(bool(pipeline.get("is_main"))), "is_deleted": 0}
        rows.append({**row, "fingerprint": fingerprint(row), "updated_at": seen_at})
    return rows

"""amoCRM entities flattened into rows (contracts §3.3, §3.5): custom fields by code, either enum key, INN by name."""

from __future__ import annotations

import datetime as dt

from analytics.crm import fields

CONTACT = {
    "id": 7, "name": "Анна", "updated_at": 1_760_000_100, "created_at": 1_760_000_000, "responsible_user_id": 3,
    "custom_fields_values": [
        {"field_id": 1, "field_name": "Телефон", "field_code": "PHONE", "field_type": "multitext",
         "values": [{"value": " +7 912 345-67-89 ", "enum": "WORK"}, {"value": "89001234567", "enum_code": "MOB"}]},
        {"field_id": 2, "field_name": "Email", "field_code": "EMAIL", "field_type": "multitext",
         "values": [{"value": "Anna@Example.RU", "enum_code": "PRIV"}]},
        {"field_id": 3, "field_name": "Телефон", "field_code": None, "values": [{"value": "not the phone field"}]},
    ],
    "_embedded": {"companies": [{"id": 55}]},
}


def test_phone_and_email_come_from_their_field_code_whichever_key_holds_the_kind() -> None:
    row = fields.contact_row(CONTACT)
    assert row["phone"] == "+7 912 345-67-89" and row["phones"] == "+7 912 345-67-89; 89001234567"
    assert row["email"] == "anna@example.ru" and row["company_id"] == 55
    assert row["updated_at"] == dt.datetime(2025, 10, 9, 8, 55)
    assert [fields.value_kind(value) for value in CONTACT["custom_fields_values"][0]["values"]] == ["WORK", "MOB"]


def test_a_company_inn_is_found_by_its_russian_name_and_null_fields_are_empty() -> None:
    company = {"id": 1, "name": "ООО Ромашка", "updated_at": 1, "custom_fields_values": [
        {"field_id": 9, "field_name": "ИНН", "field_code": None, "values": [{"value": "7707083893"}]}]}
    row = fields.company_row(company)
    assert row["inn"] == "7707083893" and row["phone"] == "" and row["created_at"] == fields.EPOCH
    assert fields.company_row({"id": 2, "custom_fields_values": None})["inn"] == ""


def test_a_lead_keeps_its_main_contact_its_company_and_its_loss_reason() -> None:
    lead = {"id": 5, "status_id": 143, "pipeline_id": 2, "price": None, "closed_at": None, "updated_at": 10,
            "_embedded": {"contacts": [{"id": 1, "is_main": False}, {"id": 2, "is_main": True}],
                          "companies": [{"id": 9}], "loss_reason": [{"id": 4, "name": "Дорого"}]}}
    row = fields.lead_row(lead)
    assert (row["contact_id"], row["company_id"], row["loss_reason"], row["price"]) == (2, 9, "Дорого", 0)
    assert fields.lead_row({"id": 6, "updated_at": 1, "is_deleted": True})["is_deleted"] == 1


def test_a_manager_or_a_stage_changes_version_only_when_what_is_stored_changes() -> None:
    seen = dt.datetime(2026, 12, 1)
    user = {"id": 1, "name": "Иван", "email": "ivan@x.ru", "rights": {"is_active": True, "is_admin": False}}
    same, renamed = fields.user_row(user, seen), fields.user_row({**user, "name": "Иван П."}, seen + dt.timedelta(1))
    assert fields.user_row(user, seen + dt.timedelta(2))["fingerprint"] == same["fingerprint"] != renamed["fingerprint"]
    pipeline = {"id": 3, "name": "Продажи", "sort": 1, "is_main": True,
                "_embedded": {"statuses": [{"id": 142, "name": "Успешно", "sort": 10000, "type": 0}]}}
    [status] = fields.status_rows(pipeline, seen)
    assert (status["pipeline_id"], status["id"], status["pipeline_name"], status["is_main"]) == (3, 142, "Продажи", 1)

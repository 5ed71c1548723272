"""Table and column names of the warehouse, in one place.

Reports and the demo generator both read this catalog; a real deployment points the
same reports at its own ClickHouse, so these names are the only coupling to it. The
catalog also lets a report refuse an unknown column before anything reaches the database.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..db.sql import Identifier, identifier
from ..db.tables import TableSpec

WAREHOUSE: dict[str, TableSpec] = {spec.name: spec for spec in [
    TableSpec("partners", {
        "partner_id": "UInt32", "name": "String", "category": "String", "is_active": "UInt8", "created_at": "Date",
    }, order_by=("partner_id",), description="Partners whose loyalty cards live in the app",
       labels={"partner_id": "Partner ID", "name": "Partner", "category": "Category", "is_active": "Active",
               "created_at": "Joined on"}),
    TableSpec("users", {
        "user_id": "UInt64", "amplitude_id": "UInt64", "registered_at": "DateTime", "gender": "String",
        "birth_year": "UInt16", "device_model": "String", "os": "String", "carrier": "String", "region": "String",
        "push_enabled": "UInt8",
    }, order_by=("user_id",), description="App users",
       labels={"user_id": "User ID", "amplitude_id": "Amplitude ID", "registered_at": "Registered at", "gender": "Gender",
               "birth_year": "Year of birth", "device_model": "Device model", "os": "Operating system",
               "carrier": "Mobile carrier", "region": "Region", "push_enabled": "Pushes allowed"}),
    TableSpec("cards", {
        "card_id": "UInt64", "user_id": "UInt64", "partner_id": "UInt32", "card_number": "String",
        "barcode": "String", "origin": "String", "issued_at": "DateTime", "added_at": "DateTime",
        "deleted_at": "Nullable(DateTime)",
    }, order_by=("partner_id", "added_at"), description="Loyalty cards users added to the app",
       labels={"card_id": "Card ID", "user_id": "User ID", "partner_id": "Partner ID", "card_number": "Card number",
               "barcode": "Barcode", "origin": "Plastic or virtual", "issued_at": "Issued at",
               "added_at": "Added to the app at", "deleted_at": "Deleted at"}),
    TableSpec("events", {
        "event_time": "DateTime", "event_date": "Date", "user_id": "UInt64", "event": "String",
        "partner_id": "UInt32", "scenario": "String", "step": "UInt8", "error_code": "String",
        "platform": "String", "app_version": "String",
    }, order_by=("event_date", "event", "user_id"), partition_by="event_date", description="App events",
       labels={"event_time": "Time", "event_date": "Day", "user_id": "User ID", "event": "Event",
               "partner_id": "Partner ID", "scenario": "Scenario", "step": "Scenario step", "error_code": "Error code",
               "platform": "Platform", "app_version": "App version"}),
    TableSpec("pushes", {
        "push_id": "UInt64", "sub_id": "String", "partner_id": "UInt32", "title": "String", "created_at": "DateTime",
    }, order_by=("push_id",), description="Push notifications sent",
       labels={"push_id": "Push ID", "sub_id": "Sub ID", "partner_id": "Partner ID", "title": "Title",
               "created_at": "Created at"}),
    TableSpec("push_deliveries", {
        "push_id": "UInt64", "user_id": "UInt64", "sent_at": "DateTime", "delivered_at": "Nullable(DateTime)",
        "opened_at": "Nullable(DateTime)",
    }, order_by=("push_id", "user_id"), description="Who received and who opened each push",
       labels={"push_id": "Push ID", "user_id": "User ID", "sent_at": "Sent at", "delivered_at": "Delivered at",
               "opened_at": "Opened at"}),
    TableSpec("experiment_assignments", {
        "experiment": "String", "user_id": "UInt64", "variant": "String", "assigned_at": "DateTime",
    }, order_by=("experiment", "user_id"), description="A/B test groups",
       labels={"experiment": "Experiment", "user_id": "User ID", "variant": "Group", "assigned_at": "Assigned at"}),
]}

# Ground truth written beside the demo data, so monitoring and A/B summaries can be scored.
DEMO_TRUTH: dict[str, TableSpec] = {spec.name: spec for spec in [
    TableSpec("demo_anomalies", {
        "anomaly_id": "UInt32", "kind": "String", "event": "String", "scenario": "String", "step": "UInt8",
        "start_date": "Date", "end_date": "Date", "factor": "Float64", "description": "String",
    }, order_by=("anomaly_id",), description="Anomalies injected into the demo events"),
    TableSpec("demo_experiment_effects", {
        "experiment": "String", "event": "String", "relative_effect": "Float64", "description": "String",
    }, order_by=("experiment", "event"), description="True effects of the demo experiments per event"),
]}


def spec(table: str) -> TableSpec:
    """The catalog entry of a warehouse table; refused with the list of known tables if unknown."""
    known = {**WAREHOUSE, **DEMO_TRUTH}
    return known[identifier(table, known, kind="table")]


def column(table: str, name: str) -> Identifier:
    """A checked column of a warehouse table, without asking the database."""
    return identifier(name, spec(table).columns, table=table)


def columns(table: str, names: Iterable[str]) -> list[Identifier]:
    return [column(table, name) for name in names]

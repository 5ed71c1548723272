"""The warehouse: its catalog of tables and columns, and the demo data generator."""

from .schema import DEMO_TRUTH, WAREHOUSE, TableSpec, column, columns, spec

__all__ = ["DEMO_TRUTH", "WAREHOUSE", "TableSpec", "column", "columns", "spec"]

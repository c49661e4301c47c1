"""The engine the dbt layer runs on, and what a dbt step does around it.

On DuckDB (the default) dbt builds into the warehouse file and nothing more is needed. On
Spark (LIFECYCLE_DBT_TARGET=spark) dbt reads the lake instead: before each build the
warehouse's own tables that models read (the gates' holds, quarantine, the publish history,
the churn model's fits) are copied there with the lake's catalog (ingest/lake_catalog.py);
after it, each table dbt built becomes a view in the warehouse over Spark's Parquet
(spark_output.py). The churn model, the audience gate, publishing and serving then read
Spark's output as they read DuckDB's, without a copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import duckdb
from dagster import ConfigurableResource
from pydantic import Field

from orchestration.ingest.lake_catalog import export_catalog
from orchestration.spark_output import spark_table_folder, spark_table_source


class DbtEngine(ConfigurableResource):
    target: str = Field(default="duckdb", description="dbt's target (LIFECYCLE_DBT_TARGET).")
    lake_dir: str = Field(default="", description="The lake Spark reads (LIFECYCLE_LAKE_DIR).")
    spark_dir: str = Field(
        default="", description="A local Spark session's tables (LIFECYCLE_SPARK_DIR)."
    )

    @property
    def on_spark(self) -> bool:
        return self.target == "spark"

    def dbt_vars(self) -> dict[str, Any]:
        """What profiles.yml and the sources' macro read on this engine (absolute paths: the
        Spark session resolves relative ones against dbt's working directory)."""
        if not self.on_spark:
            return {}
        return {
            "lake_dir": str(Path(self.lake_dir).resolve()),
            "spark_dir": str(Path(self.spark_dir).resolve()),
        }

    def before_build(self, con: duckdb.DuckDBPyConnection) -> list[str]:
        """On Spark, the warehouse's tables to the lake; the tables the lake lists."""
        if not self.on_spark:
            return []
        return sorted(export_catalog(con, Path(self.lake_dir)))

    def after_build(
        self,
        con: duckdb.DuckDBPyConnection,
        relations: Iterable[tuple[str, str]],
        declared: Mapping[tuple[str, str], list[tuple[str, str]]],
    ) -> list[str]:
        """On Spark, each (schema, table) dbt built as a view over its Parquet; the ones
        Spark left without a file (a partitioned table with no rows), which become empty
        tables of the columns the warehouse knew them by, else of their `declared` ones
        (the dbt columns with a data_type)."""
        if not self.on_spark:
            return []
        spark = Path(self.spark_dir).resolve()
        empty = []
        for schema, table in relations:
            con.execute(f"create schema if not exists {schema}")
            columns = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, table],
            ).fetchall()
            kind = con.execute(
                "select table_type from information_schema.tables "
                "where table_schema = ? and table_name = ?",
                [schema, table],
            ).fetchall()
            if kind:
                con.execute(f"drop {'view' if kind[0][0] == 'VIEW' else 'table'} {schema}.{table}")
            if any(spark_table_folder(spark, schema, table).rglob("*.parquet")):
                source = spark_table_source(spark, schema, table)
                con.execute(f"create view {schema}.{table} as select * from {source}")
            else:
                empty.append(f"{schema}.{table}")
                columns = columns or declared.get((schema, table), [])
                if columns:
                    listed = ", ".join(f'"{name}" {data_type}' for name, data_type in columns)
                    con.execute(f"create table {schema}.{table} ({listed})")
        return empty


def declared_columns(manifest: Mapping[str, Any]) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(schema, table) -> its columns and types, for the models whose yml gives every
    column a data_type."""
    declared = {}
    for node in manifest.get("nodes", {}).values():
        columns = [(c["name"], c.get("data_type")) for c in node.get("columns", {}).values()]
        if node.get("resource_type") == "model" and columns and all(t for _, t in columns):
            declared[(node["schema"], node["alias"])] = columns
    return declared

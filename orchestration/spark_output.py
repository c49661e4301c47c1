"""Where the dbt layer on Spark leaves its tables, and how DuckDB reads them.

A local Spark session (profiles.yml, target `spark`) keeps each table as Parquet under
`<LIFECYCLE_SPARK_DIR>/warehouse/<schema>.db/<table>/`, partitioned tables in Hive-style
folders: DuckDB reads them as they are, so the steps after dbt (the churn model, the
audience gate, publishing, serving) read Spark's output without a copy.
"""

from __future__ import annotations

from pathlib import Path


def spark_table_folder(spark_dir: Path, schema: str, table: str) -> Path:
    return spark_dir / "warehouse" / f"{schema}.db" / table


def spark_table_source(spark_dir: Path, schema: str, table: str) -> str:
    """A DuckDB table function reading the Spark table `schema.table`'s files."""
    folder = str(spark_table_folder(spark_dir, schema, table)).replace("'", "''")
    return f"read_parquet('{folder}/**/*.parquet', hive_partitioning = true)"

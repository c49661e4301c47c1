"""The models' SQL is portable: what dbt compiles for DuckDB parses as Snowflake, BigQuery,
Trino and Spark SQL, calls only functions those engines know, uses its operators in the same
meaning there, and transpiles to each without a construct sqlglot knows the engine lacks. SQL
that only DuckDB runs, or runs differently elsewhere, is caught here, before a user moves the
dbt layer to another engine.

Engine-specific SQL lives in this project's dispatched macros (an `<adapter>__` version beside
the `duckdb__` and `default__` ones, the latter PostgreSQL's), never in a model: the
functions those macros emit for DuckDB are the known exceptions below, each with where it
comes from, and the test checks that no model calls them itself.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from orchestration.dbt_project import DBT_EXECUTABLE, dbt_project
from tests.conftest import BASE_END, BaseRun

DIALECTS = ("snowflake", "bigquery", "trino", "spark")
# Functions only the DuckDB versions of this project's dispatched macros emit. A new engine
# that lacks one gets its own version of the macro; the models stay as they are.
MACRO_FUNCTIONS = {
    "timezone": "timezone(zone, timestamp): macros/timestamps.sql and run_date.sql "
    "(PostgreSQL's version: `at time zone`)",
    "now": "the current moment, when run_at or run_date is not given: macros/run_date.sql",
    "try_strptime": "DuckDB's parse of a timestamp in several formats: "
    "macros/timestamps.sql (parse_utc_timestamp)",
    "to_timestamp": "epoch seconds or a formatted text to a timestamp: macros/timestamps.sql",
    "make_date": "a date from year, month and day: macros/date_from_parts.sql",
}


@pytest.fixture(scope="module")
def compiled_models(base_run: BaseRun, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every model compiled against a built warehouse (copied), so that the incremental
    models compile the SQL of their incremental runs, as the daily job runs it."""
    folder = tmp_path_factory.mktemp("compile")
    warehouse = shutil.copy(base_run.warehouse, folder / "warehouse.duckdb")
    done = subprocess.run(
        [
            DBT_EXECUTABLE, "compile", "--quiet", "--select", "resource_type:model",
            "--project-dir", str(dbt_project.project_dir),
            "--profiles-dir", str(dbt_project.profiles_dir),
            "--target-path", str(folder / "target"),
            "--vars", json.dumps({"run_date": BASE_END.isoformat()}),
        ],
        env={**os.environ, "LIFECYCLE_WAREHOUSE_PATH": str(warehouse)},
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    manifest = json.loads((folder / "target" / "manifest.json").read_text())
    models = {
        node["name"]: node["compiled_code"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node.get("compiled_code")
    }
    assert len(models) >= 35
    return models


def _unknown_functions(sql: str, dialect: str) -> set[str]:
    """Functions the dialect's parser does not know (sqlglot keeps them as Anonymous)."""
    return {
        f.name.lower()
        for tree in sqlglot.parse(sql, read=dialect)
        for f in tree.find_all(exp.Anonymous)
    }


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_model_parses_with_known_functions(compiled_models: dict, dialect: str) -> None:
    unknown: dict[str, set[str]] = defaultdict(set)
    for name, sql in compiled_models.items():
        for function in _unknown_functions(sql, dialect) - MACRO_FUNCTIONS.keys():
            unknown[function].add(name)
    assert not unknown, f"functions {dialect} does not know: {dict(unknown)}"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_model_transpiles_without_unsupported_constructs(
    compiled_models: dict, dialect: str
) -> None:
    for name, sql in compiled_models.items():
        # Raises UnsupportedError on a construct sqlglot knows the engine cannot express.
        for statement in sqlglot.transpile(
            sql, read="duckdb", write=dialect, unsupported_level=ErrorLevel.RAISE
        ):
            assert sqlglot.parse_one(statement, read=dialect) is not None, name


def _operators(sql: str, dialect: str) -> Counter:
    """The binary operators of the SQL as the dialect reads it (sqlglot reads Snowflake's
    `not x in (subquery)` as the equivalent `x <> all (subquery)`: not counted)."""
    return Counter(
        type(node).__name__
        for tree in sqlglot.parse(sql, read=dialect)
        for node in tree.walk()
        if isinstance(node, exp.Binary)
        and not (isinstance(node, exp.NEQ) and isinstance(node.expression, exp.All))
    )


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_operator_means_the_same_on_each_engine(compiled_models: dict, dialect: str):
    """Text that parses everywhere but means something else: DuckDB's `^` is a power, the
    others' a bitwise XOR (so power() is written out)."""
    for name, sql in compiled_models.items():
        duckdb_reading, other_reading = _operators(sql, "duckdb"), _operators(sql, dialect)
        assert duckdb_reading == other_reading, (
            name,
            dict(duckdb_reading - other_reading),
            dict(other_reading - duckdb_reading),
        )


def test_the_known_exceptions_are_needed_and_only_in_macros(compiled_models: dict) -> None:
    used = set()
    for sql in compiled_models.values():
        for dialect in DIALECTS:
            used |= _unknown_functions(sql, dialect)
    # A listed function no engine lacks any more is no exception: take it off the list.
    assert set(MACRO_FUNCTIONS) <= used, set(MACRO_FUNCTIONS) - used
    models = Path(dbt_project.project_dir, "models")
    for path in models.rglob("*.sql"):
        source = path.read_text()
        for function in MACRO_FUNCTIONS:
            called = re.search(rf"\b{function}\s*\(", source, re.IGNORECASE)
            assert not called, f"{path.name} calls {function}: use its macro"

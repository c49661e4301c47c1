"""What the Dagster UI says about dbt nodes: the project's own words, no raw SQL.

dagster-dbt's default puts a model's raw SQL under its description, so every catalog summary
ends in "#### Raw SQL" (the SQL is one click away, in the code reference and the dbt docs).
It also gives a dbt test's check no description unless `meta.description` is set. Here a
check says what it asserts: the test's own `description`, a singular test's leading comment,
or a sentence made from a generic test's arguments.
"""

import re
from collections.abc import Mapping
from typing import Any

_REF = re.compile(r"ref\(\s*['\"]([^'\"]+)['\"]\s*\)")


def node_description(props: Mapping[str, Any]) -> str:
    """A model, seed or source's description, or what it is when it has none."""
    return props.get("description") or f"dbt {props['resource_type']} {props['name']}"


def _values(values: list) -> str:
    # Hand-quoted values ("'Champions'", "'Can''t Lose Them'") read as the names they are.
    shown = [str(v)[1:-1].replace("''", "'") if str(v).startswith("'") else str(v) for v in values]
    return ", ".join(shown)


def _generic(name: str, kwargs: Mapping[str, Any], column: str | None) -> str | None:
    col = f"`{column}`" if column else "each row"
    if name == "not_null":
        return f"{col} is never null."
    if name == "unique":
        return f"No two rows share a {col}."
    if name == "accepted_values":
        return f"{col} is one of: {_values(kwargs.get('values', []))} (or null)."
    if name == "relationships":
        found = _REF.search(str(kwargs.get("to", "")))
        target = found.group(1) if found else kwargs.get("to")
        return f"Every {col} is a `{kwargs.get('field')}` of {target}."
    if name == "unique_combination_of_columns":
        return f"No two rows share the same ({', '.join(kwargs.get('columns', []))})."
    if name == "not_suppressed":
        return (
            f"No {col} is on the suppression list, for all marketing mail or for the "
            "audience's unsubscribe group: a suppressed contact is never in an audience."
        )
    return None


def _leading_comment(sql: str) -> str | None:
    lines = []
    for line in sql.strip().splitlines():
        if not line.startswith("--"):
            break
        lines.append(line.removeprefix("--").strip())
    return " ".join(lines) or None


def check_description(test: Mapping[str, Any]) -> str:
    """What a dbt test asserts, in a sentence or two."""
    if test.get("description"):
        return test["description"]
    meta = test.get("test_metadata") or {}
    if meta:
        said = _generic(meta["name"], meta.get("kwargs", {}), test.get("column_name"))
        if said:
            return said
        arguments = {k: v for k, v in meta.get("kwargs", {}).items() if k != "model"}
        return f"dbt test {meta['name']} with {arguments}."
    return _leading_comment(test.get("raw_code", "")) or f"dbt test {test['name']}."

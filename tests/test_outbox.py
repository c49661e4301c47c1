"""The outbox's files as people and programs open them: a CSV opened in a spreadsheet must not
run what a contact typed into a field; the JSON next to it keeps every value as it is."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from orchestration.publish.adapters import Batch, Member, OutboxAdapter

FORMULAS = {
    "a@example.com": '=HYPERLINK("http://x","y")',
    "b@example.com": "+1",
    "c@example.com": "-2",
    "d@example.com": "@SUM(1)",
    "e@example.com": "\t=1+1",
    "f@example.com": "\r=1+1",
}


def _send(root: Path, members: tuple[Member, ...]) -> tuple[list[dict], dict]:
    batch = Batch("b-1", "aud", "List", "run-1", 1, "add", members)
    OutboxAdapter(root).send(batch)
    folder = root / "aud" / "run-1"
    with (folder / "adds-00001.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    document = json.loads((folder / "adds-00001.json").read_text(encoding="utf-8"))
    return rows, document


def test_csv_cells_that_a_spreadsheet_would_run_open_as_text_and_json_keeps_them(
    tmp_path: Path,
) -> None:
    members = tuple(
        Member(email, {"first_name": name, "order_count": 3}) for email, name in FORMULAS.items()
    )
    rows, document = _send(tmp_path, members)
    cells = {row["email"]: row["first_name"] for row in rows}
    assert cells == {email: f"'{name}" for email, name in FORMULAS.items()}
    assert {row["order_count"] for row in rows} == {"3"}  # numbers are not formulas
    raw = {m["email"]: m["first_name"] for m in document["members"]}
    assert raw == FORMULAS  # the JSON is data: the value as the audience holds it


def test_plain_values_and_addresses_are_written_unchanged(tmp_path: Path) -> None:
    members = (
        Member("ann@example.com", {"first_name": "Ann", "cart_total": -5}),
        Member("=cmd@example.com", {"first_name": "Bo-Ann", "cart_total": 2}),
    )
    rows, document = _send(tmp_path, members)
    assert [(r["email"], r["first_name"], r["cart_total"]) for r in rows] == [
        ("ann@example.com", "Ann", "-5"),
        # An address cannot validly start with `=`; if one does, it is neutralised too.
        ("'=cmd@example.com", "Bo-Ann", "2"),
    ]
    assert [m["email"] for m in document["members"]] == ["ann@example.com", "=cmd@example.com"]

"""Where audiences go: one small interface for every target, and the outbox that needs no ESP.

The sync engine hands an adapter one batch at a time and advances its state only for the
members the adapter confirms. `send` must be idempotent per `batch_id`: after a crash the
engine sends an unconfirmed batch again, with the same id and members, and a target that
already has it must not apply it twice.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

Action = Literal["add", "remove", "update"]
# What makes a spreadsheet read a cell as a formula (OWASP, CSV injection): `=HYPERLINK(...)`
# typed into a sign-up form's name field must open as text in Excel or Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Member:
    email: str
    attributes: dict[str, Any]


@dataclass(frozen=True)
class Batch:
    batch_id: str
    audience: str
    list_name: str
    plan_id: str  # the run that planned the batch
    seq: int
    action: Action
    members: tuple[Member, ...]


# A failed member's reason when the target says it cannot be mailed: `esp_status: <status>`.
# `publish.member_failures` keeps it; the statuses below (the ESP's own opt-outs and
# suppressions, in one vocabulary for every ESP) feed marts.suppressions. Any other status
# (Mailchimp's `pending`, `transactional`) only keeps the member unpublished.
ESP_STATUS = "esp_status"
# Characters of an ESP's own words kept in a member's failure reason (scrubbed first).
REASON_LIMIT = 500
SUPPRESSING_STATUSES = ("unsubscribed", "cleaned", "complained", "suppressed")


def esp_status(status: str) -> str:
    """The failure reason for a member the ESP reports as `status` (not mailable)."""
    return f"{ESP_STATUS}: {status}"


@dataclass(frozen=True)
class BatchResult:
    confirmed: tuple[str, ...]
    failed: dict[str, str] = field(default_factory=dict)  # email -> why


class Adapter(Protocol):
    name: str
    max_batch: int

    def send(self, batch: Batch) -> BatchResult: ...

    def finish(self, audience: str, plan_id: str, summary: dict[str, Any]) -> None:
        """Called once a plan's batches are all confirmed (for example, to write a manifest)."""


def spreadsheet_safe(value: Any) -> Any:
    """A text that a spreadsheet would run, prefixed with `'` so it opens as text; anything
    else unchanged (a number we write is a number, never a formula)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return f"'{value}"
    return value


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8", newline="")  # the text's own line ends, as written
    tmp.replace(path)


class OutboxAdapter:
    """Files per audience and run: `<root>/<audience>/<plan_id>/<action>s-<seq>.csv|.json` and a
    `manifest.json`, each written to a temporary name and renamed, so a reader never sees a
    half-written file and a resent batch finds its files already there. CSV cells that a
    spreadsheet would run as a formula are neutralised (`spreadsheet_safe`); the JSON holds
    every value as it is."""

    name = "outbox"

    def __init__(self, root: Path, max_batch: int = 50_000) -> None:
        self.root = Path(root)
        self.max_batch = max_batch

    def _folder(self, audience: str, plan_id: str) -> Path:
        return self.root / audience / plan_id

    def send(self, batch: Batch) -> BatchResult:
        folder = self._folder(batch.audience, batch.plan_id)
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{batch.action}s-{batch.seq:05d}"
        csv_path, json_path = folder / f"{stem}.csv", folder / f"{stem}.json"
        if not (csv_path.exists() and json_path.exists()):
            rows = [{"email": m.email, **m.attributes} for m in batch.members]
            columns = list(dict.fromkeys(k for row in rows for k in row))
            buffer = io.StringIO()
            # CRLF rows (RFC 4180): the writer then quotes a value holding a carriage return,
            # which would otherwise end the row and start the next with the rest of the value
            # (`\r=1+1` would become a cell `=1+1` on a row of its own).
            writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\r\n")
            writer.writeheader()
            writer.writerows({k: spreadsheet_safe(v) for k, v in row.items()} for row in rows)
            _write_atomically(csv_path, buffer.getvalue())
            document = {"batch_id": batch.batch_id, "list": batch.list_name, "members": rows}
            _write_atomically(json_path, json.dumps(document, default=str, indent=1) + "\n")
        return BatchResult(confirmed=tuple(m.email for m in batch.members))

    def finish(self, audience: str, plan_id: str, summary: dict[str, Any]) -> None:
        folder = self._folder(audience, plan_id)
        folder.mkdir(parents=True, exist_ok=True)
        files = sorted(p.name for p in folder.iterdir() if p.suffix in (".csv", ".json"))
        manifest = {**summary, "files": [f for f in files if f != "manifest.json"]}
        _write_atomically(folder / "manifest.json", json.dumps(manifest, default=str, indent=2))

"""One sample shop written source by source through one DuckDB connection, in chunks."""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import numpy as np

from orchestration.sample.catalog import Catalog
from orchestration.sample.email_events import Campaigns, EmailEvents
from orchestration.sample.landing.checkouts import load_checkouts, write_checkouts
from orchestration.sample.landing.contacts import write_contacts
from orchestration.sample.landing.email_events import (
    load_campaigns,
    load_events,
    write_email_events,
)
from orchestration.sample.landing.orders import load_orders, write_orders
from orchestration.sample.landing.reference import load_reference
from orchestration.sample.landing.shared import define_macros
from orchestration.sample.orders import Checkouts, Orders
from orchestration.sample.params import SampleParams
from orchestration.sample.people import People

ROWS_PER_CHUNK = 1_000_000
SOURCES = ("orders", "checkouts", "email_events", "contacts")


def _chunks(n: int) -> list[tuple[int, range]]:
    """Row ranges small enough for DuckDB's memory limit (list aggregation does not spill)."""
    return [
        (i, range(lo, min(lo + ROWS_PER_CHUNK, n)))
        for i, lo in enumerate(range(0, max(n, 1), ROWS_PER_CHUNK))
    ]


class LandingWriter:
    """Writes one sample shop, source by source, through one DuckDB connection.

    DuckDB may spill to disk and writes partitions in parallel, so lines within a file come in
    no fixed order; the set of lines in each file is fixed by the seed.
    """

    def __init__(self, out: Path, params: SampleParams, memory_limit: str = "4GB") -> None:
        self.out = out
        self.params = params
        out.mkdir(parents=True, exist_ok=True)
        self._spill = tempfile.TemporaryDirectory(prefix="sample-shop-")
        self.con = duckdb.connect()
        self.con.execute(f"set memory_limit = '{memory_limit}'")
        self.con.execute("set preserve_insertion_order = false")
        self.con.execute(f"set temp_directory = '{self._spill.name}'")
        define_macros(self.con, params)

    def __enter__(self) -> LandingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.con.close()
        self._spill.cleanup()

    def reference(self, catalog: Catalog, people: People, signup_t: np.ndarray) -> None:
        load_reference(self.con, catalog, people, signup_t)

    def orders(self, orders: Orders, rng: np.random.Generator) -> None:
        load_orders(self.con, self.params, orders, rng)
        for chunk, rows in _chunks(orders.size):
            write_orders(self.con, self.params, self.out, chunk, rows)

    def checkouts(self, checkouts: Checkouts, rng: np.random.Generator) -> None:
        load_checkouts(self.con, self.params, checkouts, rng)
        for chunk, rows in _chunks(checkouts.size):
            write_checkouts(self.con, self.params, self.out, chunk, rows)

    def campaigns(self, campaigns: Campaigns) -> None:
        load_campaigns(self.con, campaigns)

    def email_events(
        self, events: EmailEvents, chunk: int, send_base: int, event_base: int,
        rng: np.random.Generator,
    ) -> None:  # fmt: skip
        load_events(self.con, self.params, events, send_base, event_base, rng)
        write_email_events(self.con, self.params, self.out, chunk)
        self.con.execute("drop table events_raw")
        self.con.execute("drop table sends")

    def contacts(
        self, unsubscribed_t: np.ndarray, resubscribed_t: np.ndarray, rng: np.random.Generator
    ) -> None:
        write_contacts(self.con, self.params, self.out, unsubscribed_t, resubscribed_t, rng)

    def count_lines(self) -> dict[str, int]:
        counts = {}
        for source in SOURCES:
            ext = "csv" if source == "contacts" else "jsonl"
            reader = "read_csv" if source == "contacts" else "read_json"
            counts[source] = self.con.execute(
                f"select count(*) from {reader}('{self.out / source}/*/*.{ext}*', "
                "hive_partitioning = false)"
            ).fetchall()[0][0]
        return counts

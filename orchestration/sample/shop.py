"""Builds the whole sample shop from one seed and writes it to a landing folder."""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from orchestration.sample.catalog import build_catalog
from orchestration.sample.email_events import build_campaigns, build_email_events
from orchestration.sample.landing.writer import LandingWriter
from orchestration.sample.orders import build_checkouts, build_orders
from orchestration.sample.params import SampleParams
from orchestration.sample.people import DAY, People, build_people
from orchestration.sample.purchases import order_times

MANIFEST_NAME = "_sample_shop.json"
CONTACTS_PER_CHUNK = 200_000


@dataclass(frozen=True)
class SampleSummary:
    """What was written: the landing folder, its days and the lines per source."""

    landing_dir: Path
    first_day: dt.date
    last_day: dt.date
    lines: dict[str, int]
    seconds: float

    def to_json(self, params: SampleParams) -> str:
        return json.dumps(
            {
                "params": asdict(params),
                "first_day": self.first_day.isoformat(),
                "last_day": self.last_day.isoformat(),
                "lines": self.lines,
            },
            indent=2,
            default=str,  # dates
        )


def _signup_times(
    people: People, buyer: np.ndarray, t: np.ndarray, horizon: int, rng: np.random.Generator
) -> np.ndarray:
    """Buyers sign up at their first order (some earlier, as subscribers); prospects any day."""
    signup = rng.integers(0, horizon, size=people.size)
    first_order = np.full(people.size, np.iinfo(np.int64).max)
    np.minimum.at(first_order, buyer, t)
    has_order = first_order < np.iinfo(np.int64).max
    signup[has_order] = np.maximum(
        first_order[has_order] - people.early_signup_days[has_order] * DAY, 0
    )
    return signup


def generate_sample_shop(params: SampleParams, landing_dir: Path) -> SampleSummary:
    """Generate the sample shop into `landing_dir`; its source folders are replaced."""
    started = time.perf_counter()
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(params.seed).spawn(8)]
    catalog = build_catalog(streams[0])
    people = build_people(params, streams[1])
    buyer, t = order_times(params, people, streams[2])
    orders = build_orders(people, buyer, t, params.seconds, streams[3])
    signup_t = _signup_times(people, buyer, t, params.seconds, streams[4])
    checkouts = build_checkouts(people, orders, signup_t, params.seconds, streams[5])
    campaigns = build_campaigns(params.start_date.weekday(), params.days, streams[6])
    unsubscribed = np.full(people.size, -1, dtype=np.int64)
    resubscribed = np.full(people.size, -1, dtype=np.int64)
    with LandingWriter(landing_dir, params) as writer:
        writer.reference(catalog, people, signup_t)
        writer.orders(orders, streams[3])
        writer.checkouts(checkouts, streams[5])
        writer.campaigns(campaigns)
        del orders, checkouts
        sends = events_so_far = 0
        # The event stream is the largest part: it is built and written in chunks of contacts,
        # each from its own seeded stream, so memory stays flat at any size.
        for chunk, lo in enumerate(range(0, people.size, CONTACTS_PER_CHUNK)):
            rng = np.random.default_rng([params.seed, 1_000 + chunk])
            span = slice(lo, min(lo + CONTACTS_PER_CHUNK, people.size))
            events = build_email_events(people, signup_t, campaigns, params.seconds, span, rng)
            writer.email_events(events, chunk, sends, events_so_far, rng)
            sends += len(events.send_contact)
            events_so_far += int(events.event_id.max(initial=-1)) + 1
            np.maximum(unsubscribed, events.unsubscribed_t, out=unsubscribed)
            np.maximum(resubscribed, events.resubscribed_t, out=resubscribed)
            del events
        writer.contacts(unsubscribed, resubscribed, streams[7])
        lines = writer.count_lines()
    summary = SampleSummary(
        landing_dir=landing_dir,
        first_day=params.start_date,
        last_day=params.end_date,
        lines=lines,
        seconds=round(time.perf_counter() - started, 2),
    )
    (landing_dir / MANIFEST_NAME).write_text(summary.to_json(params) + "\n")
    return summary

"""The shop's calendar: which day it is, and when a day ends, in the shop's time zone.

Every "today" and every day boundary of the pipeline comes from here, so that a shop in
Los Angeles and one in Berlin each judge their own day, whatever the host's zone is.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def shop_today(shop_timezone: str, now: dt.datetime | None = None) -> dt.date:
    """The shop's date at `now` (default: this moment)."""
    moment = now if now is not None else dt.datetime.now(dt.UTC)
    return moment.astimezone(ZoneInfo(shop_timezone)).date()


def day_end(day: dt.date, shop_timezone: str) -> dt.datetime:
    """The first moment after the shop's `day`, in UTC (midnight at the shop)."""
    midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), ZoneInfo(shop_timezone))
    return midnight.astimezone(dt.UTC)

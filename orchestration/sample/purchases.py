"""When each buyer orders: an NBD-like process with drop-out, comebacks and seasonal buyers.

Times are seconds since local midnight of the first day ("shop seconds"); the landing writer
turns them into timestamps in the shop's time zone.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from orchestration.sample.catalog import CATEGORIES
from orchestration.sample.params import SampleParams
from orchestration.sample.people import DAY, People

# Heavy tail: a gamma shape below 1 gives many one-time buyers and a few very frequent ones.
RATE_SHAPE = 0.55
MEAN_LIFETIME_DAYS = 420.0
COMEBACK_SHARE = 0.15
SEASON_REPEAT_PROBABILITY = 0.85
# Orders by local hour: quiet nights, a lunch bump and an evening peak.
HOUR_WEIGHTS = np.array(
    [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3, 4, 4.5, 5, 6, 5.5, 5, 5, 5.5, 6, 7, 8, 8.5, 7, 5, 2.5]
)


def _with_hour(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """Keep the day of each time, draw its time of day from the shop's daily rhythm."""
    hour = rng.choice(24, size=len(t), p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    return (t // DAY) * DAY + hour * 3_600 + rng.integers(0, 3_600, size=len(t))


def _season_windows(params: SampleParams) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (shop seconds) of every category's season in every calendar year."""
    years = range(params.start_date.year, params.end_date.year + 1)
    starts = np.full((len(CATEGORIES), len(years)), -1, dtype=np.int64)
    ends = np.full_like(starts, -1)
    for c, (_, months, _) in enumerate(CATEGORIES):
        if not months:
            continue
        for y, year in enumerate(years):
            first = dt.date(year, months[0], 1)
            after_last = dt.date(year + (months[-1] == 12), months[-1] % 12 + 1, 1)
            starts[c, y] = (first - params.start_date).days * DAY
            ends[c, y] = (after_last - params.start_date).days * DAY
    return starts, ends


def _seasonal_orders(
    params: SampleParams, people: People, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Seasonal buyers order in their category's season, most years, sometimes twice."""
    buyers = np.flatnonzero(people.is_seasonal)
    starts, ends = _season_windows(params)
    n_years = starts.shape[1]
    cat = people.fav_category[buyers]
    first_year = rng.integers(0, n_years, size=len(buyers))
    # A season that has already ended before the first day moves the buyer to the next year.
    first_year = np.where(
        ends[cat, first_year] <= 0, np.minimum(first_year + 1, n_years - 1), first_year
    )
    who = np.repeat(buyers, n_years)
    year = np.tile(np.arange(n_years), len(buyers))
    is_first = year == np.repeat(first_year, n_years)
    keep = (year >= np.repeat(first_year, n_years)) & (
        is_first | (rng.random(len(who)) < SEASON_REPEAT_PROBABILITY)
    )
    who, year = who[keep], year[keep]
    twice = rng.random(len(who)) < 0.3
    who = np.concatenate([who, who[twice]])
    year = np.concatenate([year, year[twice]])
    lo = np.maximum(starts[people.fav_category[who], year], 0)
    hi = np.minimum(ends[people.fav_category[who], year], params.seconds)
    ok = hi > lo
    who, lo, hi = who[ok], lo[ok], hi[ok]
    t = lo + (rng.random(len(who)) * (hi - lo)).astype(np.int64)
    return who, t


def _poisson_orders(
    who: np.ndarray, lo: np.ndarray, hi: np.ndarray, rate: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A Poisson process of `rate` orders per second on (lo, hi) for each entry of `who`."""
    counts = rng.poisson(rate * np.maximum(hi - lo, 0))
    rep = np.repeat(np.arange(len(who)), counts)
    t = lo[rep] + (rng.random(len(rep)) * (hi - lo)[rep]).astype(np.int64)
    return who[rep], t


def order_times(
    params: SampleParams, people: People, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(buyer index, order time) for every order, sorted by time."""
    horizon = params.seconds
    regular = np.flatnonzero(~people.is_seasonal[: people.customers])
    first = rng.integers(0, horizon, size=len(regular))
    death = first + (rng.exponential(MEAN_LIFETIME_DAYS, size=len(regular)) * DAY).astype(np.int64)
    active_end = np.minimum(death, horizon)
    comeback = (death < horizon - 60 * DAY) & (rng.random(len(regular)) < COMEBACK_SHARE)
    revival = death + rng.integers(90 * DAY, 300 * DAY, size=len(regular))
    comeback &= revival < horizon
    second_end = np.minimum(
        revival + (rng.exponential(200.0, size=len(regular)) * DAY).astype(np.int64), horizon
    )

    seasonal_who, seasonal_t = _seasonal_orders(params, people, rng)
    # Scale the purchase rates so that the base averages `orders_per_customer` orders.
    unit_rate = rng.gamma(RATE_SHAPE, 1.0 / RATE_SHAPE, size=len(regular))
    exposure = (active_end - first) + np.where(comeback, second_end - revival, 0)
    fixed = len(regular) + int(comeback.sum()) + len(seasonal_t)
    wanted_extra = max(params.orders_per_customer * people.customers - fixed, 0.0)
    rate = unit_rate * wanted_extra / max(float((unit_rate * exposure).sum()), 1.0)

    life1_who, life1_t = _poisson_orders(regular, first, active_end, rate, rng)
    back = np.flatnonzero(comeback)
    life2_who, life2_t = _poisson_orders(
        regular[back], revival[back], second_end[back], rate[back], rng
    )
    who = np.concatenate([regular, regular[back], life1_who, life2_who, seasonal_who])
    t = np.concatenate([first, revival[back], life1_t, life2_t, seasonal_t])
    t = np.clip(_with_hour(rng, t), 0, horizon - 1)
    order = np.lexsort((who, t))
    return who[order], t[order]

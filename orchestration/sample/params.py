"""Parameters of the sample shop, validated once at the boundary."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class SampleParamsError(ValueError):
    """A sample-shop parameter is out of range; the message names it and the fix."""


@dataclass(frozen=True)
class SampleParams:
    """What to generate.

    `customers` counts buyers (contacts with at least one order); prospects who never buy are
    added on top as `prospect_share` of that number.
    """

    customers: int = 5_000
    days: int = 730
    start_date: dt.date = dt.date(2024, 1, 1)
    seed: int = 42
    timezone: str = "UTC"
    currency: str = "USD"
    prospect_share: float = 0.3
    orders_per_customer: float = 10.0
    bad_row_share: float = 0.002
    compress: bool = False  # zstd the files (benchmark-sized shops are tens of GB otherwise)
    bad_day: dt.date | None = None  # a day whose exports are broken, for the quality gates

    def __post_init__(self) -> None:
        checks = [
            (self.customers >= 10, "customers must be at least 10"),
            (self.days >= 7, "days must be at least 7"),
            (0 <= self.prospect_share <= 10, "prospect_share must be between 0 and 10"),
            (self.orders_per_customer >= 1, "orders_per_customer must be at least 1"),
            (0 <= self.bad_row_share <= 0.5, "bad_row_share must be between 0 and 0.5"),
            (len(self.currency) == 3 and self.currency.isupper(), "currency: ISO 4217, e.g. USD"),
        ]
        if self.bad_day is not None:
            checks.append(
                (
                    self.start_date <= self.bad_day <= self.end_date,
                    f"bad_day must lie between {self.start_date} and {self.end_date}",
                )
            )
        for ok, message in checks:
            if not ok:
                raise SampleParamsError(f"invalid sample-shop parameter: {message}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SampleParamsError(
                f"invalid sample-shop parameter: unknown time zone {self.timezone!r}; "
                "use an IANA name such as 'UTC' or 'America/New_York'"
            ) from exc

    @property
    def end_date(self) -> dt.date:
        """The last day that has landing files."""
        return self.start_date + dt.timedelta(days=self.days - 1)

    @property
    def prospects(self) -> int:
        return round(self.customers * self.prospect_share)

    @property
    def seconds(self) -> int:
        return self.days * 86_400

"""Contacts: buyers and prospects, their consent, tastes and e-mail habits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestration.sample.catalog import CATEGORIES, VENDORS_PER_CATEGORY
from orchestration.sample.params import SampleParams

FIRST_NAMES = (
    "Ada", "Ben", "Chloe", "Dev", "Elif", "Femi", "Grace", "Hugo", "Ines", "Jonas", "Kai",
    "Lena", "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera",
    "Wen", "Ximena", "Yusuf", "Zoe", "Aiko", "Bruno", "Carmen", "Dario", "Emma", "Felix",
)  # fmt: skip
LAST_NAMES = (
    "Adams", "Berg", "Costa", "Diaz", "Evans", "Fischer", "Garcia", "Hansen", "Ito", "Jensen",
    "Kowalski", "Lopez", "Moreau", "Novak", "Okafor", "Patel", "Quist", "Rossi", "Silva",
    "Tanaka", "Ueda", "Varga", "Weber", "Xu", "Yilmaz", "Zhang", "Byrne", "Kim", "Nowak",
)  # fmt: skip
# Reserved example domains (RFC 2606): sample addresses can never reach a real inbox.
EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.com")
SIGNUP_SOURCES = ("checkout", "newsletter", "event", "trial")
TIERS_PREFERENCE = np.array([0.45, 0.40, 0.15])
SEASONAL_BUYER_SHARE = 0.08
DAY = 86_400


@dataclass(frozen=True)
class People:
    """One entry per contact: indices [0, customers) buy, the rest are prospects."""

    customers: int
    first_name: np.ndarray
    last_name: np.ndarray
    domain: np.ndarray
    source: np.ndarray
    fav_category: np.ndarray
    fav_vendor_slot: np.ndarray
    tier_pref: np.ndarray
    is_seasonal: np.ndarray
    accepts_marketing: np.ndarray
    confirmed_opt_in: np.ndarray
    birthday_days: np.ndarray  # days since 1970-01-01, or -1 when unknown
    engagement: np.ndarray  # probability that a delivered e-mail is opened by a person
    machine_opener: np.ndarray  # Apple Mail Privacy Protection: opens every delivered e-mail
    bad_address: np.ndarray  # the mailbox does not exist: the first send hard-bounces
    early_signup_days: np.ndarray  # buyers who subscribed before their first order

    @property
    def size(self) -> int:
        return len(self.first_name)


def build_people(params: SampleParams, rng: np.random.Generator) -> People:
    n = params.customers + params.prospects
    is_customer = np.arange(n) < params.customers
    seasonal_categories = [i for i, (_, months, _) in enumerate(CATEGORIES) if months]
    is_seasonal = is_customer & (rng.random(n) < SEASONAL_BUYER_SHARE)
    fav_category = rng.integers(len(CATEGORIES), size=n)
    fav_category[is_seasonal] = rng.choice(seasonal_categories, size=int(is_seasonal.sum()))
    birthday = rng.integers(-7_300, 12_800, size=n)  # born between 1950 and 2005
    source = np.where(is_customer, rng.choice(4, size=n, p=[0.55, 0.3, 0.1, 0.05]), 0)
    source[~is_customer] = rng.choice([1, 2, 3], size=int((~is_customer).sum()), p=[0.6, 0.3, 0.1])
    # Buyers opt in at checkout about two times in three; prospects are mostly subscribers,
    # but event leads often gave no consent.
    accepts = np.where(
        is_customer, rng.random(n) < 0.65, rng.random(n) < np.where(source == 2, 0.5, 0.95)
    )
    early = np.where(is_customer & (rng.random(n) < 0.35), rng.integers(1, 90, size=n), 0)
    return People(
        customers=params.customers,
        first_name=rng.integers(len(FIRST_NAMES), size=n),
        last_name=rng.integers(len(LAST_NAMES), size=n),
        domain=rng.choice(len(EMAIL_DOMAINS), size=n, p=[0.4, 0.25, 0.2, 0.15]),
        source=source,
        fav_category=fav_category,
        fav_vendor_slot=rng.integers(VENDORS_PER_CATEGORY, size=n),
        tier_pref=rng.choice(3, size=n, p=TIERS_PREFERENCE),
        is_seasonal=is_seasonal,
        accepts_marketing=accepts,
        confirmed_opt_in=rng.random(n) < 0.4,
        birthday_days=np.where(rng.random(n) < 0.3, birthday, -1),
        engagement=rng.beta(1.6, 5.0, size=n),
        machine_opener=rng.random(n) < 0.35,
        bad_address=rng.random(n) < 0.015,
        early_signup_days=early,
    )

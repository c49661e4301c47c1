"""What each order and abandoned checkout contains: products, discounts, cancellations."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestration.sample.catalog import CATEGORIES, TIERS, VENDORS_PER_CATEGORY
from orchestration.sample.people import DAY, People

# (code, percent off) of the discount codes in use; the first is the welcome code.
DISCOUNT_CODES = (("WELCOME10", 0.10), ("SAVE15", 0.15), ("VIP20", 0.20), ("SEASON15", 0.15))
DISCOUNT_SHARE = 0.18
CANCEL_SHARE = 0.03
REFUND_SHARE = 0.025
TEST_ORDER_SHARE = 0.001
EMAIL_VARIANT_SHARE = 0.03
ABANDONED_PER_ORDER = 0.9
PROSPECT_ABANDON_SHARE = 0.15
RECOVERY_WINDOW = DAY


@dataclass(frozen=True)
class Orders:
    buyer: np.ndarray
    t: np.ndarray
    discount_code: np.ndarray  # index into DISCOUNT_CODES, -1 for none
    status: np.ndarray  # 0 paid, 1 cancelled, 2 refunded, 3 partially refunded
    changed_t: np.ndarray  # when the cancellation or refund happened, -1 for none
    kept_share: np.ndarray  # share of the total still paid after a partial refund
    is_test: np.ndarray
    email_variant: np.ndarray  # the order's e-mail differs from the contact's in case/spaces
    item_order: np.ndarray  # per line item: its order
    item_product: np.ndarray
    item_quantity: np.ndarray

    @property
    def size(self) -> int:
        return len(self.t)


@dataclass(frozen=True)
class Checkouts:
    contact: np.ndarray
    t: np.ndarray
    completed_t: np.ndarray  # the recovered order's time, -1 while abandoned
    item_checkout: np.ndarray
    item_product: np.ndarray
    item_quantity: np.ndarray

    @property
    def size(self) -> int:
        return len(self.t)


def choose_products(people: People, who: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Product numbers for line items of `who`, leaning to their category, brand and tier."""
    n = len(who)
    loyal_category = rng.random(n) < np.where(people.is_seasonal[who], 0.8, 0.5)
    category = np.where(
        loyal_category, people.fav_category[who], rng.integers(len(CATEGORIES), size=n)
    )
    slot = np.where(
        rng.random(n) < 0.6, people.fav_vendor_slot[who], rng.integers(VENDORS_PER_CATEGORY, size=n)
    )
    tier = np.where(rng.random(n) < 0.7, people.tier_pref[who], rng.integers(len(TIERS), size=n))
    # build_catalog lays products out as category, then brand slot, then tier.
    return (category * VENDORS_PER_CATEGORY + slot) * len(TIERS) + tier


def _line_items(
    people: People, who: np.ndarray, mean_extra: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    counts = 1 + np.minimum(rng.poisson(mean_extra, size=len(who)), 4)
    parent = np.repeat(np.arange(len(who)), counts)
    product = choose_products(people, who[parent], rng)
    quantity = 1 + rng.poisson(0.25, size=len(parent))
    return parent, product, quantity


def build_orders(
    people: People, buyer: np.ndarray, t: np.ndarray, horizon: int, rng: np.random.Generator
) -> Orders:
    n = len(t)
    first = np.zeros(n, dtype=bool)
    _, first_idx = np.unique(buyer, return_index=True)
    first[first_idx] = True
    has_code = rng.random(n) < DISCOUNT_SHARE
    code = np.where(first, 0, rng.integers(1, len(DISCOUNT_CODES), size=n))
    status = rng.choice(
        4,
        size=n,
        p=[1 - CANCEL_SHARE - REFUND_SHARE, CANCEL_SHARE, REFUND_SHARE / 2, REFUND_SHARE / 2],
    )
    delay = np.where(
        status == 1, rng.integers(3_600, 3 * DAY, size=n), rng.integers(3 * DAY, 30 * DAY, size=n)
    )
    changed = np.where(status > 0, t + delay, -1)
    # A change after the last day has not happened yet.
    status = np.where(changed >= horizon, 0, status)
    changed = np.where(changed >= horizon, -1, changed)
    item_order, item_product, item_quantity = _line_items(people, buyer, 0.5, rng)
    return Orders(
        buyer=buyer,
        t=t,
        discount_code=np.where(has_code, code, -1),
        status=status,
        changed_t=changed,
        kept_share=np.round(rng.uniform(0.3, 0.8, size=n), 2),
        is_test=rng.random(n) < TEST_ORDER_SHARE,
        email_variant=rng.random(n) < EMAIL_VARIANT_SHARE,
        item_order=item_order,
        item_product=item_product,
        item_quantity=item_quantity,
    )


def build_checkouts(
    people: People, orders: Orders, signup_t: np.ndarray, horizon: int, rng: np.random.Generator
) -> Checkouts:
    """Abandoned checkouts: buyers hesitate before some orders, some prospects never return.

    A checkout whose contact orders within the recovery window counts as recovered.
    """
    anchors = rng.integers(0, orders.size, size=round(ABANDONED_PER_ORDER * orders.size))
    buyer_t = orders.t[anchors] - rng.integers(1_800, 30 * DAY, size=len(anchors))
    # Hesitations before the first day stand in for those before orders after the last day,
    # which are never drawn: without them checkouts would thin out over the final month.
    # (Wrapped modulo the horizon: a shop of fewer than 30 days has none before its first day.)
    buyer_t = np.mod(buyer_t, horizon)
    prospects = np.arange(people.customers, people.size)
    prospects = prospects[rng.random(len(prospects)) < PROSPECT_ABANDON_SHARE]
    prospect_t = signup_t[prospects] + (
        rng.random(len(prospects)) * (horizon - signup_t[prospects])
    ).astype(np.int64)
    contact = np.concatenate([orders.buyer[anchors], prospects])
    t = np.concatenate([buyer_t, prospect_t])

    # The next order of the same contact after the checkout, found in (contact, time) order.
    stride = np.int64(horizon + 1)
    order_keys = np.sort(orders.buyer.astype(np.int64) * stride + orders.t)
    keys = contact.astype(np.int64) * stride + t
    pos = np.minimum(np.searchsorted(order_keys, keys, side="right"), len(order_keys) - 1)
    next_key = order_keys[pos]
    recovered = (
        (next_key // stride == contact) & (next_key - keys <= RECOVERY_WINDOW) & (next_key > keys)
    )
    completed = np.where(recovered, next_key % stride, -1)

    item_checkout, item_product, item_quantity = _line_items(people, contact, 0.4, rng)
    order = np.argsort(t, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return Checkouts(
        contact=contact[order],
        t=t[order],
        completed_t=completed[order],
        item_checkout=rank[item_checkout],
        item_product=item_product,
        item_quantity=item_quantity,
    )

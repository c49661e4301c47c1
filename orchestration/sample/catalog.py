"""The shop's product catalogue: categories (some seasonal), brands and price tiers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# (category, months of its season or () for all-year, product nouns)
CATEGORIES: tuple[tuple[str, tuple[int, ...], tuple[str, ...]], ...] = (
    ("Garden", (3, 4, 5), ("Trowel", "Planter", "Seed Kit")),
    ("Outdoor", (6, 7, 8), ("Tent", "Cooler", "Hammock")),
    ("Gifts", (11, 12), ("Gift Box", "Candle Set", "Advent Calendar")),
    ("Kitchen", (), ("Knife", "Pan", "Cutting Board")),
    ("Coffee", (), ("Beans", "Grinder", "Pour-Over")),
    ("Apparel", (), ("Hoodie", "Rain Jacket", "Socks")),
    ("Tools", (), ("Drill", "Tool Kit", "Level")),
    ("Home", (), ("Throw", "Lamp", "Vase")),
)
VENDORS: tuple[str, ...] = (
    "Acme",
    "Northwind",
    "Bramble & Co",
    "Fjord",
    "Helio",
    "Kestrel",
    "Lumen",
    "Oakridge",
    "Pico",
    "Sable",
    "Tidewater",
    "Vela",
)
TIERS: tuple[str, ...] = ("budget", "standard", "premium")
# Base price per tier, multiplied by a per-product factor.
TIER_PRICE = np.array([12.0, 39.0, 119.0])
VENDORS_PER_CATEGORY = 4


@dataclass(frozen=True)
class Catalog:
    """Products as parallel arrays (index = product number)."""

    category: np.ndarray  # int: index into CATEGORIES
    vendor: np.ndarray  # int: index into VENDORS
    tier: np.ndarray  # int: index into TIERS
    noun: np.ndarray  # int: index into the category's nouns
    price: np.ndarray  # float, two decimals

    @property
    def size(self) -> int:
        return len(self.price)


def build_catalog(rng: np.random.Generator) -> Catalog:
    """Every category gets a few brands, and each brand a product in every tier."""
    rows = []
    for c, (_, _, nouns) in enumerate(CATEGORIES):
        vendors = rng.choice(len(VENDORS), size=VENDORS_PER_CATEGORY, replace=False)
        for v in vendors:
            noun = int(rng.integers(len(nouns)))
            for t in range(len(TIERS)):
                rows.append((c, int(v), t, noun))
    arr = np.array(rows)
    factor = rng.uniform(0.75, 1.35, size=len(arr))
    price = np.round(TIER_PRICE[arr[:, 2]] * factor, 0) - 0.01
    return Catalog(
        category=arr[:, 0],
        vendor=arr[:, 1],
        tier=arr[:, 2],
        noun=arr[:, 3],
        price=price,
    )

"""The on-demand price table of a region, kept in the repo, each row with its source and date."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

PRICE_DIR = Path(__file__).resolve().parent / "prices"
MAX_AGE_DAYS = 180
"""A table read longer ago than this is still used, with a warning naming its date."""


class PriceTableError(ValueError):
    """No usable price table; the text names the region and what exists."""


@dataclass(frozen=True)
class PriceRow:
    """One price: US dollars per unit, where it was read and when."""

    key: str
    usd: float
    unit: str
    source: str
    read: str


@dataclass(frozen=True)
class PriceTable:
    """The prices of one region and the facts needed to use them."""

    region: str
    read: dt.date
    hours_per_month: float
    usd_per_gbp: float
    rows: dict[str, PriceRow]
    path: Path

    def get(self, key: str) -> PriceRow | None:
        """The row for ``key``, or None when the table has no price for it (unpriced)."""
        return self.rows.get(key)

    def age_warning(self, today: dt.date) -> str | None:
        """A warning naming the table's date when it is older than MAX_AGE_DAYS."""
        age = (today - self.read).days
        if age > MAX_AGE_DAYS:
            return (
                f"warning: the {self.region} price table was read on {self.read.isoformat()}, "
                f"{age} days ago (more than {MAX_AGE_DAYS}); refresh {self.path.name}"
            )
        return None


def available_regions(price_dir: Path = PRICE_DIR) -> list[str]:
    """Regions that have a price table."""
    return sorted(p.stem for p in price_dir.glob("*.json"))


def load_price_table(region: str, price_dir: Path = PRICE_DIR) -> PriceTable:
    """Reads ``<price_dir>/<region>.json``; a missing region names those that exist."""
    path = price_dir / f"{region}.json"
    if not path.exists():
        raise PriceTableError(
            f"no price table for region {region!r}; tables exist for: "
            f"{', '.join(available_regions(price_dir)) or 'none'} (add {path.name})"
        )
    doc = json.loads(path.read_text())
    rows = {
        key: PriceRow(key, float(row["usd"]), row["unit"], row["source"], row["read"])
        for key, row in doc["rows"].items()
    }
    return PriceTable(
        region=doc["region"],
        read=dt.date.fromisoformat(doc["read"]),
        hours_per_month=float(doc["hours_per_month"]),
        usd_per_gbp=float(doc["usd_per_gbp"]["rate"]),
        rows=rows,
        path=path,
    )

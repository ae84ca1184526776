"""Kubernetes resource quantities (``250m``, ``512Mi``) parsed to numbers, to compare them."""

from __future__ import annotations

import re
from decimal import Decimal

_QUANTITY = re.compile(r"^(?P<number>\d+(\.\d+)?)(?P<suffix>m|k|M|G|T|Ki|Mi|Gi|Ti)?$")
_FACTORS = {
    None: Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
}


class BadQuantity(ValueError):
    """A string that is not a Kubernetes quantity this kit accepts."""


def parse_quantity(text: str) -> Decimal:
    """The value of a quantity in base units (cores for CPU, bytes for memory)."""
    match = _QUANTITY.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise BadQuantity(
            f"{text!r} is not a quantity; use e.g. 250m or 1 (CPU), 512Mi or 1Gi (memory)"
        )
    return Decimal(match["number"]) * _FACTORS[match["suffix"]]


def parse_cpu(text: str) -> Decimal:
    """CPU cores of a quantity such as ``250m`` or ``2``; binary suffixes are refused."""
    value = parse_quantity(text)
    if text.strip().endswith("i"):
        raise BadQuantity(f"{text!r} is a memory quantity; CPU is cores (1) or millicores (250m)")
    return value


def parse_memory(text: str) -> Decimal:
    """Bytes of a quantity such as ``512Mi``; millis (``m``) make no sense for memory."""
    value = parse_quantity(text)
    if text.strip().endswith("m"):
        raise BadQuantity(f"{text!r} is in millibytes; use Mi or Gi for memory")
    return value

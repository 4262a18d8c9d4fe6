"""Amounts of money, as integer cents."""

import re

#: A price as a user types it: optional "$", dollars, optional 1 or 2 decimals.
_PRICE = re.compile(r"\$?(\d+)(?:\.(\d{1,2}))?")


def format_price(cents: int) -> str:
    """``cents`` as dollars for display: ``1234`` is ``"$12.34"``, ``-5`` is ``"-$0.05"``."""
    sign = "-" if cents < 0 else ""
    dollars, rest = divmod(abs(cents), 100)
    return f"{sign}${dollars}.{rest:02d}"


def apply_discount(cents: int, percent: int) -> int:
    """``cents`` less ``percent`` per cent, to the nearest cent (half a cent rounds up)."""
    if not 0 <= percent <= 100:
        raise ValueError(f"percent must be between 0 and 100, got {percent}")
    return (cents * (100 - percent) + 50) // 100


def split_evenly(cents: int, parts: int) -> list[int]:
    """``cents`` in ``parts`` shares that add up to it, the larger first, differing by at most a cent."""
    if parts < 1:
        raise ValueError(f"parts must be 1 or more, got {parts}")
    share, left = divmod(cents, parts)
    return [share + 1] * left + [share] * (parts - left)


def parse_price(text: str) -> int:
    """A price typed by a user (``"$12.34"``, ``"12"``, ``" 0.5 "``) in cents; ValueError otherwise."""
    match = _PRICE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a price: {text!r}")
    dollars, decimals = match.group(1), match.group(2) or ""
    return int(dollars) * 100 + int(decimals.ljust(2, "0"))

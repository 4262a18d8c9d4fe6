"""Amounts of money, as integer cents."""


def format_price(cents: int) -> str:
    """``cents`` as dollars for display: ``1234`` is ``"$12.34"``, ``-5`` is ``"-$0.05"``."""
    sign = "-" if cents < 0 else ""
    dollars, rest = divmod(abs(cents), 100)
    return f"{sign}${dollars}.{rest:02d}"

"""cartkit: small helpers for shopping-cart amounts, kept in integer cents."""

from cartkit.money import format_price

__all__ = ["format_price"]

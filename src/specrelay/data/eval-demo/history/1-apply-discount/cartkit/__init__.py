"""cartkit: small helpers for shopping-cart amounts, kept in integer cents."""

from cartkit.money import apply_discount, format_price

__all__ = ["apply_discount", "format_price"]

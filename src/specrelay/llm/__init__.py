"""The model seam: presets in, priced and recorded answers out.

Provider SDKs and pydantic-ai are imported only inside this package, and only when a real
provider is called.
"""

from specrelay.llm.backend import AttemptFailed, Backend, Reply, estimate_tokens
from specrelay.llm.client import CallResult, Client, parse_json_reply
from specrelay.llm.pricing import UnitPrice, Usage, cost_of, unit_price

__all__ = [
    "AttemptFailed",
    "Backend",
    "CallResult",
    "Client",
    "Reply",
    "UnitPrice",
    "Usage",
    "cost_of",
    "estimate_tokens",
    "parse_json_reply",
    "unit_price",
]

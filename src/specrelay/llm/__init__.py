"""The model seam: presets in, priced and recorded answers out.

Provider SDKs and pydantic-ai are imported only inside this package, and only when a real
provider is called. Names are loaded on first use, so that a command needing only prices does
not pay for the client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "AttemptFailed": "backend", "Backend": "backend", "Reply": "backend", "estimate_tokens": "backend",
    "CallResult": "client", "Client": "client", "parse_json_reply": "client",
    "UnitPrice": "pricing", "Usage": "pricing", "cost_of": "pricing", "unit_price": "pricing",
}

__all__ = [
    "AttemptFailed", "Backend", "CallResult", "Client", "Reply", "UnitPrice", "Usage", "cost_of",
    "estimate_tokens", "parse_json_reply", "unit_price",
]

if TYPE_CHECKING:
    from specrelay.llm.backend import AttemptFailed, Backend, Reply, estimate_tokens
    from specrelay.llm.client import CallResult, Client, parse_json_reply
    from specrelay.llm.pricing import UnitPrice, Usage, cost_of, unit_price


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'specrelay.llm' has no attribute {name!r}")
    return getattr(importlib.import_module(f"specrelay.llm.{_WHERE[name]}"), name)

"""The model seam: a request through a preset, priced and recorded.

``backend`` is the seam (Request → Reply, the Backend class a backend implements); ``backends/``
holds the built-in backends, each registered through :func:`specrelay.registry.register_backend`;
``layers/`` the cross-cutting behaviour around any backend; ``client`` the door the engine calls;
``pricing`` the costs. Provider SDKs and pydantic-ai are imported only inside ``backends/``, and only
when a real provider is called. Names are loaded on first use, so that a command needing only
prices does not pay for the client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "AttemptFailed": "backend", "Backend": "backend", "Message": "backend", "Reply": "backend",
    "Request": "backend", "RunContext": "backend", "Tool": "backend", "ToolCall": "backend",
    "estimate_tokens": "backend", "preflight": "backend",
    "BudgetCheck": "client", "CallResult": "client", "Client": "client", "DEFAULT_MAX_OUTPUT": "client",
    "Reservation": "client", "parse_json_reply": "client",
    "UnitPrice": "pricing", "Usage": "pricing", "cost_of": "pricing", "unit_price": "pricing",
}

__all__ = [
    "DEFAULT_MAX_OUTPUT", "AttemptFailed", "Backend", "BudgetCheck", "CallResult", "Client", "Message", "Reply",
    "Request", "Reservation", "RunContext", "Tool", "ToolCall", "UnitPrice", "Usage", "cost_of",
    "estimate_tokens", "parse_json_reply", "preflight", "unit_price",
]

if TYPE_CHECKING:
    from specrelay.llm.backend import (
        AttemptFailed,
        Backend,
        Message,
        Reply,
        Request,
        RunContext,
        Tool,
        ToolCall,
        estimate_tokens,
        preflight,
    )
    from specrelay.llm.client import (
        DEFAULT_MAX_OUTPUT,
        BudgetCheck,
        CallResult,
        Client,
        Reservation,
        parse_json_reply,
    )
    from specrelay.llm.pricing import UnitPrice, Usage, cost_of, unit_price


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'specrelay.llm' has no attribute {name!r}")
    return getattr(importlib.import_module(f"specrelay.llm.{_WHERE[name]}"), name)

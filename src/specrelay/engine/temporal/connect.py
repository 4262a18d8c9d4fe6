"""Reaching the Temporal server, with one clear line for each way it can fail."""

from __future__ import annotations

from typing import TYPE_CHECKING

from specrelay.errors import UserError

if TYPE_CHECKING:
    from temporalio.client import Client


def require_sdk() -> None:
    """A UserError saying how to install the extra, when temporalio is missing."""
    try:
        import temporalio  # noqa: F401
    except ImportError:
        raise UserError("the Temporal backend needs the temporal extra: pip install 'specrelay[temporal]'.") from None


async def connect(address: str, namespace: str) -> Client:
    """A client of ``namespace`` at ``address``; a UserError when the server cannot be reached or has no
    such namespace."""
    require_sdk()
    from temporalio.client import Client
    from temporalio.service import RPCError, RPCStatusCode

    try:
        client = await Client.connect(address, namespace=namespace)
    except (RuntimeError, RPCError, ValueError) as exc:
        raise UserError(f"cannot reach Temporal at {address} ({_first_line(exc)}); start a server "
                        "(`specrelay temporal dev` for a local one) or fix [backend] address.") from None
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

    try:
        await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise UserError(f"Temporal at {address} has no namespace {namespace!r}; create it "
                            f"(`temporal operator namespace create {namespace}`) or fix [backend] namespace.") from None
        raise UserError(f"Temporal at {address}: {_first_line(exc)}") from None
    return client


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if "ConnectionRefused" in text or "Connection refused" in text:
        return "connection refused"
    if "dns error" in text.lower() or "failed to lookup address" in text.lower():
        return "no such host"
    line = text.splitlines()[0]
    return line if len(line) <= 160 else line[:157] + "..."

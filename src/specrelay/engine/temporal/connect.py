"""Reaching the Temporal server, with one clear line for each way it can fail."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from specrelay.errors import UserError

if TYPE_CHECKING:
    from temporalio.client import Client


def require_sdk() -> None:
    """A UserError saying how to install the extra, when temporalio is missing."""
    try:
        import temporalio  # noqa: F401
    except ImportError:
        raise UserError("the Temporal backend needs the temporal extra: pip install 'specrelay[temporal]'.") from None


_runtime: Any = None


def _quiet_runtime() -> Any:
    """The SDK's runtime with its core's own log lines (a retry of a lost connection, say) at ERROR only,
    and to the log, not to the output a command prints (``--json``)."""
    global _runtime
    if _runtime is None:
        import logging

        from temporalio.runtime import LogForwardingConfig, LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

        _runtime = Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(
            filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"),
            forwarding=LogForwardingConfig(logger=logging.getLogger("specrelay.temporal")))))
    return _runtime


async def connect(address: str, namespace: str, *,
                  origin: tuple[str, str] = ("[backend] address", "[backend] namespace")) -> Client:
    """A client of ``namespace`` at ``address`` (``origin``: where each comes from, as the fix names it); a
    UserError when the server cannot be reached or has no such namespace."""
    require_sdk()
    from temporalio.client import Client
    from temporalio.service import RPCError, RPCStatusCode

    try:
        client = await Client.connect(address, namespace=namespace, runtime=_quiet_runtime())
    except (RuntimeError, RPCError, ValueError) as exc:
        raise UserError(f"cannot reach Temporal at {address} ({_first_line(exc)}); start a server "
                        f"(`specrelay temporal dev` for a local one) or fix {origin[0]}.") from None
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

    try:
        await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise UserError(f"Temporal at {address} has no namespace {namespace!r}; create it "
                            f"(`temporal operator namespace create {namespace}`) or fix {origin[1]}.") from None
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

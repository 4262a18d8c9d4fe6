"""The MCP server: specrelay's tools (:mod:`specrelay.mcp.tools`) over stdio, or streamable HTTP on
127.0.0.1, with the official SDK's ``MCPServer``.

A tool's ``SpecRelayError`` becomes an MCP tool error carrying its one-line message, as the CLI prints it;
anything else is a bug, said in one line too (never a traceback in the answer).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from specrelay import __version__
from specrelay.errors import SpecRelayError
from specrelay.mcp.tools import Tools

#: The server's name, as clients show it (and prefix its tools with: ``mcp__specrelay__task_status``).
NAME = "specrelay"
INSTRUCTIONS = (
    "specrelay runs coding tasks through a team of models (plan, build, verify, review), each task in its "
    "own git worktree and branch of the repository this server works in. Start one with run_task, follow "
    "it with task_status, read its spec, review, findings or diff with show_artifact, and merge or discard "
    "it when done (both need confirm: true). review and ask call a model once, outside any task."
)


def build(where: Path) -> MCPServer[Any]:
    """The server, its tools working in the repository at (or above) ``where``."""
    server: MCPServer[Any] = MCPServer(NAME, version=__version__, instructions=INSTRUCTIONS, log_level="WARNING")
    for tool in Tools(where).all():
        server.add_tool(_answering_errors(tool), name=tool.__name__, description=inspect.cleandoc(tool.__doc__ or ""),
                        structured_output=True)
    return server


def _answering_errors(tool: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """``tool``, its errors raised as the tool errors the SDK sends back to the client."""

    @functools.wraps(tool)
    def call(*args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return tool(*args, **kwargs)
        except SpecRelayError as exc:
            raise ToolError(str(exc)) from exc
        except Exception as exc:
            raise ToolError(f"internal error: {type(exc).__name__}: {exc} (this is a bug in specrelay)") from exc

    return call


def serve(where: Path, *, http_port: int | None = None) -> None:
    """Serve until the client goes away (stdio: its end of the pipe closes) or, over HTTP, until stopped."""
    server = build(where)
    if http_port is None:
        server.run("stdio")
    else:
        server.run("streamable-http", host="127.0.0.1", port=http_port)

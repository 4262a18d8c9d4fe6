"""``specrelay mcp``: serve specrelay's tools over the Model Context Protocol, to another agent."""

from __future__ import annotations

from pathlib import Path

import typer

from specrelay.cli.root import app
from specrelay.errors import UserError


@app.command("mcp")
def mcp_command(
    http: int | None = typer.Option(None, "--http", metavar="PORT", min=1, max=65535, help=(
        "Serve streamable HTTP on 127.0.0.1:PORT (at /mcp) instead of stdio.")),
    repo: Path | None = typer.Option(None, "--repo", metavar="PATH", help=(
        "The repository the tools work in (default: the current directory).")),
) -> None:
    """Serve run_task, task_status, show_artifact, review, ask, cost, resume, merge and discard over MCP
    (stdio by default), for Claude Code, Codex, Gemini CLI, OpenCode or any MCP client."""
    where = (repo or Path.cwd()).resolve()
    if not where.is_dir():
        raise UserError(f"--repo {repo}: no such folder; give the path of a git repository.")
    from specrelay.mcp.server import serve

    if http is not None:  # stdout is the protocol's over stdio only; over HTTP a person reads where it is
        from specrelay.cli.common import err_console

        _check_free(http)

        err_console.print(f"specrelay's MCP server: http://127.0.0.1:{http}/mcp (Ctrl-C stops it)", markup=False,
                          soft_wrap=True)
    serve(where, http_port=http)


def _check_free(port: int) -> None:
    """Refuse, in one line, a port something else listens on (before saying the server is there)."""
    import socket

    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise UserError(f"--http {port}: 127.0.0.1:{port} cannot be used ({exc.strerror}); "
                            "give another port.") from None

"""``specrelay serve``: the local dashboard, at a URL holding a random token (as Jupyter's)."""

from __future__ import annotations

import typer

from specrelay.cli.common import console, repo_root
from specrelay.cli.root import app

LOOPBACK = "127.0.0.1"


@app.command("serve")
def serve_command(
    port: int = typer.Option(8765, "--port", "-p", min=0, max=65535, help="The port (0: any free one)."),
    host: str = typer.Option(LOOPBACK, "--host", help=(
        "The address to listen on (default 127.0.0.1: this machine only). Every request needs the token "
        "in the printed URL, whatever the address.")),
) -> None:
    """A live dashboard of every task in the browser: progress, calls, specs, reviews, diffs, cost."""
    from specrelay.web.server import serve

    root = repo_root()

    def announce(url: str) -> None:
        console.print(f"specrelay dashboard of {root}", markup=False, highlight=False)
        if host != LOOPBACK:
            console.print(f"Listening on {host}: anyone who can reach it needs the token below.", markup=False)
        console.print(f"Open: {url}", markup=False, highlight=False, soft_wrap=True)
        console.print("Ctrl-C stops it.", style="dim")

    serve(root, host=host, port=port, announce=announce)

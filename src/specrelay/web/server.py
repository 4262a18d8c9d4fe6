"""The dashboard's app: its routes, templates and guard, and serving it on a loopback port.

The web stack is Starlette (routing, responses, static files), Jinja2 (templates) and uvicorn (the
server): small, typed, long-lived libraries, and nothing to build for the browser.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from specrelay.errors import SpecRelayError
from specrelay.web.guard import ASGIApp, Guard, new_token
from specrelay.web.site import Site, environment


def create_app(root: Path, token: str, port: int, *, closing: threading.Event | None = None) -> ASGIApp:
    """The dashboard of the repository at ``root``, guarded by ``token`` (its cookie named for ``port``);
    its event streams end once ``closing`` is set."""
    from specrelay.web import actions, evalpages, live, pages

    site = Site(root, token, environment(), closing=closing or threading.Event())
    routes: list[BaseRoute] = [*pages.routes(site), *evalpages.routes(site), *actions.routes(site),
                               *live.routes(site),
                               Mount("/static", StaticFiles(packages=[("specrelay.web", "static")]), name="static")]

    async def refused(request: Request, exc: Exception) -> Response:
        # A task that is not there, an artifact it lacks: the same sentence the CLI prints, on a page.
        return site.page(request, "error.html", status=404, message=str(exc))

    app = Starlette(routes=routes, exception_handlers={SpecRelayError: refused})
    return Guard(app, token, port)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        from specrelay.errors import UserError

        raise UserError(f"--host {host} --port {port}: cannot listen there ({exc.strerror}); "
                        "pick another port, e.g. --port 0 for any free one.") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def url_of(host: str, port: int, token: str) -> str:
    """The URL to open: the token in it."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/?token={token}"


def _server(root: Path, host: str, port: int, token: str) -> tuple[Any, socket.socket, str]:
    import uvicorn

    sock = bind(host, port)
    actual = sock.getsockname()[1]
    closing = threading.Event()

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            closing.set()  # the open event streams end now, not at the grace period's end
            await super().shutdown(sockets=sockets)

    config = uvicorn.Config(create_app(root, token, actual, closing=closing), log_level="warning", lifespan="off",
                            timeout_graceful_shutdown=2, access_log=False)
    return Server(config), sock, url_of(host, actual, token)


def serve(root: Path, *, host: str = "127.0.0.1", port: int = 8765, token: str | None = None,
          announce: Callable[[str], None] = print) -> None:
    """Serve the dashboard until interrupted; ``announce`` is told the URL (with its token) once listening."""
    server, sock, url = _server(root, host, port, token or new_token())
    announce(url)
    server.run(sockets=[sock])


class Background:
    """The dashboard served on a thread of this process (a test's, a benchmark's): ``url``, then ``stop()``."""

    def __init__(self, root: Path, *, host: str = "127.0.0.1", port: int = 0, token: str | None = None) -> None:
        self.token = token or new_token()
        self._server, sock, self.url = _server(root, host, port, self.token)
        self.base = self.url.split("/?", 1)[0]
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        while not self._server.started and self._thread.is_alive():
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

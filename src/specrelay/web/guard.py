"""The token that guards the dashboard, as Jupyter's does, and the CSRF check of its actions.

``specrelay serve`` prints a URL holding a random token. A request is let in when it carries the
token, in the URL (``?token=``) or in the cookie the first such request sets; any other gets 403.
An action (every POST) must also carry the form field ``csrf``, a value derived from the token that
only a page served here holds, and, when the browser says where it comes from (``Origin``), come
from this server's own origin: a page of another site cannot make the browser act here.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The query parameter the printed URL carries the token in.
TOKEN_PARAM = "token"
#: The form field every action carries.
CSRF_FIELD = "csrf"

REFUSED = ("403 Forbidden: this specrelay dashboard needs its token. Open the URL `specrelay serve` printed "
           "(it ends in ?token=...).\n")


def new_token() -> str:
    """A random token for one server's life."""
    return secrets.token_urlsafe(24)


def csrf_of(token: str) -> str:
    """The CSRF value of the pages served with ``token``."""
    return hmac.new(token.encode(), b"specrelay-csrf", hashlib.sha256).hexdigest()


def same(given: str | None, expected: str) -> bool:
    """``given`` is ``expected``, compared in constant time."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def cookie_name(port: int) -> str:
    """The cookie of the server on ``port`` (cookies are shared by every port of a host)."""
    return f"specrelay_token_{port}"


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _cookie(headers: dict[str, str], name: str) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header from elsewhere: as if there were none
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


class Guard:
    """ASGI middleware: 403 for a request without the token; sets the cookie when it came in the URL."""

    def __init__(self, app: ASGIApp, token: str, port: int) -> None:
        self.app = app
        self.token = token
        self.cookie = cookie_name(port)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        in_url = any(same(given, self.token) for given in query.get(TOKEN_PARAM, [])[:1])
        if not (in_url or same(_cookie(headers, self.cookie), self.token)):
            await _plain(send, 403, REFUSED)
            return
        if not in_url:
            await self.app(scope, receive, send)
            return
        cookie = f"{self.cookie}={self.token}; Path=/; HttpOnly; SameSite=Strict".encode("latin-1")

        async def with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie)]
            await send(message)

        await self.app(scope, receive, with_cookie)


def origin_ok(headers: dict[str, str]) -> bool:
    """No ``Origin`` (a client that is not a browser), or this server's own (``Host``)."""
    origin = headers.get("origin")
    if origin is None:
        return True
    host = headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")


def csrf_ok(token: str, headers: dict[str, str], form: dict[str, list[str]]) -> bool:
    """An action's form carries the CSRF value, and it comes from this server's own pages."""
    given = form.get(CSRF_FIELD) or []
    return origin_ok(headers) and len(given) == 1 and same(given[0], csrf_of(token))


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})

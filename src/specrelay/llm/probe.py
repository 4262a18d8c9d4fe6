"""Is a model server answering? ``GET <base_url>/models``, the one request every OpenAI-compatible
server (Ollama, llama.cpp server, vLLM, LM Studio, OpenRouter) answers without spending a token.

The standard library only: ``specrelay presets --check`` stays as fast to start as ``presets``.
"""

from __future__ import annotations

import enum
import json
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import ParseResult, urlparse


class ServerState(enum.StrEnum):
    """What a probe found at a base URL."""

    OK = "ok"  # answered 200 with a model list
    REFUSED = "refused"  # nothing listens on that port
    TIMEOUT = "timeout"  # no answer within the time limit
    HTTP = "http"  # answered, with another status (see ``status``)
    INVALID = "invalid"  # answered 200, but not with an OpenAI model list
    UNREACHABLE = "unreachable"  # the host name does not resolve, or the network is down
    OFFLINE = "offline"  # not tried: the offline switch is on and the host is not this machine


@dataclass(frozen=True)
class Probe:
    """The answer of one server."""

    url: str
    state: ServerState
    #: The HTTP status, when the server answered.
    status: int | None = None
    #: The model ids it serves, when it answered with a list.
    models: tuple[str, ...] | None = None
    #: A short reason, for anything but ok.
    detail: str = ""
    latency_s: float = 0.0


def probe(base_url: str, *, timeout: float = 2.0, api_key: str | None = None) -> Probe:
    """``GET base_url/models`` with ``timeout`` seconds for connecting and for the answer.

    ``api_key`` is sent as a bearer token (vLLM started with ``--api-key`` wants one for this too);
    it is never part of what comes back.
    """
    url = base_url.rstrip("/") + "/models"
    headers = {"Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as response:
            body = response.read(1_000_000)
            status = response.status
    except urllib.error.HTTPError as exc:
        return Probe(url, ServerState.HTTP, status=exc.code, detail=f"HTTP {exc.code} {exc.reason}".strip(),
                     latency_s=time.perf_counter() - t0)
    except (urllib.error.URLError, OSError) as exc:
        state, detail = _failure(exc, urlparse(url))
        return Probe(url, state, detail=detail, latency_s=time.perf_counter() - t0)
    latency = time.perf_counter() - t0
    models = _model_ids(body)
    if models is None:
        return Probe(url, ServerState.INVALID, status=status, detail="the answer is not an OpenAI model list",
                     latency_s=latency)
    return Probe(url, ServerState.OK, status=status, models=models, latency_s=latency)


def _failure(exc: BaseException, url: ParseResult) -> tuple[ServerState, str]:
    """The state a failed connection means, and a short reason."""
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, TimeoutError):
        return ServerState.TIMEOUT, "no answer within the time limit"
    if isinstance(reason, ConnectionRefusedError):
        return ServerState.REFUSED, f"nothing listens on {url.netloc}"
    if isinstance(reason, socket.gaierror):
        return ServerState.UNREACHABLE, f"host not found ({reason.strerror or reason})"
    if isinstance(reason, ConnectionError):  # reset or closed before an answer
        return ServerState.UNREACHABLE, f"connection lost ({type(reason).__name__})"
    return ServerState.UNREACHABLE, " ".join(str(reason).split())[:200]


def _model_ids(body: bytes) -> tuple[str, ...] | None:
    """The ``id`` of each entry of ``{"data": [...]}``, or None when the body is not such a list."""
    try:
        data = json.loads(body)["data"]
        return tuple(str(m["id"]) for m in data)
    except (ValueError, KeyError, TypeError):
        return None

"""The model presets a repository (or the user, outside one) can use: where each comes from, whether
its key is set (never the key), and its price; and, for the servers a user runs (any
``openai-compatible`` preset, any preset served from this machine), whether they answer."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from specrelay.config import Config, Preset, load_config
from specrelay.errors import UserError
from specrelay.llm.network import is_loopback, offline
from specrelay.llm.pricing import unit_price
from specrelay.llm.probe import Probe, ServerState, probe


@dataclass(frozen=True)
class PresetInfo:
    """One preset, as ``presets`` lists it; prices in USD per million tokens (None: unknown)."""

    name: str
    provider: str
    model: str
    base_url: str | None
    source: str
    key_env: list[str]
    #: None when the provider needs no key.
    key_present: bool | None
    input_per_mtok: float | None
    output_per_mtok: float | None
    simulated_price: bool
    fallbacks: list[str]
    max_concurrency: int
    #: For a preset that runs a program (an agent CLI): the command, whether it is found, its path and
    #: version, and how to install it; None for the others.
    binary: dict[str, Any] | None = None
    #: The routes (``[routes]``, or their defaults) that go to this preset.
    routes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def preset_names(root: Path | None) -> list[str]:
    """Every preset's name, sorted (nothing is started or checked: a choice to offer)."""
    return sorted(load_config(root).presets)


def presets(root: Path | None, config: Config | None = None) -> list[PresetInfo]:
    """Every preset, by name (of ``config``, else of the config ``root`` has)."""
    config = config or load_config(root)
    table = config.route_table()
    ordered = sorted(config.presets.values(), key=lambda p: p.name)
    with ThreadPoolExecutor(max_workers=8) as pool:  # each agent's --version starts a program
        installs = list(pool.map(lambda p: p.installed(), ordered))
    out = []
    for preset, installed in zip(ordered, installs, strict=True):
        price = unit_price(preset)
        out.append(PresetInfo(
            name=preset.name, provider=preset.provider, model=preset.model, base_url=preset.endpoint,
            source=preset.source, key_env=list(preset.key_envs), key_present=preset.key_present,
            input_per_mtok=price.input if price else None, output_per_mtok=price.output if price else None,
            simulated_price=preset.stand_in and price is not None,
            fallbacks=preset.fallbacks, max_concurrency=preset.max_concurrency,
            binary=None if installed is None else {**asdict(installed), "found": installed.path is not None},
            routes=[r for r, name in table.items() if name == preset.name]))
    return out


@dataclass(frozen=True)
class RouteInfo:
    """One route, as ``presets`` lists it: the preset it goes to (None: none) and where that was set."""

    name: str
    preset: str | None
    #: The config file that set it; None: the built-in default (``specrelay.config.ROUTE_DEFAULTS``).
    set_in: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def routes(root: Path | None, config: Config | None = None) -> list[RouteInfo]:
    """Every route, in the order ``[routes]`` documents them (of ``config``, else of ``root``'s)."""
    config = config or load_config(root)
    return [RouteInfo(name, preset, str(config.route_origins[name]) if name in config.route_origins else None)
            for name, preset in config.route_table().items()]


@dataclass(frozen=True)
class ServerCheck:
    """Whether one preset's server answers, as ``presets --check`` reports it."""

    name: str
    provider: str
    model: str
    base_url: str
    #: ok, refused, timeout, http, invalid, unreachable, offline (see :class:`ServerState`).
    state: str
    #: The HTTP status, when the server answered.
    http_status: int | None
    #: The model ids the server lists (None: it gave no list).
    served: list[str] | None
    #: Whether the preset's model is among them (None: unknown, no list).
    model_served: bool | None
    detail: str
    latency_s: float

    @property
    def ok(self) -> bool:
        """The server answered with a list that has the preset's model."""
        return self.state == ServerState.OK and bool(self.model_served)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def checked(preset: Preset) -> bool:
    """The presets ``--check`` asks about: every ``openai-compatible`` one (a server the user runs or
    picked) and any other served from this machine."""
    url = preset.endpoint
    return bool(url) and (preset.provider == "openai-compatible" or is_loopback(url or ""))


#: The seconds ``--check`` may give each server: a probe longer than ten minutes is not a check, and the
#: socket layer cannot wait forever (an infinite or huge timeout overflows its clock).
TIMEOUT_RANGE_S = (0.1, 600.0)


def check_timeout(timeout: float) -> None:
    """Refuse a ``--timeout`` that is not a finite number of seconds in :data:`TIMEOUT_RANGE_S`."""
    low, high = TIMEOUT_RANGE_S
    if not (math.isfinite(timeout) and low <= timeout <= high):
        raise UserError(f"--timeout {timeout:g}: the seconds each server has to answer must be from {low:g} "
                        f"to {high:g}, e.g. --timeout 2.")


def check_servers(root: Path | None, *, timeout: float = 2.0) -> list[ServerCheck]:
    """Ask each checked preset's server for its models, all at once, at most ``timeout`` s each.

    Presets that share a base URL and key share one request. With the offline switch on (tests),
    only servers on this machine are asked. A ``timeout`` outside :data:`TIMEOUT_RANGE_S` is refused.
    """
    check_timeout(timeout)
    chosen = [p for p in sorted(load_config(root).presets.values(), key=lambda p: p.name) if checked(p)]
    targets = list(dict.fromkeys((p.endpoint or "", p.api_key()) for p in chosen))
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(targets)))) as pool:
        found = dict(zip(targets, pool.map(lambda t: _probe(t[0], t[1], timeout), targets), strict=True))
    return [_check(p, found[(p.endpoint or "", p.api_key())]) for p in chosen]


def _probe(url: str, key: str | None, timeout: float) -> Probe:
    if offline() and not is_loopback(url):
        return Probe(url, ServerState.OFFLINE, detail="not asked: offline (SPECRELAY_OFFLINE is set)")
    return probe(url, timeout=timeout, api_key=key)


def _check(preset: Preset, found: Probe) -> ServerCheck:
    served = None if found.models is None else list(found.models)
    return ServerCheck(name=preset.name, provider=preset.provider, model=preset.model,
                       base_url=preset.endpoint or "", state=found.state.value, http_status=found.status,
                       served=served, model_served=None if served is None else _served(preset.model, served),
                       detail=found.detail, latency_s=found.latency_s)


def _served(model: str, served: list[str]) -> bool:
    """Whether a server listing ``served`` answers to ``model``; Ollama takes a name without a tag
    as its ``:latest``."""
    return model in served or (":" not in model and f"{model}:latest" in served)

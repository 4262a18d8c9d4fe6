"""The backend registry: the one door through which a backend (an executor) joins specrelay.

A backend registers itself with :func:`register_backend`, naming the class that runs calls and the
preset type(s) it serves. A preset type is a :class:`~specrelay.config.Preset` subclass whose
``provider`` field is a ``Literal`` of one name: the value a ``[presets.NAME]`` table's ``provider``
takes to be served by that backend, so the backend brings its own preset fields. The config reads
presets through this registry, as a union discriminated by ``provider``.

The built-in backends register through the same door as a plugin's: their modules are listed in
:data:`BUILTIN` and imported on first use; a plugin package adds its own through the
``specrelay.backends`` entry-point group, whose entries name a module (imported, registering as it
goes) or a callable (called once with no argument).

This module sits beside ``config`` at the bottom of the layers and imports nothing of specrelay but
``errors`` (it only names the built-in modules), so that ``config`` can ask it and ``llm`` can fill it. That is why
it types a preset type and a backend as ``type[Any]``: they are a :class:`specrelay.config.Preset`
subclass and a :class:`specrelay.llm.Backend` subclass, which ``config`` and ``llm`` read them as.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from typing import Any

#: The modules that register specrelay's own backends.
BUILTIN = ("specrelay.llm.backends.pydanticai", "specrelay.llm.backends.scripted", "specrelay.llm.backends.agents")
#: The entry-point group through which a plugin package registers a backend.
ENTRY_POINT_GROUP = "specrelay.backends"


@dataclass(frozen=True)
class Registered:
    """One ``provider`` name: the preset type it is read as and the backend that serves it."""

    provider: str
    #: A specrelay.config.Preset subclass.
    preset: type[Any]
    #: A specrelay.llm.Backend subclass.
    backend: type[Any]


_registered: dict[str, Registered] = {}
_lock = threading.RLock()
_loaded = False


def register_backend(backend: type[Any], *presets: type[Any]) -> None:
    """Register ``backend`` (a :class:`specrelay.llm.Backend` subclass) as the server of each preset
    type in ``presets`` (:class:`specrelay.config.Preset` subclasses).

    Registering a provider name again replaces its entry (a plugin may override a built-in).
    """
    if not presets:
        raise TypeError(f"register_backend({backend.__name__}) needs at least one preset type")
    if not callable(getattr(backend, "complete", None)):
        raise TypeError(f"{backend.__name__} is not a backend: it has no complete() method")
    with _lock:
        for preset in presets:
            _registered[provider_of(preset)] = Registered(provider_of(preset), preset, backend)


def provider_of(preset: type[Any]) -> str:
    """The one ``provider`` value a preset type declares (its field's ``Literal``)."""
    field = getattr(preset, "model_fields", {}).get("provider")
    args: tuple[object, ...] = getattr(field.annotation, "__args__", ()) if field is not None else ()
    if len(args) != 1 or not isinstance(args[0], str):
        raise TypeError(f"{preset.__name__}.provider must be a Literal of one name, "
                        f"e.g. provider: Literal[\"my-backend\"]")
    return args[0]


def registered() -> dict[str, Registered]:
    """Every registered provider name, built-in and plugins' (loaded on first call)."""
    _load()
    with _lock:
        return dict(_registered)


def lookup(provider: str) -> Registered | None:
    """The entry serving ``provider``, or None when no backend does."""
    return registered().get(provider)


def key_envs() -> set[str]:
    """Every environment variable a registered preset type reads a key from when none is named
    (what is scrubbed from a verify command's environment and from text bound for the ledger)."""
    return {str(env) for entry in registered().values() for env in entry.preset.default_key_envs}


def preset_keys() -> tuple[str, ...]:
    """The TOML keys some registered preset type takes, in declaration order, built-ins first."""
    keys: dict[str, None] = {}
    for entry in registered().values():
        keys.update(dict.fromkeys(str(k) for k in entry.preset.toml_keys()))
    return tuple(keys)


def _load() -> None:
    global _loaded
    if _loaded:
        return
    with _lock:
        if _loaded:
            return
        from importlib.metadata import entry_points  # here: only a command that reads presets pays for it

        for module in BUILTIN:
            importlib.import_module(module)
        for point in entry_points(group=ENTRY_POINT_GROUP):
            try:
                target: Any = point.load()
                if callable(target):
                    target()
            except Exception as exc:  # a broken plugin is the user's to fix or remove, not an internal error
                from specrelay.errors import ConfigError

                raise ConfigError(f"the backend plugin '{point.name}' ({point.value}) failed to load: {exc}. "
                                  "Fix or uninstall the package that provides it.") from exc
        _loaded = True

"""Configuration: built-in presets, then the user's config, then the project's, merged field by field.

Layers, later wins per field:

1. ``specrelay/data/presets.toml`` (built-in, shipped with the package)
2. ``$SPECRELAY_HOME/config.toml`` (user; default ``~/.config/specrelay/config.toml``)
3. ``.specrelay/config.toml`` at the repository's root (project)

Every error names the file, the table and the field, and says what was expected.

A preset is read as the type its ``provider`` names in the backend registry (:mod:`specrelay.registry`):
the fields every preset has are :class:`Preset`'s, a backend adds its own in a subclass.
"""

from __future__ import annotations

import difflib
import functools
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from specrelay import paths, registry
from specrelay.errors import ConfigError, PresetError

Source = Literal["built-in", "user", "project"]


class _Strict(BaseModel):
    # strict: a TOML value is taken as written, never converted ("5" is not a number, true is not 1);
    # a TOML integer still fills a float field (task_usd = 5). NaN and infinities are refused.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


#: A string that is not empty or only spaces (a name, a command, a path).
Text = Annotated[str, Field(min_length=1, pattern=r"\S")]


class Price(_Strict):
    """A price override in USD per million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_read: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)


@dataclass(frozen=True)
class Installed:
    """Whether the program a preset runs (an agent CLI) is installed: its path and version (None: not found,
    or no version printed), and the command that installs it."""

    command: str
    path: str | None
    version: str | None
    install: str


class Preset(_Strict):
    """A named model configuration, with where it was defined: the fields every backend's presets have.

    A backend's preset type subclasses this with ``provider: Literal["its-name"]`` and its own fields,
    and overrides the hooks below that differ for it.
    """

    provider: str
    model: Text
    #: The env var the key is read from, instead of the backend's usual ones.
    api_key_env: Text | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, gt=0)
    #: The fewest output tokens a budget may lower this preset's calls to (default: by phase).
    min_output_tokens: int | None = Field(default=None, gt=0)
    #: Tokens the model takes in and writes per call (default: from genai-prices, when it knows).
    context_window: int | None = Field(default=None, gt=0)
    price: Price | None = None
    fallbacks: list[Text] = Field(default_factory=list)
    max_concurrency: int = Field(default=4, ge=1)
    timeout_s: float = Field(default=600.0, gt=0)
    #: "answer": a step's call is answered once; "agent": implement and review steps run specrelay's
    #: bounded tool loop (read, search, edit, run the user's checks), which needs a backend that calls tools.
    mode: Literal["answer", "agent"] = "answer"
    #: The most turns (model calls) an agent-mode step may take; a step's ``max-turns:`` overrides it.
    max_turns: int = Field(default=40, ge=1)
    #: Whose models this is (anthropic, openai, google, qwen, ...), for a step that wants another family
    #: than a preset's (a debate's challenger); unset: the backend's guess (:meth:`guessed_family`).
    family: Text | None = None
    #: The model takes images and PDFs (``--attach``): a step on this preset is shown a task's attachments;
    #: a plan or review step given attachments needs it.
    vision: bool = False
    #: With ``[backend] kind = "temporal"``: the task queue a step on this preset runs on (the workers
    #: started with ``--queue`` of that name: the machines that have its agent, key or server).
    queue: Text | None = None

    name: str
    source: Source
    #: The config file each field came from; key "" is the file that first defined the preset.
    origins: dict[str, Path]

    #: The env vars a key is read from when the preset names none; first found wins (empty: no key).
    default_key_envs: ClassVar[tuple[str, ...]] = ()
    #: True for a stand-in that answers for a real model it is priced as: its costs are simulated.
    stand_in: ClassVar[bool] = False

    @classmethod
    def toml_keys(cls) -> tuple[str, ...]:
        """The keys a ``[presets.NAME]`` table of this type may hold."""
        return tuple(k for k in cls.model_fields if k not in ("name", "source", "origins"))

    @property
    def key_envs(self) -> tuple[str, ...]:
        """The env vars this preset's key may come from (empty: no key needed)."""
        return (self.api_key_env,) if self.api_key_env else self.default_key_envs

    def api_key(self) -> str | None:
        """The key from the environment, or None. Never stored or printed anywhere."""
        for env in self.key_envs:
            value = os.environ.get(env)
            if value:
                return value
        return None

    @property
    def key_present(self) -> bool | None:
        """True/False when a key is needed, None when the provider needs none."""
        if not self.key_envs:
            return None
        return self.api_key() is not None

    @property
    def endpoint(self) -> str | None:
        """Where the model is served, when the preset says (a base URL); None: the provider's default."""
        return None

    @property
    def concurrency_key(self) -> str:
        """Calls that share this key share one concurrency limit (one provider endpoint)."""
        return self.provider

    def price_model(self) -> tuple[str, str | None] | None:
        """The (model id, genai-prices provider id or None) this preset's calls are priced as; None
        when no price table entry applies (the cost is unknown unless ``price`` is set)."""
        return self.model, self.provider

    def guessed_family(self) -> str:
        """The family of this preset's model when ``family`` is not set: the provider's name (an API
        provider serves its own models); a backend that serves many families guesses from the model."""
        return self.provider

    @property
    def family_name(self) -> str:
        """The family this preset's model belongs to: ``family`` when set, else the backend's guess."""
        return self.family or self.guessed_family()

    def installed(self) -> Installed | None:
        """Whether the program this preset runs is installed; None for a preset that runs none (a model
        served over HTTP)."""
        return None

    def priced_as(self, model: str) -> Preset:
        """This preset as priced for a call that ``model`` answered (the preset itself: its calls are
        priced as its own model; a preset that leaves the model to its backend prices what answered)."""
        return self

    def check(self) -> None:
        """Refuse, with a ConfigError naming the file and field, fields that are each valid but do not
        go together (called once the preset's layers are merged)."""

    def where(self, field: str) -> Path:
        """The config file that set ``field`` (else the one that first defined the preset)."""
        return self.origins.get(field, self.origins[""])

    def setting(self, field: str) -> str:
        """Where the user sets ``field`` of this preset, in words: ``max_tokens in [presets.P] of FILE``.

        A field that came from the built-in presets is set by overriding it: in the user's or the
        project's config file that already has a ``[presets.P]`` table (the project's first), else in
        either (the package's own file is not the user's to edit)."""
        builtin = paths.data_dir() / "presets.toml"
        path = self.where(field)
        if path == builtin:
            own = sorted({p for p in self.origins.values() if p != builtin},
                         key=lambda p: p.parent.name != paths.PROJECT_DIRNAME)
            if not own:
                return (f"{field} in [presets.{self.name}] of your config ({paths.user_config()} or the "
                        "project's .specrelay/config.toml, which override the built-in preset)")
            path = own[0]
        return f"{field} in [presets.{self.name}] of {path}"


#: The kinds of work a preset can be routed to (``[routes]``; ``agent: @plan`` in a workflow).
ROUTE_NAMES = ("plan", "implement", "review", "research", "search", "ask", "vision")

#: The preset a route takes when no config sets it: what the built-in workflows named before routes
#: existed, so that a config without ``[routes]`` runs them as before (vision has none: set it).
ROUTE_DEFAULTS: dict[str, str] = {"plan": "opus-planner", "implement": "flash-builder", "review": "gpt-reviewer",
                                  "research": "flash-builder", "search": "flash-builder",
                                  "ask": "sonnet-reviewer"}


class Routes(_Strict):
    """Which preset each kind of work goes to: a workflow step's ``agent: @ROUTE``, ``ask --route``, and
    the preset a command uses when none is given (``ask``; ``review``, for ``specrelay review``)."""

    plan: Text | None = None
    implement: Text | None = None
    review: Text | None = None
    research: Text | None = None
    search: Text | None = None
    ask: Text | None = None
    vision: Text | None = None


class Verify(_Strict):
    """The project's own verification commands, run in the task's worktree."""

    commands: list[Text] = Field(default_factory=list)
    timeout_s: float = Field(default=600.0, gt=0)
    max_attempts: int = Field(default=2, ge=0)


class Agent(_Strict):
    """What specrelay's agent loop may run: the user's own commands, by name (``run_check``)."""

    #: Commands an agent may run (the ``[verify] commands`` when empty), each exactly as written here.
    commands: list[Text] = Field(default_factory=list)


class Budget(_Strict):
    """Spending limits."""

    task_usd: float | None = Field(default=None, gt=0)
    ask_usd: float | None = Field(default=None, gt=0)


class Retry(_Strict):
    """How provider calls are retried before fallbacks are tried."""

    attempts: int = Field(default=4, ge=1)
    backoff_s: float = Field(default=1.0, ge=0)
    max_backoff_s: float = Field(default=60.0, ge=0)


class Review(_Strict):
    """How review panels are consolidated."""

    min_agreement: int | None = Field(default=None, ge=1)
    consolidate: Text | None = None


class Backend(_Strict):
    """What runs the tasks: this process (``local``), or workers of a Temporal cluster (``temporal``)."""

    kind: Literal["local", "temporal"] = "local"
    #: The Temporal frontend, ``host:port``.
    address: Text = "127.0.0.1:7233"
    namespace: Text = "default"
    #: The task queue the tasks' workflows, and steps whose preset names no queue of its own, go to.
    queue: Text = "specrelay"
    #: The git remote (a name of this repository's, or a URL) tasks travel through to workers on other
    #: machines; empty: the workers share this repository's folder (one machine, or a disk they share).
    remote: Text = ""
    #: How many times a step is tried (on any worker of its queue: one died, one lacks its agent or cannot
    #: reach the remote) before its task pauses with the reason.
    step_attempts: int = Field(default=8, ge=1, le=100)


SECTIONS: dict[str, type[_Strict]] = {
    "routes": Routes,
    "verify": Verify,
    "budget": Budget,
    "retry": Retry,
    "review": Review,
    "agent": Agent,
    "backend": Backend,
}
TOP_KEYS = ("presets", *SECTIONS)


@dataclass
class Config:
    """The merged configuration of built-in data, the user's file and the project's file."""

    presets: dict[str, Preset]
    routes: Routes = field(default_factory=Routes)
    verify: Verify = field(default_factory=Verify)
    budget: Budget = field(default_factory=Budget)
    retry: Retry = field(default_factory=Retry)
    review: Review = field(default_factory=Review)
    agent: Agent = field(default_factory=Agent)
    backend: Backend = field(default_factory=Backend)
    files: list[Path] = field(default_factory=list)
    #: The config file that set each route (a route missing here takes :data:`ROUTE_DEFAULTS`).
    route_origins: dict[str, Path] = field(default_factory=dict)

    def preset(self, name: str) -> Preset:
        """The preset called ``name``, or a PresetError listing the known ones."""
        try:
            return self.presets[name]
        except KeyError:
            raise PresetError(unknown_preset_message(name, self.presets)) from None

    def families(self) -> dict[str, str]:
        """Each preset and its model's family (:attr:`Preset.family_name`)."""
        return {name: preset.family_name for name, preset in self.presets.items()}

    def secret_envs(self) -> set[str]:
        """Every variable an API key may be read from: each preset's, and each backend's usual ones (a
        preset overridden to scripted no longer names OPENAI_API_KEY, but the key is still there). What
        the user's commands, an agent of another provider and the ledger never see."""
        return registry.key_envs() | {env for p in self.presets.values() for env in p.key_envs}

    def route(self, name: str) -> str | None:
        """The preset route ``name`` goes to: the config's, else its default (None: neither sets one).
        A name that is not a route is a ConfigError listing the routes."""
        if name not in ROUTE_NAMES:
            raise ConfigError(unknown_route_message(name))
        configured: str | None = getattr(self.routes, name)
        return configured or ROUTE_DEFAULTS.get(name)

    def route_table(self) -> dict[str, str | None]:
        """Every route and the preset it goes to (None: no preset; ``[routes] NAME`` sets one)."""
        return {name: self.route(name) for name in ROUTE_NAMES}


def unknown_route_message(name: str) -> str:
    """The one message for a route name that is not one (``ask --route``, ``agent: @NAME``)."""
    close = difflib.get_close_matches(name, ROUTE_NAMES, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return f"'{name}' is not a route.{hint} Routes: {', '.join(ROUTE_NAMES)} (set them in [routes] of your config)."


def unset_route_message(name: str) -> str:
    """The one message for a route no config points at a preset."""
    return (f"route '{name}' names no preset: set [routes] {name} = \"PRESET\" in .specrelay/config.toml "
            "(`specrelay presets` lists the presets and the routes).")


def unknown_preset_message(name: str, known: Any) -> str:
    names = sorted(known)
    close = difflib.get_close_matches(name, names, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return (f"unknown preset '{name}'.{hint} Known presets: {', '.join(names)}. "
            "Define new ones as [presets.NAME] in .specrelay/config.toml; `specrelay presets` lists them all.")


def missing_keys_error(missing: dict[str, str], fix: str) -> PresetError:
    """The one message for presets whose API key is not set. ``missing`` maps each preset to the
    variables it reads (``"A or B"``); ``fix`` is what to do instead, in the words of the command
    (a workflow's steps, ``review --preset``, ``ask --preset``)."""
    one = len(missing) == 1 and " or " not in next(iter(missing.values()))
    listed = "; ".join(f"{name} needs {envs}" for name, envs in missing.items())
    first = next(iter(missing.values())).split(" or ")[0]
    return PresetError(f"missing API key{'' if one else 's'}: {listed}. Set {'it' if one else 'them'} in your "
                       f"environment (e.g. `export {first}=...`; keys are never stored), or {fix}.")


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; errors name the file and the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save the config as UTF-8.") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}. Fix the syntax at that line.") from exc


def _check_keys(path: Path, where: str, raw: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [{where}] must be a table, got {type(raw).__name__}.")
    for key in raw:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ConfigError(f"{path}: [{where}] has unknown field '{key}'.{hint} "
                              f"Allowed: {', '.join(allowed)}.")
    return raw


#: What a type error expected, in TOML's words (strict: nothing is converted).
_EXPECTED = {
    "float_type": "a number", "int_type": "a whole number", "string_type": "a string",
    "bool_type": "true or false", "list_type": "a list, e.g. [\"a\", \"b\"]", "model_type": "a table",
    "dict_type": "a table",
}


def _toml_value(value: Any) -> str:
    """``value`` with its TOML type: ``'5' (a string)``, ``true (a boolean)``."""
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, str):
        return f"{value!r} (a string)"
    if isinstance(value, int | float):
        return f"{value!r} (a number)"
    kind = "a list" if isinstance(value, list) else "a table" if isinstance(value, dict) else "a value"
    return f"{value!r} ({kind})"


def _field_error(path_of: dict[str, Path], where: str, exc: ValidationError, default: Path,
                 field: str | None = None) -> ConfigError:
    """One line for the first error of ``exc``; ``field``: the field a value alone was checked as."""
    err = exc.errors()[0]
    loc = (field, *err["loc"]) if field is not None else err["loc"]
    fld = str(loc[0]) if loc else ""
    path = path_of.get(fld, default)
    dotted = "".join(f"[{x}]" if isinstance(x, int) else f".{x}" for x in loc).lstrip(".")
    kind = err["type"]
    if kind == "missing":
        return ConfigError(f"{path}: [{where}] is missing required field '{dotted}'.")
    if kind in _EXPECTED:
        return ConfigError(f"{path}: [{where}] field '{dotted}' must be {_EXPECTED[kind]}, got "
                           f"{_toml_value(err.get('input'))}; values are taken as written, never converted.")
    if kind in ("string_pattern_mismatch", "string_too_short"):
        return ConfigError(f"{path}: [{where}] field '{dotted}' is empty; give it a value or remove it.")
    return ConfigError(f"{path}: [{where}] field '{dotted}': {err['msg']} (got {err.get('input')!r}).")


@functools.cache
def _foreign_field(key: str) -> TypeAdapter[Any]:
    """A validator for ``key`` as the first registered preset type that declares it checks it."""
    info = next(e.preset.model_fields[key] for e in registry.registered().values()
                if key in e.preset.model_fields)
    form: Any = Annotated[info.annotation, info]  # a type built at run time
    return TypeAdapter(form, config=_Strict.model_config)


def _check_provider(path: Path, name: str, provider: str) -> registry.Registered:
    """The backend serving ``provider``, or a ConfigError listing the ones that exist."""
    entry = registry.lookup(provider)
    if entry is None:
        known = ", ".join(sorted(registry.registered()))
        raise ConfigError(f"{path}: [presets.{name}] field 'provider' is {provider!r}, which no backend "
                          f"serves; use one of {known} (a plugin adds more through the "
                          f"'{registry.ENTRY_POINT_GROUP}' entry points).")
    return entry


def _typed_preset(name: str, raw: dict[str, Any], origins: dict[str, Path], source: Source) -> Preset:
    """A merged preset table read as the type its ``provider`` names (a union discriminated by provider).

    A field the provider's type does not take but another backend's does (``replies`` on an anthropic
    preset, or the ``base_url`` a built-in preset kept when moved to scripted) is checked as that
    backend checks it, then dropped: the preset's backend does not read it.
    """
    where = f"presets.{name}"
    provider = raw.get("provider")
    if provider is None:
        raise ConfigError(f"{origins['']}: [{where}] is missing required field 'provider'.")
    if not isinstance(provider, str):
        raise ConfigError(f"{origins['provider']}: [{where}] field 'provider' must be a string, got "
                          f"{_toml_value(provider)}; values are taken as written, never converted.")
    entry = _check_provider(origins["provider"], name, provider)
    preset_type: type[Preset] = entry.preset
    takes = preset_type.toml_keys()
    kept: dict[str, Any] = {}
    for key, value in raw.items():
        if key in takes:
            kept[key] = value
            continue
        try:
            _foreign_field(key).validate_python(value)
        except ValidationError as exc:
            raise _field_error(origins, where, exc, origins[""], field=key) from None
    try:
        return preset_type.model_validate({**kept, "name": name, "source": source, "origins": origins})
    except ValidationError as exc:
        raise _field_error(origins, where, exc, origins[""]) from None


@dataclass
class _Layer:
    path: Path
    source: Source
    data: dict[str, Any]


def _layers(root: Path | None, user: bool) -> list[_Layer]:
    builtin = paths.data_dir() / "presets.toml"
    layers = [_Layer(builtin, "built-in", read_toml(builtin))]
    candidates: list[tuple[Path, Source]] = [(paths.user_config(), "user")] if user else []
    if root is not None:
        candidates.append((paths.project_config(root), "project"))
    for path, source in candidates:
        if path.exists() and not path.is_file():  # never skipped as if absent: it was meant as the config
            what = "a directory" if path.is_dir() else "not a regular file"
            how = "`specrelay init` creates one" if source == "project" else "see the README's Presets and config"
            raise ConfigError(f"{path}: is {what}, not a config file. Move it aside and write the config "
                              f"as a TOML file there ({how}).")
        if path.exists():
            layers.append(_Layer(path, source, read_toml(path)))
    return layers


def load_config(root: Path | None, *, user: bool = True) -> Config:
    """Merge the built-in presets, the user's config and (inside a repository) the project's config.

    ``user=False`` leaves the user's config out (the demo must run the same for everyone).
    """
    layers = _layers(root, user)
    raw_presets: dict[str, dict[str, Any]] = {}
    origins: dict[str, dict[str, Path]] = {}
    sources: dict[str, Source] = {}
    sections: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    section_origins: dict[str, dict[str, Path]] = {name: {} for name in SECTIONS}
    for layer in layers:
        _check_keys(layer.path, "top level", layer.data, TOP_KEYS)
        presets = layer.data.get("presets", {})
        if not isinstance(presets, dict):
            raise ConfigError(f"{layer.path}: 'presets' must be tables like [presets.NAME].")
        for name, table in presets.items():
            keys = registry.preset_keys()
            if isinstance(table, dict) and isinstance(table.get("provider"), str) and table.keys() - set(keys):
                # A field no backend knows may be one of a backend that is not installed: say that first.
                _check_provider(layer.path, name, table["provider"])
            _check_keys(layer.path, f"presets.{name}", table, keys)
            raw_presets.setdefault(name, {}).update(table)
            origins.setdefault(name, {}).update({k: layer.path for k in table})
            origins[name].setdefault("", layer.path)  # where the preset was first defined
            sources[name] = layer.source
        for section in SECTIONS:
            if section in layer.data:
                table = _check_keys(layer.path, section, layer.data[section],
                                    tuple(SECTIONS[section].model_fields))
                sections[section].update(table)
                section_origins[section].update({k: layer.path for k in table})

    presets_out = {name: _typed_preset(name, raw, origins[name], sources[name])
                   for name, raw in raw_presets.items()}

    built: dict[str, Any] = {}
    for section, model in SECTIONS.items():
        try:
            built[section] = model.model_validate(sections[section])
        except ValidationError as exc:
            default = next(iter(section_origins[section].values()), layers[-1].path)
            raise _field_error(section_origins[section], section, exc, default) from None
    consolidate = built["review"].consolidate
    if consolidate is not None and consolidate not in presets_out:
        raise ConfigError(f"{section_origins['review']['consolidate']}: [review] consolidate: "
                          + unknown_preset_message(consolidate, presets_out))
    config = Config(presets=presets_out, files=[layer.path for layer in layers],
                    route_origins=dict(section_origins["routes"]), **built)
    _check_references(config, section_origins["routes"])
    return config


def _check_references(config: Config, route_origins: dict[str, Path]) -> None:
    """Fallbacks and routes must name presets that exist; a base_url must be an http(s) URL.
    (price_as is checked when a preset is about to be used: :func:`check_price_as`.)"""
    for preset in config.presets.values():
        for fb in preset.fallbacks:
            if fb not in config.presets:
                path = preset.origins.get("fallbacks", preset.origins[""])
                raise ConfigError(f"{path}: [presets.{preset.name}] fallbacks: "
                                  + unknown_preset_message(fb, config.presets))
        preset.check()
    for route, name in config.routes.model_dump().items():
        if name is not None and name not in config.presets:
            origin = route_origins.get(route)
            prefix = f"{origin}: [routes] {route}: " if origin else f"[routes] {route}: "
            raise ConfigError(prefix + unknown_preset_message(name, config.presets))


def is_http_url(url: str) -> bool:
    """True for an http:// or https:// URL with a host (and a port, if any, in range); False for anything
    else, a malformed one too (``http://[::1`` without its bracket, ``http://h:99999``)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - parsed only to refuse a port that is not a number from 0 to 65535
    except ValueError:  # urlsplit's own refusals: an unclosed IPv6 bracket, a bad port
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in url.strip()


def check_price_as(presets: Any) -> None:
    """Refuse a preset whose ``price_as`` names a model genai-prices does not know (its calls would
    all cost "unknown"), listing close matches. Called before a command uses the presets: the
    price table takes a quarter of a second to load, too slow for every command's config."""
    # price_as is a stand-in's field (scripted presets'); other presets have none.
    wanted = [p for p in presets if getattr(p, "price_as", None) and p.price is None]
    if not wanted:
        return
    from genai_prices import Usage as GUsage
    from genai_prices import calc_price
    from genai_prices.data import providers

    for preset in wanted:
        try:
            calc_price(GUsage(input_tokens=0, output_tokens=0), preset.price_as)
            continue
        except LookupError:
            pass
        known = sorted({m.id for provider in providers for m in provider.models})
        close = difflib.get_close_matches(preset.price_as, known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        where = preset.origins.get("price_as", preset.origins.get("", "?"))
        raise ConfigError(f"{where}: [presets.{preset.name}] price_as {preset.price_as!r} is a model the price "
                          f"table does not know.{hint} Name a known model, or set price = {{input = ..., "
                          "output = ...} (USD per million tokens).")

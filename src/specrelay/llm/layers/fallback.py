"""The fallback layer: the named preset, then each of its ``fallbacks`` in turn (skipping those whose
key is not set), and when all are exhausted one :class:`ProviderError` that names the provider, the
status and what to do. A preset whose context window the prompt does not fit
(:class:`~specrelay.errors.ContextOverflow`, from the window layer below, before anything is sent)
passes the call on to its fallbacks too; when none takes it, the named preset's overflow is raised,
saying that its fallbacks did not fit either."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace

from specrelay.config import Config, Preset, missing_keys_error
from specrelay.errors import ContextOverflow, FailureKind, ProviderError
from specrelay.llm.backend import AttemptFailed, Request
from specrelay.llm.layers.base import Call, CallHandler, CallResult, Run
from specrelay.llm.layers.record import redact
from specrelay.llm.layers.retry import PresetExhausted
from specrelay.llm.layers.window import check_window

#: What to do about a preset whose key is missing, when the call itself finds it (``ask`` says so sooner).
KEY_FIX = "pick a preset you have a key for (`specrelay presets` shows which keys are present)"


class Fallback:
    """Tries the call's preset, then its fallbacks."""

    def __init__(self, inner: CallHandler, run: Run) -> None:
        self.inner = inner
        self.run = run

    async def __call__(self, call: Call) -> CallResult:
        primary = self.run.config.preset(call.preset_name)
        if primary.key_present is False:
            raise missing_keys_error({primary.name: " or ".join(primary.key_envs)}, KEY_FIX)
        failures: list[str] = []
        last: PresetExhausted | None = None
        overflows: list[ContextOverflow] = []
        for preset, skipped in candidates(self.run.config, primary):
            if skipped:
                failures.append(f"{preset.name}: {skipped}")
                continue
            try:
                return await self.inner(replace(call, preset=preset))
            except PresetExhausted as exc:
                failures.append(f"{preset.name}: {exc}")
                last = exc
            except ContextOverflow as exc:  # nothing was sent: a fallback with a larger window may take it
                failures.append(f"{preset.name}: the prompt does not fit its context window of {exc.window:,} tokens")
                overflows.append(exc)
        if last is None:  # the primary is always tried: it did not fit, nor did any fallback
            raise too_large_for_all(overflows)
        raise ProviderError(redact(failure_message(primary, failures, last.failure), self.run.config),
                            provider=primary.provider, status=last.failure.status,
                            retry_after=last.failure.retry_after, kind=last.failure.kind)


def chain(config: Config, primary: Preset) -> list[Preset]:
    """The presets a call on ``primary`` may go to, in order: itself, then its fallbacks, each once."""
    names = [primary.name, *[n for n in primary.fallbacks if n != primary.name]]
    return [config.preset(n) for n in dict.fromkeys(names)]


def candidates(config: Config, primary: Preset) -> Iterator[tuple[Preset, str | None]]:
    """Each preset of ``primary``'s chain in turn, with why it is skipped (a fallback whose key is not
    set), or None when it is tried. The primary is always tried: a missing key there is an error first."""
    for preset in chain(config, primary):
        if preset is not primary and preset.key_present is False:
            yield preset, f"skipped, {' or '.join(preset.key_envs)} is not set"
        else:
            yield preset, None


def first_that_fits(config: Config, primary: Preset, request: Request, phase: str,
                    parts: Mapping[str, int]) -> Preset:
    """The preset a call on ``primary`` would be sent to as far as context windows go: the first of its
    chain whose window takes ``request`` (the window layer's rule, checked as these layers walk the
    chain); the overflow of them all, as the layers would raise it, when none does."""
    overflows: list[ContextOverflow] = []
    for preset, skipped in candidates(config, primary):
        if skipped:
            continue
        try:
            check_window(preset, request, phase, parts)
            return preset
        except ContextOverflow as exc:
            overflows.append(exc)
    raise too_large_for_all(overflows)


def too_large_for_all(overflows: list[ContextOverflow]) -> ContextOverflow:
    """The named preset's overflow, saying that its fallbacks (if it has any) did not fit either."""
    first, others = overflows[0], overflows[1:]
    if not others:
        return first
    also = ", ".join(f"{o.preset} ({o.window:,} tokens)" for o in others)
    return ContextOverflow(f"{str(first).rstrip('.')}; its fallbacks' windows are too small too: {also}.",
                           preset=first.preset, window=first.window, parts=first.parts)


def failure_message(primary: Preset, failures: list[str], last: AttemptFailed) -> str:
    """What happened to every preset tried, and what the user can do about the last failure."""
    where = primary.provider + (f" at {primary.endpoint}" if primary.endpoint else "")
    advice = {
        FailureKind.RATE_LIMIT: "the provider is rate-limiting: lower max_concurrency, wait, then "
                                "`specrelay resume`",
        FailureKind.SERVER: "the provider is failing; try again later (`specrelay resume` continues a task)",
        FailureKind.TIMEOUT: "the model did not answer in time; raise timeout_s or try again later",
        FailureKind.CONNECTION: "could not connect; check base_url and that the server is running",
        FailureKind.AUTH: f"the key was refused; check {' or '.join(primary.key_envs) or 'the key'}",
        FailureKind.REJECTED: "the request was refused; check the model id and settings of the preset",
        FailureKind.INVALID_OUTPUT: "the answer was not a usable reply; check that base_url serves the "
                                    "provider's API, and the server's own log",
    }.get(last.kind, "see the error above")
    advice = last.advice or advice
    return (f"preset {primary.name} ({where}) failed: {'; '.join(failures)}. What to do: {advice}; "
            "or set fallbacks = [...] on the preset.")

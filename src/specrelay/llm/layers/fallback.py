"""The fallback layer: the named preset, then each of its ``fallbacks`` in turn (skipping those whose
key is not set), and when all are exhausted one :class:`ProviderError` that names the provider, the
status and what to do."""

from __future__ import annotations

from dataclasses import replace

from specrelay.config import Preset, missing_keys_error
from specrelay.errors import FailureKind, ProviderError
from specrelay.llm.backend import AttemptFailed
from specrelay.llm.layers.base import Call, CallHandler, CallResult, Run
from specrelay.llm.layers.record import redact
from specrelay.llm.layers.retry import PresetExhausted

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
        for preset in self._chain(primary):
            if preset is not primary and preset.key_present is False:
                failures.append(f"{preset.name}: skipped, {' or '.join(preset.key_envs)} is not set")
                continue
            try:
                return await self.inner(replace(call, preset=preset))
            except PresetExhausted as exc:
                failures.append(f"{preset.name}: {exc}")
                last = exc
        assert last is not None  # the primary is always tried
        raise ProviderError(redact(failure_message(primary, failures, last.failure), self.run.config),
                            provider=primary.provider, status=last.failure.status,
                            retry_after=last.failure.retry_after, kind=last.failure.kind)

    def _chain(self, primary: Preset) -> list[Preset]:
        names = [primary.name, *[n for n in primary.fallbacks if n != primary.name]]
        return [self.run.config.preset(n) for n in dict.fromkeys(names)]


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

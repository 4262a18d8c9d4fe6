"""pydantic-ai's, the SDKs' and the socket's errors as :class:`~specrelay.llm.backend.AttemptFailed`,
classified for the retry layer, with the server's own message (not its JSON) and, for a context
overflow or an empty reply, what to do."""

from __future__ import annotations

from specrelay.config import Preset
from specrelay.errors import FailureKind
from specrelay.llm.backend import AttemptFailed


def translate_error(exc: Exception, preset: Preset) -> Exception:
    """Map pydantic-ai / SDK / socket errors to AttemptFailed; return anything else unchanged."""
    from pydantic_ai.exceptions import (
        ModelAPIError,
        ModelConnectionError,
        ModelHTTPError,
        ModelRequestTimeout,
        ModelTimeoutError,
        UnexpectedModelBehavior,
    )

    if isinstance(exc, ModelHTTPError):
        status = exc.status_code
        message = server_message(exc.body) or str(exc)
        return AttemptFailed(FailureKind.of_status(status), short(message), status=status,
                             retry_after=exc.retry_after,
                             advice=CONTEXT_ADVICE if is_context_overflow(exc.body) else None)
    if isinstance(exc, ModelTimeoutError | ModelRequestTimeout | TimeoutError):
        return AttemptFailed(FailureKind.TIMEOUT, f"no answer within the time limit ({preset.timeout_s:g} s)")
    if isinstance(exc, ModelConnectionError | ConnectionError):
        return AttemptFailed(FailureKind.CONNECTION, short(exc.__cause__ or exc))
    if isinstance(exc, ModelAPIError):
        return AttemptFailed(FailureKind.ERROR, short(exc), retry_after=exc.retry_after)
    if isinstance(exc, UnexpectedModelBehavior):
        if "ended without content" in str(exc):  # pydantic-ai's words for a stream that sent nothing
            return AttemptFailed(FailureKind.INVALID_OUTPUT, EMPTY_REPLY, advice=CONTEXT_ADVICE)
        return AttemptFailed(FailureKind.INVALID_OUTPUT, short(exc))
    return exc


#: A reply with no text and no error: what a local server sends when the prompt overflows its context.
EMPTY_REPLY = ("the server answered but sent no text and no error (an empty reply); a local server does "
               "this when the prompt does not fit its context size")
CONTEXT_ADVICE = ("make the prompt fit the model's context: raise the server's context size (llama.cpp "
                  "--ctx-size / n_ctx, Ollama num_ctx, vLLM --max-model-len), lower the preset's max_tokens, "
                  "or send less")


def server_message(body: object) -> str | None:
    """The message an error body carries (``{"error": {"message": ...}}``, ``{"message": ...}``, or
    text), without the rest of the JSON."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else None
        if isinstance(message, str):
            return message
        if isinstance(inner, str):
            return inner
    if isinstance(body, str) and body.strip():
        return body
    return None


def is_context_overflow(body: object) -> bool:
    """Whether an error body says the prompt did not fit the model's context (llama.cpp, vLLM, OpenAI,
    Anthropic and Gemini each word it their own way)."""
    text = str(body).lower()
    return any(sign in text for sign in ("context size", "context length", "context window",
                                         "context_length_exceeded", "exceed_context", "prompt is too long",
                                         "maximum context", "input token count"))


def short(value: object, limit: int = 300) -> str:
    """``value`` as one line of at most ``limit`` characters."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"

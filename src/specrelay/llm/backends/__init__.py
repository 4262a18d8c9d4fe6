"""The built-in backends, each registered through :func:`specrelay.registry.register_backend`.

``pydanticai``: API models (Anthropic, OpenAI, Google, any OpenAI-compatible server) answering once.
``scripted``: replies read from a file, for tests, the demo and dry runs.
Provider SDKs and pydantic-ai are imported only in these modules, inside functions.
"""

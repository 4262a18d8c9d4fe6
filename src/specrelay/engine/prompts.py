"""The system prompts specrelay ships as package data (``data/prompts/NAME.md``): what each phase is told."""

from __future__ import annotations

from specrelay import paths


def prompt(name: str) -> str:
    """The system prompt ``data/prompts/NAME.md``."""
    return (paths.data_dir() / "prompts" / f"{name}.md").read_text(encoding="utf-8")

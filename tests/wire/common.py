"""What the wire tests share: a preset table pointing at a fake server, the ledger `ask` wrote, the
cost genai-prices gives independently of specrelay, and the check that a key leaked nowhere."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

from conftest import run_cli, write_user_config

from specrelay.ledger import CallRow, Ledger

KEY = "sk-wire-test-0123456789abcdef"  # a key value that must appear nowhere but in a request header
FAST_RETRY = "[retry]\nattempts = 3\nbackoff_s = 0.01\nmax_backoff_s = 0.05\n"


def preset(name: str, provider: str, model: str, base_url: str, **fields: Any) -> str:
    """A [presets.NAME] table; ``fields`` as TOML values."""
    lines = [f"[presets.{name}]", f'provider = "{provider}"', f'model = "{model}"', f'base_url = "{base_url}"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in fields.items()]
    return "\n".join(lines) + "\n"


def ask(config: str, *args: str, env: dict[str, str] | None = None) -> CompletedProcess[str]:
    """``specrelay ask ARGS`` with ``config`` as the user's config."""
    write_user_config(FAST_RETRY + config)
    return run_cli("ask", *args, env=env)


def ledger_rows() -> list[CallRow]:
    """Every call the user's ledger holds (where `ask` outside a repository records)."""
    path = home() / "ledger.db"
    ledger = Ledger(path)
    try:
        return ledger.calls()
    finally:
        ledger.close()


def home() -> Path:
    return Path(os.environ["SPECRELAY_HOME"])


def genai_price(model: str, provider: str | None, *, input_tokens: int, output_tokens: int,
                cache_read: int = 0, cache_write: int = 0) -> float:
    """The cost genai-prices computes for these tokens, asked directly (not through specrelay)."""
    from genai_prices import Usage, calc_price

    usage = Usage(input_tokens=input_tokens, output_tokens=output_tokens,
                  cache_read_tokens=cache_read or None, cache_write_tokens=cache_write or None)
    return float(calc_price(usage, model, provider_id=provider).total_price)


def unit_price(model: str, provider: str | None, *, plain: int, output: int, cache_read: int = 0,
               cache_write: int = 0) -> float:
    """The same cost by hand, from genai-prices' per-million rates: plain input, cache reads, cache
    writes and output each at their own rate (small counts: the base tier)."""
    from genai_prices import Usage, calc_price

    price = calc_price(Usage(input_tokens=0, output_tokens=0), model, provider_id=provider).model_price

    def rate(value: Any) -> float:
        return float(getattr(value, "base", value) or 0)

    return (plain * rate(price.input_mtok) + cache_read * rate(price.cache_read_mtok)
            + cache_write * rate(price.cache_write_mtok) + output * rate(price.output_mtok)) / 1e6


def assert_no_key_anywhere(*outputs: CompletedProcess[str] | str) -> None:
    """The key is in no output, no file under the specrelay home (its ledger, logs, caches) and no
    ledger row."""
    for out in outputs:
        text = out if isinstance(out, str) else out.stdout + out.stderr
        assert KEY not in text
    for path in home().rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    db = home() / "ledger.db"
    if db.exists():
        with sqlite3.connect(db) as conn:
            for table, in conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall():
                for row in conn.execute(f"SELECT * FROM {table}"):  # noqa: S608  (names from sqlite itself)
                    assert KEY not in repr(row), table

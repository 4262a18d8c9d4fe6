"""Vision: ``run --attach`` and ``ask --attach`` show images and PDFs to the presets that take them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_clean_error, run_cli
from taskkit import ADD_SUB, SPEC, project, review

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n2 0 obj << /Type /Page >> endobj\n%%EOF\n"


def _vision(repo: Path, *names: str, off: tuple[str, ...] = ()) -> None:
    """Mark the scripted presets ``names`` as taking images, ``off`` as not (built-ins may say they do)."""
    config = repo / ".specrelay" / "config.toml"
    text = config.read_text()
    for name, on in [*((n, True) for n in names), *((n, False) for n in off)]:
        line = f'model = "scripted-{name}"\n'
        text = text.replace(line, line + f"vision = {'true' if on else 'false'}\n")
    config.write_text(text)


def _team(tmp_path: Path) -> Path:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB], "gpt-reviewer": [review()]})
    _vision(repo, "opus-planner", "gpt-reviewer", off=("flash-builder",))
    return repo


def _shot(tmp_path: Path, name: str = "screenshot.png", data: bytes = PNG) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _json(repo: Path, *args: str) -> Any:
    proc = run_cli(*args, "--json", cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def _no_task(repo: Path) -> None:
    tasks = repo / ".specrelay" / "tasks"
    assert not tasks.exists() or not any(tasks.iterdir())
    assert not (repo / ".specrelay" / "ledger.db").exists()


def test_attachments_reach_the_plan_and_review_calls_and_not_a_text_only_builder(tmp_path: Path) -> None:
    repo = _team(tmp_path)
    status = _json(repo, "run", "Make sub look like the screenshot", "--attach", str(_shot(tmp_path)),
                   "--attach", str(_shot(tmp_path, "design.pdf", PDF)))
    assert status["status"] == "done"
    shown = _json(repo, "show", status["id"])
    by_preset = {c["preset"]: c["context"] for c in shown["calls"]}
    assert by_preset["opus-planner"]["attachments"] == 1600 + 2 * 1600  # the image, and the PDF's two pages
    assert by_preset["gpt-reviewer"]["attachments"] == 4800
    assert "attachments" not in by_preset["flash-builder"]
    planner = next(c for c in shown["calls"] if c["preset"] == "opus-planner")
    assert planner["input_tokens"] >= 4800  # the estimate counts them
    # the task keeps them as artifacts, byte for byte
    assert {"attachments/screenshot.png", "attachments/design.pdf"} <= set(shown["artifacts"])
    folder = repo / ".specrelay" / "tasks" / status["id"] / "attachments"
    assert (folder / "screenshot.png").read_bytes() == PNG
    proc = run_cli("show", status["id"], "attachments/design.pdf", cwd=repo)
    assert proc.returncode == 0 and "%PDF" in proc.stdout


def test_an_attachment_for_a_text_only_planner_is_refused_before_any_task(tmp_path: Path) -> None:
    repo = _team(tmp_path)
    config = repo / ".specrelay" / "config.toml"
    config.write_text(config.read_text().replace('model = "scripted-opus-planner"\nvision = true\n',
                                                 'model = "scripted-opus-planner"\nvision = false\n'))
    proc = run_cli("run", "Add sub", "--attach", str(_shot(tmp_path)), cwd=repo)
    assert_clean_error(proc, "step 'Planning' (plan)", "preset 'opus-planner' cannot take images",
                       "vision = true")
    _no_task(repo)


def test_a_text_only_fallback_of_a_reviewer_is_refused_too(tmp_path: Path) -> None:
    repo = _team(tmp_path)
    config = repo / ".specrelay" / "config.toml"
    old = 'replies = "gpt-reviewer.json"\nprice_as = "gpt-5.4"\nfallbacks = []'
    config.write_text(config.read_text().replace(old, old.replace("[]", '["flash-builder"]')))
    proc = run_cli("run", "Add sub", "--attach", str(_shot(tmp_path)), cwd=repo)
    assert_clean_error(proc, "preset 'flash-builder' (a fallback of 'gpt-reviewer') cannot take images")
    _no_task(repo)


def test_bad_attachments_are_one_line_and_create_nothing(tmp_path: Path) -> None:
    repo = _team(tmp_path)
    (tmp_path / "folder").mkdir()
    notes = _shot(tmp_path, "notes.txt", b"just words\n")
    big = tmp_path / "huge.png"
    with big.open("wb") as out:
        out.write(PNG)
        out.truncate(20 * 1024 * 1024 + 1)
    cases = [(str(tmp_path / "missing.png"), "no such file"), (str(tmp_path / "folder"), "is a directory"),
             (str(notes), "not an image or PDF"), (str(big), "more than the 20 MB")]
    for path, needle in cases:
        proc = run_cli("run", "Add sub", "--attach", path, cwd=repo)
        assert_clean_error(proc, f"--attach {path}", needle)
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        _no_task(repo)
    twice = tmp_path / "other"
    twice.mkdir()
    proc = run_cli("run", "Add sub", "--attach", str(_shot(tmp_path)), "--attach", str(_shot(twice)), cwd=repo)
    assert_clean_error(proc, "two attachments are named screenshot.png")
    _no_task(repo)


def test_a_resumed_task_still_shows_its_attachments(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [], "gpt-reviewer": [review()]})
    _vision(repo, "opus-planner", "gpt-reviewer", off=("flash-builder",))
    first = run_cli("run", "Add sub", "--attach", str(_shot(tmp_path)), "--json", cwd=repo)
    task = json.loads(first.stdout)["id"]
    (repo / ".specrelay" / "flash-builder.json").write_text(json.dumps([ADD_SUB]))
    status = _json(repo, "resume", task)
    assert status["status"] == "done"
    calls = _json(repo, "show", task)["calls"]
    assert [c["context"].get("attachments") for c in calls if c["preset"] == "gpt-reviewer"] == [1600]
    assert len([c for c in calls if c["preset"] == "opus-planner"]) == 1  # the plan was not paid twice


def test_ask_attach_goes_to_a_vision_preset_and_is_refused_for_a_text_only_one(tmp_path: Path) -> None:
    repo = _team(tmp_path)
    (repo / ".specrelay" / "opus-planner.json").write_text(json.dumps(["It is a login form."]))
    shot = str(_shot(tmp_path))
    answer = _json(repo, "ask", "What is in the picture?", "--preset", "opus-planner", "--attach", shot)
    assert answer["text"] == "It is a login form."
    assert answer["input_tokens"] >= 1600
    proc = run_cli("ask", "What is in it?", "--preset", "flash-builder", "--attach", shot, cwd=repo)
    assert_clean_error(proc, "ask would be shown the attachments (screenshot.png)",
                       "preset 'flash-builder' cannot take images")
    proc = run_cli("ask", "What is in it?", "--preset", "opus-planner", "--attach", str(tmp_path / "nope.png"),
                   cwd=repo)
    assert_clean_error(proc, "no such file")


def test_the_pydantic_ai_wire_sends_attachments_as_binary_content_with_the_first_user_turn() -> None:
    from pydantic_ai.messages import BinaryContent, UserPromptPart

    from specrelay.llm.backend import Attachment, Message, Request
    from specrelay.llm.backends.pydanticai.backend import wire_messages

    shot = Attachment("screenshot.png", "image/png", PNG)
    request = Request((Message("system", "s"), Message("user", "look"), Message("assistant", "ok"),
                       Message("user", "again")), attachments=(shot,))
    first, _, last = wire_messages(request.messages, request.attachments)
    user = [p for p in first.parts if isinstance(p, UserPromptPart)][0]
    assert isinstance(user.content, list) and user.content[0] == "look"
    binary = user.content[1]
    assert isinstance(binary, BinaryContent) and binary.data == PNG and binary.media_type == "image/png"
    assert last.parts[0].content == "again"
    assert request.digest() != Request(request.messages).digest()  # a replay tells them apart
    assert Request(request.messages).attachment_tokens == 0 and request.attachment_tokens == 1600


def test_a_client_with_attachments_shows_them_to_a_vision_pydantic_ai_model_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from conftest import write_user_config
    from pydantic_ai.messages import BinaryContent, ModelRequest, ModelResponse, TextPart, UserPromptPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    from specrelay.config import load_config
    from specrelay.ledger import Ledger
    from specrelay.llm.backend import Attachment
    from specrelay.llm.client import Client

    seen: dict[str, list[object]] = {}

    def model(name: str) -> FunctionModel:
        def answer(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
            seen[name] = [c for m in messages for p in m.parts if isinstance(p, UserPromptPart)
                          for c in (p.content if isinstance(p.content, list) else [p.content])]
            return ModelResponse(parts=[TextPart("seen")])
        return FunctionModel(answer)

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    write_user_config('[presets.text-only]\nprovider = "openai"\nmodel = "gpt-5.5"\n')
    ledger = Ledger(tmp_path / "ledger.db")
    client = Client(load_config(None), ledger, models={"gpt-reviewer": model("gpt-reviewer"),
                                                        "text-only": model("text-only")},
                    attachments=(Attachment("shot.png", "image/png", PNG),))
    for name in ("gpt-reviewer", "text-only"):
        assert asyncio.run(client.call(name, "sys", "look", phase="review")).text == "seen"
    first, image = seen["gpt-reviewer"]
    assert first == "look" and isinstance(image, BinaryContent) and image.data == PNG
    assert seen["text-only"] == ["look"]
    contexts = [c.context() for c in ledger.calls() if c.preset in ("gpt-reviewer", "text-only")]
    assert [c.get("attachments") for c in contexts] == [1600, None]

"""``specrelay demo``: the whole loop on a sample project, offline, with scripted models.

The sample project, the request and every model reply ship as package data (``data/demo/``).
The presets are scripted stand-ins named after a realistic team, priced as the real models they
stand for (``price_as``), so the costs shown are simulated but realistic. With ``agent``, the builder
works in agent mode: its scripted replies call tools (read, search, edit, the project's own check).
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from specrelay import gitrepo, paths
from specrelay.errors import UserError
from specrelay.fsutil import atomic_write_text

#: preset name → (replies file, the real model it stands for)
TEAM = {
    "opus-planner": ("planner.json", "claude-opus-5-5"),
    "flash-builder": ("builder.json", "gemini-3.8-flash"),
    "gpt-reviewer": ("gpt-reviewer.json", "gpt-5.5"),
    "sonnet-reviewer": ("sonnet-reviewer.json", "claude-sonnet-5-5"),
    "gemini-reviewer": ("gemini-reviewer.json", "gemini-3.1-pro-preview"),
}


def demo_source() -> Path:
    return paths.data_dir() / "demo"


#: The placeholder, in the agent builder's replies, for the check command (this Python's unittest).
VERIFY_PLACEHOLDER = "$VERIFY"


def prepare_demo(target: Path | None, *, agent: bool = False) -> tuple[Path, str]:
    """Create the sample repository with its scripted team; returns (repo root, request)."""
    root = new_folder(target, "specrelay-demo-")
    shutil.copytree(demo_source() / "project", root, dirs_exist_ok=True)
    gitrepo.run_git(["init", "-q", "-b", "main"], root)
    gitrepo.commit_all(root, "textkit: word helpers")
    gitrepo.add_exclude(root)
    team = paths.project_dir(root) / "demo-team"
    shutil.copytree(demo_source() / "replies", team)
    agent_replies = team / "builder-agent.json"
    atomic_write_text(agent_replies, agent_replies.read_text(encoding="utf-8").replace(
        json.dumps(VERIFY_PLACEHOLDER), json.dumps(verify_command())))
    atomic_write_text(paths.project_config(root), _config(root, agent=agent))
    (paths.project_workflows(root)).mkdir(parents=True, exist_ok=True)
    request = (demo_source() / "request.md").read_text(encoding="utf-8").strip()
    return root, request


def new_folder(target: Path | None, prefix: str) -> Path:
    """``target`` (``--dir``), made if missing and refused unless empty, or a new temporary folder."""
    if target is None:
        target = Path(tempfile.mkdtemp(prefix=prefix))
    elif target.exists() and not target.is_dir():
        raise UserError(f"--dir {target}: is a file; give a new or empty folder for the sample repository.")
    elif target.exists() and any(target.iterdir()):
        raise UserError(f"--dir {target}: not an empty folder; give a new or empty folder.")
    root = target.resolve()
    root.mkdir(parents=True, exist_ok=True)
    return root


def verify_command() -> str:
    return f"{shlex.quote(sys.executable)} -m unittest -q"


def _config(root: Path, *, agent: bool) -> str:
    lines = ["# specrelay demo: scripted stand-ins for a real team; costs are simulated at real prices.", ""]
    for name, (replies, real) in TEAM.items():
        mode = []
        if agent and name == "flash-builder":
            replies, mode = "builder-agent.json", ['mode = "agent"', "max_turns = 10"]
        lines += [f"[presets.{name}]", 'provider = "scripted"', f'model = "scripted-{name}"',
                  f'replies = "demo-team/{replies}"', f'price_as = "{real}"', "delay_s = 0.05", "fallbacks = []",
                  *mode, ""]
    lines += ["[verify]", f"commands = [{json.dumps(verify_command())}]", "timeout_s = 120", ""]
    return "\n".join(lines)

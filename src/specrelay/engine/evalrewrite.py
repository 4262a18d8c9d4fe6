"""A history case's request rewritten by a preset: from the commit's message and its code diff into the
task a developer would have been given, which names the interface the hidden check relies on but does
not give the solution away.

The rewriter sees the message and the diff of the commit's non-test files only: the hidden check's own
files are never in its prompt, so they cannot leak through the request it writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from specrelay.engine.evalcases import Case, is_test_path
from specrelay.engine.prompts import prompt
from specrelay.errors import UserError
from specrelay.gitrepo import run_git
from specrelay.llm import Client, estimate_tokens

#: The phase a rewrite's call is recorded under.
PHASE = "eval-rewrite"
#: Characters of the code diff a rewrite is shown (its beginning; a longer diff is cut, and said to be).
DIFF_CHARS = 40000
#: The shortest added line of the diff that, found word for word in a rewritten request, counts as quoted.
QUOTE_CHARS = 12


def code_diff(root: Path, case: Case) -> str:
    """The diff of ``case``'s source commit against its base, of the files that are not tests."""
    names = run_git(["diff", "--name-only", "-z", "--no-renames", case.base, case.source], root).stdout
    code = [p for p in names.split("\0") if p and not is_test_path(p)]
    if not code:
        return ""
    return run_git(["diff", "--no-color", "--no-ext-diff", "--no-renames", case.base, case.source, "--", *code],
                   root).stdout


def rewrite_prompt(message: str, diff: str) -> str:
    """The user message of a rewrite: the commit's message, then its code diff (cut when too long)."""
    shown = diff if len(diff) <= DIFF_CHARS else diff[:DIFF_CHARS] + "\n[... the rest of the diff is left out]\n"
    return (f"The commit's message:\n\n~~~~\n{message.strip()}\n~~~~\n\n"
            f"The diff of its non-test files:\n\n~~~~diff\n{shown}~~~~\n")


@dataclass(frozen=True)
class Rewrite:
    """A rewritten request, and the lines of the commit's added code it quotes word for word (a sign it
    gives the solution away)."""

    text: str
    quoted: list[str]


def quoted_lines(text: str, diff: str) -> list[str]:
    """The lines the diff adds (of at least :data:`QUOTE_CHARS` characters, stripped) that ``text`` holds."""
    added = {line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")}
    return sorted(line for line in added if len(line) >= QUOTE_CHARS and line in text)


async def rewrite_request(client: Client, preset: str, root: Path, case: Case) -> Rewrite:
    """``case``'s request as ``preset`` rewrites it (one call, recorded in the ledger by ``client``)."""
    diff = code_diff(root, case)
    user = rewrite_prompt(case.request, diff)
    system = prompt("eval_rewrite")
    result = await client.call(preset, system, user, phase=PHASE, step=case.name,
                               context={"system": estimate_tokens(system), "commit": estimate_tokens(user)})
    text = result.text.strip()
    if not text:
        raise UserError(f"preset {result.preset} answered an empty request for case {case.name}; "
                        "try another --rewrite preset, or leave --rewrite out to keep the commit messages.")
    if result.truncated:
        raise UserError(f"preset {result.preset}'s request for case {case.name} stopped at its output cap; raise "
                        "the preset's max_tokens, or pick another --rewrite preset.")
    return Rewrite(text + "\n", quoted_lines(text, diff))

"""The agent loop: turn after turn, the model's tool calls answered, until it finishes or runs out of turns.

Each turn is one :meth:`~specrelay.llm.Client.send` through every layer (budget, retry, record, replay,
context window): a ledger row, priced, budget-checked. Its key is the step's key and the turn's number,
so a loop redone after an interruption takes the turns already recorded from the ledger while its
conversation is the same (the replay layer compares the request's digest), and pays for none twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from specrelay.engine.agent.tools import Toolbox
from specrelay.engine.agent.transcript import Transcript
from specrelay.errors import StepFailed
from specrelay.llm import CallResult, Client, Message, Request


class TurnsExhausted(StepFailed):
    """The loop reached its ``max_turns`` without finishing."""


@dataclass
class LoopResult:
    """How a loop ended: the model's last text (a review's JSON) or its ``finish`` summary."""

    text: str
    turns: int
    model: str
    finished: bool
    reused_turns: int = 0
    results: list[CallResult] = field(default_factory=list)


async def run_loop(client: Client, preset: str, system: str, user: str, toolbox: Toolbox, *, max_turns: int,
                   key: str, phase: str, step: str, transcript: Transcript | None = None,
                   raise_turns: str = "max_turns", on_turn: Callable[[CallResult], None] | None = None,
                   check: Callable[[str], str | None] | None = None) -> LoopResult:
    """Run the loop; ``key`` prefixes each turn's call key (``KEY.tN``). Raises :class:`TurnsExhausted`
    naming ``raise_turns`` (where to raise the bound) when ``max_turns`` turns end unfinished.

    ``check`` says what is wrong with a final answer (None: nothing), for an answer that must have a
    form (a review's JSON): the first time it finds a problem, the model is told and the loop goes on,
    once (with one turn more when that was the last); the caller judges the answer after that."""
    messages: list[Message] = [Message("system", system), Message("user", user)]
    result = LoopResult(text="", turns=0, model="", finished=False)
    repaired = False
    limit, turn = max_turns, 0
    while turn < limit:
        turn += 1
        request = Request(messages=tuple(messages), tools=toolbox.tools, cwd=toolbox.root)
        reply = await client.send(preset, request, phase=phase, step=step, key=f"{key}.t{turn}")
        if on_turn is not None:
            on_turn(reply)
        result.turns, result.model = turn, reply.model
        result.reused_turns += reply.reused
        result.results.append(reply)
        messages.append(Message("assistant", reply.text, tool_calls=reply.tool_calls))
        tools: list[dict[str, object]] = []
        entry: dict[str, object] = {"turn": turn, "text": reply.text, "reused": reply.reused,
                                    "input_tokens": reply.usage.input_tokens,
                                    "output_tokens": reply.usage.output_tokens, "cost_usd": reply.cost_usd,
                                    "tools": tools}
        finished = not reply.tool_calls
        for call in reply.tool_calls:
            answer = await toolbox.run(call)
            messages.append(Message("tool", answer.text, tool_call_id=call.id, tool_name=call.name))
            tools.append({"name": call.name, "arguments": dict(call.arguments), "ok": answer.ok,
                          "answer": answer.text})
            if answer.finished:
                finished = True
                result.text = answer.text
        problem = None
        if finished:
            if not any(c.name == "finish" for c in reply.tool_calls):
                result.text = reply.text
            problem = None if check is None or repaired else check(result.text)
            if problem is not None:
                entry["repair"] = problem
        if transcript is not None:
            transcript.add(entry)
        if finished:
            if problem is None:
                result.finished = True
                return result
            repaired = True
            limit = max(limit, turn + 1)  # a repair asked on the last turn gets its answer all the same
            messages.append(Message("user", f"Your final answer could not be used: {problem}\nAnswer again with "
                                    "only the JSON object described above, and nothing else."))
    raise TurnsExhausted(f"step '{step}': the agent did not finish within {max_turns} turns; raise {raise_turns}, "
                         "then resume the task (the step is redone)")

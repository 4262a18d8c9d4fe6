"""specrelay's own agent loop: a model works the task's worktree through a few tools, one ledger row a turn.

- ``tools``: what the model may do (list, read and search files, edit through the applier, create a file,
  run one of the user's own commands, finish), every path confined to the worktree;
- ``loop``: the bounded loop of turns, each one call through the client's layers;
- ``transcript``: the loop's turns as a JSON Lines artifact.
"""

from specrelay.engine.agent.loop import LoopResult, TurnsExhausted, run_loop
from specrelay.engine.agent.tools import Toolbox
from specrelay.engine.agent.transcript import Transcript

__all__ = ["LoopResult", "Toolbox", "Transcript", "TurnsExhausted", "run_loop"]

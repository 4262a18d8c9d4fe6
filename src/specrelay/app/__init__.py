"""The application layer: everything a face (the CLI, an MCP server, a dashboard) can do, as functions
with typed parameters that return typed results.

A face parses its input, calls these, and renders what they return; it needs nothing below this
layer but ``config``, ``paths``, ``errors`` and ``text``. Every result is a dataclass whose
``to_json()`` (where it has one) is the object the CLI's ``--json`` prints.

- :mod:`~specrelay.app.workspace`: the repository's root, its ledger
- :mod:`~specrelay.app.run`: ``run``, ``resume``, ``detach``; the exit-code policy of a run
- :mod:`~specrelay.app.events`: a run's events in ``tasks/<id>/events.jsonl``, and their reader
- :mod:`~specrelay.app.tasks`: ``status``, ``show``, artifacts, ``diff``, ``merge``, ``discard``, ``update``
- :mod:`~specrelay.app.views`: the typed status and summary of a task
- :mod:`~specrelay.app.cost`, :mod:`~specrelay.app.counterfactual`: ``cost``, and the one-model counterfactual
- :mod:`~specrelay.app.review`, :mod:`~specrelay.app.ask`: on-demand review; one prompt through one preset
- :mod:`~specrelay.app.gc`, :mod:`~specrelay.app.logs`, :mod:`~specrelay.app.presets`,
  :mod:`~specrelay.app.workflows`, :mod:`~specrelay.app.init`, :mod:`~specrelay.app.demo`

Submodules are imported by name (``from specrelay.app import tasks``), so that a command loads only
what it uses and the CLI starts fast.
"""

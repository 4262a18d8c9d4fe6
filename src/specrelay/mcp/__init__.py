"""The MCP face: specrelay as a Model Context Protocol server that another agent calls.

- :mod:`~specrelay.mcp.tools`: the tools, thin calls into the application layer (``specrelay.app``)
- :mod:`~specrelay.mcp.server`: the SDK's server over stdio or streamable HTTP, errors as tool errors

Only ``specrelay mcp`` imports this package: the SDK loads when a server starts, never for ``--help``.
"""

"""``python specrelay_with_note.py ARGS``: the specrelay CLI in a process where the note kind is registered."""

import note_kind  # noqa: F401  (registers the kind, as a plugin would)

from specrelay.cli import main

main()

"""``python specrelay_with_note.py ARGS``: the specrelay CLI in a process where the test kinds (note, halt)
are registered."""

import halt_kind  # noqa: F401  (registers the kind, as a plugin would)
import note_kind  # noqa: F401

from specrelay.cli import main

main()

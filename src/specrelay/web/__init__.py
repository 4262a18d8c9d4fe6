"""The dashboard: ``specrelay serve``, a local web app over the application layer, a face like ``cli/``.

Pages are rendered on the server (Jinja2 templates, Starlette routes, served by uvicorn); a little
JavaScript keeps them live through server-sent events. Every asset ships in the package: it works
offline. Nothing here is imported by ``specrelay --help``: the command imports :mod:`.server` when run.

- :mod:`.guard`: the token every request carries, and the CSRF check of every action
- :mod:`.server`: the app's routes, and serving it
- :mod:`.pages`: the pages (tasks, one task, cost, reviews); :mod:`.evalpages`: evaluation runs and
  their reports; :mod:`.actions`: resume, merge, discard
- :mod:`.live`: server-sent events for the task list and a task's page
- :mod:`.markup`: Markdown and diffs as HTML; :mod:`.charts`: inline SVG bars; :mod:`.format`: numbers
"""

"""Review, in a task or on demand, by one reviewer or a panel, decided by one verdict rule.

- :mod:`.document`: what a reviewer answers (the schema-checked :class:`~.document.Review`) and
  one reviewer's ``review.md``;
- :mod:`.verdict`: the one rule that decides a verdict from findings, for one reviewer and a panel;
- :mod:`.agreement`: a panel's findings merged by how many reviewers agree;
- :mod:`.report`: the merged review written out (``final_review.json`` / ``.md``, the builder's text);
- :mod:`.panel`: reviewers run concurrently on one fresh context, then merged;
- :mod:`.in_task`: the review step of a task (its context, one reviewer or a panel);
- :mod:`.on_demand`: ``specrelay review`` of a diff, a range or a task.

The modules are imported by name; this package imports none of them, so that importing one does
not import the rest.
"""

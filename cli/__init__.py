"""The ops CLI's command groups; ``starter.py`` is the entry point that assembles them.

- ``context``: the per-run Context (settings, store, services, output) and the ``command``
  wrapper every command uses.
- ``failures``: the group that turns every failure into the error contract.
- ``params``: option types shared by the commands (ids, display names).
- one module per group of commands: ``data``, ``requests``, ``seller``, ``reads``,
  ``partners``, ``campaigns``, ``removal``.
"""

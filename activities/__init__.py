"""Temporal activities: thin, idempotent adapters from workflows to the store, mail and grants."""

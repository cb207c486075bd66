"""Data shapes of the shop-access service: enums, tables, messages, settings, error codes."""

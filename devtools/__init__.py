"""Developer tooling, above everything it starts: the quick start and its demo data, the
embedded Temporal dev server, the production shape on one machine, the errors.md table."""

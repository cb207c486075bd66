"""What the CLI, the web app and the tests share: the Temporal connection, signed links,
and the client-side operations on requests."""

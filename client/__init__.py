"""Client operations shared by the CLI, the ops API and the seller's pages: the Temporal
connection, signed links and the operations on requests, partners, bulk requests, end
dates, webhooks and the audit export (every one a workflow start, update or store read)."""

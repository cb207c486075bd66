"""The system of record: engine set-up, transactions, and the rules that need the database."""

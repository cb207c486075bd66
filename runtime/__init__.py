"""The process runtime of the worker and the link handler: the workflow sandbox, health
checks and endpoints, metrics, tracing, logging (with token redaction) and the start-up
heap; ``doctor``'s checks of a set-up."""

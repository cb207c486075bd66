"""The seller's link handler: approval pages for R10-R13 and partner management (R15).

Thin over ``service.requests.RequestService`` (every decision is a workflow update) and
the store's read models. Built by :func:`web.app.create_app`; ``python -m web`` serves it.
"""

"""The seller's pages of the link handler: approval pages for R10-R13, partner management
(R15, R19) and invitations (R16, R17).

Thin over ``RequestService`` and ``PartnerService`` (every decision is a workflow) and the
store's read models (store/seller_views.py, store/partner_views.py). Built by
:func:`linkhandler.app.create_app` with the ops API (api/); ``python -m linkhandler`` serves
both.
"""

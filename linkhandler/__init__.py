"""The seller link handler process: composes the seller's pages (web/) and the ops API
(api/) into one FastAPI app (``create_app``); ``python -m linkhandler`` serves it."""

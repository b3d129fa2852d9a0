"""The Dashboard: a single-page app served by the Gateway at `/` (see `web/README.md`)."""

"""Sign-in: login sessions, API tokens, first-run setup, `/api/auth`, and
turning a credential into a Principal."""

"""Connections: a tenant's named credentials for external services (API keys, bearer tokens,
basic credentials), sealed by the vault and referenced elsewhere as `{{vault:<name>}}`."""

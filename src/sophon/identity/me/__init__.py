"""The caller as the Gateway sees them."""

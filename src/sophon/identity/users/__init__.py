"""Users and their membership of tenants."""

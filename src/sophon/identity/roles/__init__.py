"""Roles: the built-ins and custom roles."""

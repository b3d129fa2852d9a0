"""Sophon Gateway: a self-hosted AI agent platform."""

__version__ = "0.1.0"
API_VERSION = "v1"

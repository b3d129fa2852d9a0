"""Memory learned in the background: extraction, daily logs, forgetting, their jobs."""

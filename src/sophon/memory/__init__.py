"""Long-term memory: entries, search, the entity graph, daily logs and forgetting."""

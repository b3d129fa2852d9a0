"""The entity graph: entities and relations, their extractors, walking the graph."""

"""Tools an agent may call: the registry, and (in `builtins`) the Gateway's own tools."""

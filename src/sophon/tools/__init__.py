"""Tools an agent may call: the registry, invoking a tool, the Gateway's own tools (in
`builtins`), and the `/api/tools` catalog."""

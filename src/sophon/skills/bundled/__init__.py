"""Skills that ship with every Gateway (each folder is a skill package)."""

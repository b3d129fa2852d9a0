"""Skills: signed, versioned packages of instructions (SKILL.md) and sandboxed tools."""

"""Memory entries: the rows and their versions, the full-text index, who may see them."""

"""Memory search: lexical ranking, embeddings and the vector index."""

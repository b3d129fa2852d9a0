"""Documents: upload, extraction in a sandboxed child process, chunks in the full-text and vector
indexes memory search uses, hybrid search, and model work (summaries, structured extraction,
comparison, questions) with citations to the chunks."""

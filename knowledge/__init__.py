"""Knowledge: HTML→text, chunks, embedders, the vector index, incremental sync and search."""

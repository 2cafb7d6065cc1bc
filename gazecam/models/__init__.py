"""Model families (pure torch modules and state-dict converters; no file or network I/O)."""

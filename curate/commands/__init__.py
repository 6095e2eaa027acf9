"""One module per ``curate`` command: thin click adapters over the curate library."""

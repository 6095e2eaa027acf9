"""Judge, deduplicate, screen and export what the harvest recorded."""

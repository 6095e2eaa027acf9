"""`curate review`: the keyboard-driven screening app and the duplicate-group walk."""

"""The root of every error synthset raises on purpose."""


class SynthsetError(Exception):
    """An expected failure; the CLIs print its message and exit with code 1."""

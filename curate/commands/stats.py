"""`curate stats` (placeholder until implemented)."""

import click


@click.command("stats")
def stats() -> None:
    """Not implemented yet."""
    raise click.ClickException("curate stats is not implemented yet")

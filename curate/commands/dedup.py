"""`curate dedup` (placeholder until implemented)."""

import click


@click.command("dedup")
def dedup() -> None:
    """Not implemented yet."""
    raise click.ClickException("curate dedup is not implemented yet")

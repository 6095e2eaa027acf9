"""`curate check` (placeholder until implemented)."""

import click


@click.command("check")
def check() -> None:
    """Not implemented yet."""
    raise click.ClickException("curate check is not implemented yet")

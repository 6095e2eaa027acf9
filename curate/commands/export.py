"""`curate export` (placeholder until implemented)."""

import click


@click.command("export")
def export() -> None:
    """Not implemented yet."""
    raise click.ClickException("curate export is not implemented yet")

"""`curate import` (placeholder until implemented)."""

import click


@click.command("import")
def import_() -> None:
    """Not implemented yet."""
    raise click.ClickException("curate import is not implemented yet")

"""`curate placeholder` (placeholder until implemented)."""

import click


@click.command("placeholder")
def placeholder() -> None:
    """Not implemented yet."""
    raise click.ClickException("curate placeholder is not implemented yet")

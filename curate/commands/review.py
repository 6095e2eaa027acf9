"""`curate review` (placeholder until implemented)."""

import click


@click.command("review")
def review() -> None:
    """Not implemented yet."""
    raise click.ClickException("curate review is not implemented yet")

"""`curate decisions` (placeholder until implemented)."""

import click


@click.command("decisions")
def decisions() -> None:
    """Not implemented yet."""
    raise click.ClickException("curate decisions is not implemented yet")

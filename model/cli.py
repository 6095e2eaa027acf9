"""The ``model`` command line: thin click commands over model.train, sample, evaluate, datasets."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from model.datasets import DATASETS
from model.options import RECIPES, TrainOptions, apply_recipe
from model.quiet import load_backend
from synthset import __version__
from synthset.cli import SynthsetGroup

LIKELIHOOD_NAMES = (
    "discretized-logistic",
    "logistic-mixture",
    "bernoulli",
    "continuous-bernoulli",
)
DEFAULTS = TrainOptions()
console = Console(stderr=True)
existing_dir = click.Path(exists=False, file_okay=False, path_type=Path)


def quiet_backend(saves_models: bool = False) -> None:
    """Load the backend; its start-up chatter (TensorFlow, absl, CUDA) shows only with --verbose.
    ``saves_models``: the command writes a .keras file (see ``load_backend``)."""
    verbose = click.get_current_context().find_root().params.get("verbose", False)
    try:
        load_backend(verbose=verbose, saves_models=saves_models)
    except ModuleNotFoundError as error:
        raise click.ClickException(
            f"Keras or its backend is not installed (no module {error.name!r}): install an extra "
            "(synthset[model] for TensorFlow, synthset[jax] for JAX) or pick an installed backend "
            "with KERAS_BACKEND=jax|tensorflow|torch"
        ) from None
    except ValueError as error:
        if "Unable to import backend" not in str(error):  # Keras' words for an unknown name
            raise
        raise click.ClickException(
            f"KERAS_BACKEND={os.environ.get('KERAS_BACKEND', '')!r} is not a Keras backend: "
            "use tensorflow, jax or torch"
        ) from None


@click.group(cls=SynthsetGroup)
@click.version_option(__version__, prog_name="model")
@click.option(
    "--verbose", is_flag=True, help="Show the backend's start-up log (TensorFlow, absl, CUDA)."
)
def cli(verbose: bool) -> None:
    """Train a Keras 3 VAE on an export (datasets/NAME/) and sample, reconstruct, evaluate it.

    \b
        model datasets fashion-mnist --out datasets/fashion-mnist
        model train datasets/fashion-mnist --out runs/fm
        model sample runs/fm -n 64 -o samples.png
        model reconstruct runs/fm datasets/fashion-mnist -o recon.png
        model evaluate runs/fm datasets/fashion-mnist --json
    """


@cli.command()
@click.argument("dataset_dir", type=existing_dir, required=False)
@click.option("--out", "run_dir", type=existing_dir, help="Run folder to write (required).")
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Continue the killed run in this folder from its last finished epoch, with its "
    "options and dataset (no DATASET_DIR or --out needed).",
)
@click.option(
    "--recipe",
    type=click.Choice(sorted(RECIPES)),
    help="Preset: 'seed' = latent 150, --kl-weight 0, bernoulli, lr 1e-4, batch 32, no warm-ups "
    "(the seed's BCE-only model); flags given win.",
)
@click.option(
    "--latent-dim", type=click.IntRange(min=1), default=DEFAULTS.latent_dim, show_default=True
)
@click.option(
    "--lr", type=click.FloatRange(min=0, min_open=True), default=DEFAULTS.lr, show_default=True
)
@click.option(
    "--lr-warmup",
    type=click.IntRange(min=0),
    default=DEFAULTS.lr_warmup,
    show_default=True,
    help="Optimizer steps over which the learning rate rises linearly from 0 (0: none); "
    "without it, Adam's first steps can leave the encoder dead and z unused.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=DEFAULTS.batch_size,
    help="Images per step (default: 64, or fewer for a small export so that an epoch takes at "
    "least 24 steps: 8 for 189 images).",
)
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=DEFAULTS.epochs,
    show_default=True,
    help="Upper bound; early stopping usually ends sooner.",
)
@click.option(
    "--patience",
    type=click.IntRange(min=1),
    default=DEFAULTS.patience,
    show_default=True,
    help="Epochs without a lower val_loss before stopping (best weights restored).",
)
@click.option(
    "--no-val", is_flag=True, help="Train on the train split for all --epochs, no validation."
)
@click.option(
    "--kl-weight",
    type=click.FloatRange(min=0),
    default=DEFAULTS.kl_weight,
    show_default=True,
    help="Weight of the KL term; 0 is the seed's BCE-only autoencoder.",
)
@click.option(
    "--kl-warmup",
    type=click.IntRange(min=0),
    default=DEFAULTS.kl_warmup,
    help="Epochs over which the KL weight rises linearly from 0 (default: half of --epochs, "
    "at most 20; 0: none).",
)
@click.option(
    "--aux-weight",
    type=click.FloatRange(min=0),
    default=DEFAULTS.aux_weight,
    show_default=True,
    help="With an autoregressive decoder (conv-vae-ar): weight of the likelihood of the pixels "
    "given z alone, which keeps the picture in z (pictures are decoded from it; 0: off).",
)
@click.option(
    "--prior-components",
    type=click.IntRange(min=0),
    default=DEFAULTS.prior_components,
    show_default=True,
    help="Learn p(z) as a mixture of this many Gaussians (0: the fixed N(0, I)).",
)
@click.option(
    "--augment/--no-augment",
    default=DEFAULTS.augment,
    show_default=True,
    help="Flip training images left-right and shift them by up to 4% each epoch.",
)
@click.option(
    "--likelihood",
    type=click.Choice(LIKELIHOOD_NAMES),
    default=DEFAULTS.likelihood,
    show_default=True,
    help="Decoder distribution: discretized-logistic and logistic-mixture (5 components) are "
    "distributions over the 256 pixel values; bernoulli (BCE) and continuous-bernoulli are "
    "trained on [0, 1] and evaluated on dequantized pixels.",
)
@click.option("--seed", type=int, default=DEFAULTS.seed, show_default=True)
@click.option(
    "--arch",
    default=DEFAULTS.arch,
    show_default=True,
    help="Architecture from the synthset.models entry points.",
)
@click.option("--overwrite", is_flag=True,
              help="Replace the run in --out (finished, killed, or its leftovers); files "
              "that are not a run's are never deleted.")
@click.pass_context
def train(
    ctx: click.Context,
    dataset_dir: Path | None,
    run_dir: Path | None,
    resume_dir: Path | None,
    recipe: str | None,
    no_val: bool,
    **values,
) -> None:
    """Train a VAE on DATASET_DIR and write RUN_DIR (model.keras, history.csv, loss.png, ...).

    \b
        model train datasets/cakes --out runs/cakes
        model train datasets/cakes --out runs/seed --recipe seed --patience 25
        model train --resume runs/cakes     (a killed run, from its last finished epoch)
    """
    quiet_backend(saves_models=True)
    from model.train import train as train_run

    if resume_dir is not None:
        with epoch_progress(None) as report:
            result = train_run(dataset_dir, resume_dir, progress=report, resume=True)
        run_dir = resume_dir
    elif dataset_dir is None or run_dir is None:
        raise click.UsageError("give DATASET_DIR and --out RUN_DIR, or --resume RUN_DIR")
    else:
        explicit = {
            k for k in values
            if ctx.get_parameter_source(k) is click.core.ParameterSource.COMMANDLINE
        }
        options = apply_recipe(TrainOptions(validate=not no_val, **values), recipe, explicit)
        with epoch_progress(options.epochs) as report:
            result = train_run(dataset_dir, run_dir, options, progress=report)
    table = Table(title=f"trained {run_dir}", show_header=False)
    for name, value in (
        ("epochs run", result.epochs_run),
        ("best epoch", result.best_epoch),
        # the training objective (warm-up and auxiliary terms included): `model evaluate`
        # gives the likelihood in nats and bits/dim
        ("best training objective", f"{result.best_loss:.3f}"),
        ("images/s", f"{result.images_per_second:.0f}"),
        ("seconds", f"{result.seconds:.1f}"),
    ):
        table.add_row(name, str(value))
    console.print(table)


class epoch_progress:  # noqa: N801 - used like a function in a with statement
    """A rich progress bar, shown from the first finished epoch, with the latest losses."""

    def __init__(self, epochs: int | None):
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self.task = self.progress.add_task("training", total=epochs)
        self.started = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.started:
            self.progress.stop()

    def __call__(self, update) -> None:
        """Advance to ``update.epoch`` and show loss and val_loss."""
        if not self.started:
            self.progress.start()
            self.started = True
        logs = update.logs
        shown = "  ".join(f"{k} {logs[k]:.2f}" for k in ("loss", "val_loss") if k in logs)
        self.progress.update(
            self.task,
            total=update.epochs,
            completed=update.epoch,
            description=f"epoch {update.epoch}  {shown}",
        )


@cli.command()
@click.argument("run_dir", type=existing_dir)
@click.option("-n", "count", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same images.")
@click.option(
    "--draw",
    is_flag=True,
    help="Draw every pixel from the decoder's distribution instead of taking its mean.",
)
def sample(run_dir: Path, count: int, output: Path, seed: int, draw: bool) -> None:
    """Decode COUNT draws from the prior into one PNG grid.

    Each pixel is the decoder's mean (with --draw: a draw from its distribution); a decoder
    with an autoregressive head (conv-vae-ar, the default) fills the image pixel by pixel,
    each pixel given the ones already chosen.

    \b
        model sample runs/cakes -n 64 -o samples.png --seed 1
    """
    quiet_backend()
    from model.grid import save_grid
    from model.sample import load_run, sample_images

    save_grid(sample_images(load_run(run_dir), count, seed=seed, draw=draw), output)
    console.print(f"wrote {output}")


@cli.command()
@click.argument("run_dir", type=existing_dir)
@click.argument("dataset_dir", type=existing_dir)
@click.option(
    "-n",
    "count",
    type=click.IntRange(min=1),
    default=32,
    show_default=True,
    help="Validation images to reconstruct.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def reconstruct(run_dir: Path, dataset_dir: Path, count: int, output: Path) -> None:
    """Write a grid of validation images, each row followed by its reconstructions.

    \b
        model reconstruct runs/cakes datasets/cakes -o recon.png
    """
    quiet_backend()
    from model.grid import interleave_rows, save_grid
    from model.sample import load_run_for, reconstruct_images

    vae, export = load_run_for(run_dir, dataset_dir)
    originals = export.require_val()[:count]
    columns = min(8, len(originals))
    grid = interleave_rows(originals, reconstruct_images(vae, originals), columns)
    save_grid(grid, output, columns=columns)
    console.print(f"wrote {output}")


@cli.command()
@click.argument("run_dir", type=existing_dir)
@click.argument("dataset_dir", type=existing_dir)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object to stdout.")
@click.option(
    "--importance-samples",
    "-k",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Also give the importance-weighted bound with K z samples per image (0: skip it; "
    "the cost grows with K).",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Same seed, same z and noise draws."
)
def evaluate(
    run_dir: Path, dataset_dir: Path, as_json: bool, importance_samples: int, seed: int
) -> None:
    """Score RUN_DIR on DATASET_DIR's validation split in bits/dim of the 8-bit pixels.

    bits_per_dim is the negative ELBO, an upper bound on -log2 P(x) per pixel channel (so never
    negative; 8 is a uniform guess). Discrete decoders are scored with their own likelihood,
    Bernoulli-family ones with the continuous Bernoulli on dequantized pixels plus log 256.

    \b
        model evaluate runs/cakes datasets/cakes --json
        model evaluate runs/cakes datasets/cakes --importance-samples 1000
    """
    quiet_backend()
    from model.evaluate import evaluate as evaluate_run

    scores = evaluate_run(
        run_dir, dataset_dir, seed=seed, importance_samples=importance_samples
    ).as_dict()
    if as_json:
        # strict JSON: a score that is not finite (memorization when the validation images
        # are training images) is null
        click.echo(json.dumps({key: None if isinstance(value, float) and not math.isfinite(value)
                               else value for key, value in scores.items()}, allow_nan=False))
        return
    table = Table(title=f"{run_dir} on {dataset_dir} (validation)", show_header=False)
    for key, value in scores.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    Console().print(table)


@cli.command()
@click.argument("name", type=click.Choice(sorted(DATASETS)))
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Export folder to write (new, empty, or an earlier export with --overwrite).")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many images per split.")
@click.option(
    "--source",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder with the raw files (default: Debian's install path).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing export in --out.")
def datasets(name: str, out: Path, limit: int | None, source: Path | None, overwrite: bool) -> None:
    """Write an export from a public dataset (train -> train, test -> val) or drawn shapes.

    \b
        model datasets fashion-mnist --out datasets/fashion-mnist --limit 2000
        model datasets shapes --out datasets/shapes --limit 256
    """
    if source and name != "fashion-mnist":
        raise click.UsageError("--source applies to fashion-mnist only")
    kwargs = {"source": source} if source else {}
    with console.status(f"writing {out}"):
        report = DATASETS[name](out, limit=limit, overwrite=overwrite, **kwargs)
    console.print(
        f"wrote {report.path}: {report.train} train, {report.val} val, "
        f"{report.shape[0]}x{report.shape[1]}x{report.shape[2]}"
    )


@cli.command()
def archs() -> None:
    """List the architectures registered in the synthset.models entry points."""
    from model.arch import available_architectures

    for name in available_architectures():
        click.echo(name)

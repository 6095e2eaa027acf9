"""Benchmark synthset's conv-vae against the keras.io example VAE (keras-example), same run.

1. Fashion-MNIST 28x28 (Debian's real files, a subset): validation bits/dim under the continuous
   Bernoulli likelihood after the same epochs on the same data; target: >= 10% lower.
2. A 100x100 export (Fashion-MNIST upscaled with cv2 INTER_LINEAR): training images/s;
   target: >= 1.5x the example naively scaled to 100x100.

    python benchmarks/vae.py                  # a few minutes on 2 CPU cores
    python benchmarks/vae.py --epochs 30 --train-size 60000
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from model.data import load_export  # noqa: E402
from model.datasets import load_fashion_mnist, write_export  # noqa: E402
from model.evaluate import evaluate_run  # noqa: E402
from model.options import TrainOptions  # noqa: E402
from model.sample import load_run  # noqa: E402
from model.train import train  # noqa: E402

OURS, BASELINE = "conv-vae", "keras-example"
SHOWN = ("latent_dim", "lr", "batch_size", "epochs", "kl_weight", "likelihood", "seed", "validate")


def shown(options: TrainOptions) -> str:
    """The training options that matter for the comparison, as k=v."""
    return ", ".join(f"{k}={getattr(options, k)}" for k in SHOWN)


def parse_args() -> argparse.Namespace:
    """Command-line settings (every one printed before the run)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-size", type=int, default=6000, help="Fashion-MNIST train images")
    parser.add_argument("--val-size", type=int, default=1000, help="Fashion-MNIST test images")
    parser.add_argument("--epochs", type=int, default=8, help="epochs for the 28x28 comparison")
    parser.add_argument("--latent-dim", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--likelihood", default="continuous-bernoulli")
    parser.add_argument("--big-size", type=int, default=100, help="side of the throughput export")
    parser.add_argument("--big-train-size", type=int, default=640)
    parser.add_argument("--big-epochs", type=int, default=3, help="first epoch is not timed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, help="keep exports and runs here")
    return parser.parse_args()


def quality(args: argparse.Namespace, work: Path) -> None:
    """Part 1: validation bits/dim on Fashion-MNIST 28x28."""
    splits = load_fashion_mnist(train_limit=args.train_size, val_limit=args.val_size)
    write_export(work / "fm28", splits, source="fashion-mnist", overwrite=True)
    export = load_export(work / "fm28")
    options = TrainOptions(
        latent_dim=args.latent_dim,
        lr=args.lr,
        batch_size=args.batch_size,
        epochs=args.epochs,
        patience=args.epochs,
        likelihood=args.likelihood,
        seed=args.seed,
        overwrite=True,
    )
    print(
        f"\n[1] Fashion-MNIST 28x28: {len(export.train)} train, {len(export.val)} val, "
        f"{args.epochs} epochs, same options for both: {shown(options)}"
    )
    scores = {}
    for arch in (BASELINE, OURS):
        run = work / f"run28-{arch}"
        report = train(export.path, run, dataclasses.replace(options, arch=arch), export=export)
        scores[arch] = evaluate_run(load_run(run), export, seed=args.seed)
        s = scores[arch]
        print(
            f"  {arch:14s} bits/dim {s.bits_per_dim:+.4f}  nats/image {s.nats_per_image:9.2f}  "
            f"(recon {s.reconstruction:9.2f}, KL {s.kl:6.2f}, active {s.active_units}/"
            f"{s.latent_dim})  best epoch {report.best_epoch}  {report.seconds:.0f} s"
        )
    ours, base = scores[OURS].bits_per_dim, scores[BASELINE].bits_per_dim
    lower = (base - ours) / abs(base)
    print(
        f"  bits/dim: {OURS} {ours:+.4f} vs {BASELINE} {base:+.4f}: {base - ours:.4f} lower, "
        f"{lower:.1%} of |baseline| (target >= 10%: {'met' if lower >= 0.10 else 'NOT met'})"
    )


def throughput(args: argparse.Namespace, work: Path) -> None:
    """Part 2: training images/s on a BIGxBIG export."""
    side = args.big_size
    small = load_fashion_mnist(train_limit=args.big_train_size, val_limit=1)
    big = {
        split: np.stack(
            [
                cv2.resize(img[..., 0], (side, side), interpolation=cv2.INTER_LINEAR)
                for img in images
            ]
        )[..., None]
        for split, images in small.items()
    }
    write_export(
        work / f"fm{side}", big, source="fashion-mnist", interpolation="linear", overwrite=True
    )
    export = load_export(work / f"fm{side}")
    options = TrainOptions(
        latent_dim=150,
        batch_size=32,
        epochs=args.big_epochs,
        validate=False,
        likelihood=args.likelihood,
        seed=args.seed,
        overwrite=True,
    )
    print(
        f"\n[2] {side}x{side} export: {len(export.train)} train images, {args.big_epochs} epochs "
        f"(first untimed), latent 150, batch 32 (the CLI defaults)"
    )
    speed = {}
    for arch in (BASELINE, OURS):
        run = work / f"run{side}-{arch}"
        report = train(export.path, run, dataclasses.replace(options, arch=arch), export=export)
        speed[arch] = report.images_per_second
        params = load_run(run).count_params()
        print(f"  {arch:14s} {speed[arch]:8.1f} training images/s  {params:>10,d} parameters")
    ratio = speed[OURS] / speed[BASELINE]
    print(
        f"  images/s: {OURS} / {BASELINE} = {ratio:.2f}x "
        f"(target >= 1.5x: {'met' if ratio >= 1.5 else 'NOT met'})"
    )


def main() -> None:
    """Run both parts and print the figures and ratios."""
    args = parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    import keras

    print(
        f"settings: {vars(args)}; keras {keras.__version__} on {keras.backend.backend()}, "
        f"{os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory(prefix="synthset-bench-") as temporary:
        work = args.workdir or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        quality(args, work)
        throughput(args, work)


if __name__ == "__main__":
    main()

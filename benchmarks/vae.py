"""Benchmark synthset's default VAE against the keras.io example's architecture, same run.

Three architectures: keras-example (the baseline), conv-vae-ar (the default: conv-vae with its
autoregressive head) and conv-vae (the same stages without it), each against the baseline.

1. Fashion-MNIST 28x28 (Debian's dataset-fashion-mnist), every architecture trained with the
   user's defaults (likelihood, latent size, learning rate, batch, KL warm-up, seed) for the same
   epochs on the same images, no early stopping; scored on the test split in bits/dim of the
   8-bit pixels (including log 256; never negative), the ELBO on every test image and the
   importance-weighted bound with K samples on the first --iw-images. Target: >= 10% fewer
   bits/dim than the keras.io architecture. Training images/s at 28x28 come from these runs.
2. A 100x100 export (the same images upscaled with cv2 INTER_LINEAR): training images/s.

    python benchmarks/vae.py                   # the full measure: 60,000 images, 10 epochs, K=1000
    python benchmarks/vae.py --train-size 10000 --iw-images 200    # scaled down for a small CPU
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from model.data import load_export  # noqa: E402
from model.datasets import load_fashion_mnist, write_export  # noqa: E402
from model.evaluate import (  # noqa: E402
    bits_per_dim,
    elbo_terms,
    evaluate_run,
    importance_log_weights,
    importance_weighted_nll,
)
from model.options import TrainOptions  # noqa: E402
from model.sample import load_run  # noqa: E402
from model.train import train  # noqa: E402

OURS, BASELINE = "conv-vae-ar", "keras-example"  # the default architecture, the baseline
PLAIN = "conv-vae"  # the same stages without the autoregressive head
SHOWN = ("likelihood", "latent_dim", "lr", "batch_size", "epochs", "kl_weight", "kl_warmup", "seed")


def shown(options: TrainOptions) -> str:
    """The training options that matter for the comparison, as k=v."""
    return ", ".join(f"{k}={getattr(options, k)}" for k in SHOWN)


def parse_args() -> argparse.Namespace:
    """Command-line settings (every one printed before the run)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-size", type=int, default=60000, help="Fashion-MNIST train images")
    parser.add_argument("--test-size", type=int, default=10000, help="Fashion-MNIST test images")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("-k", "--k", type=int, default=1000, help="importance samples per image")
    parser.add_argument(
        "--iw-images", type=int, default=10000, help="test images for the K-sample bound"
    )
    parser.add_argument("--likelihood", help="override the default likelihood for both")
    parser.add_argument("--big-size", type=int, default=100, help="side of the throughput export")
    parser.add_argument("--big-train-size", type=int, default=640)
    parser.add_argument("--big-epochs", type=int, default=3, help="first epoch is not timed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, help="keep exports and runs here")
    return parser.parse_args()


def base_options(args: argparse.Namespace, epochs: int) -> TrainOptions:
    """The user's defaults, for ``epochs`` epochs on the train split only (no early stopping on
    the test split), with the benchmark's seed and likelihood."""
    options = TrainOptions(epochs=epochs, validate=False, seed=args.seed, overwrite=True)
    if args.likelihood:
        options = dataclasses.replace(options, likelihood=args.likelihood)
    return options


def quality(args: argparse.Namespace, work: Path) -> dict[str, float]:
    """Part 1: test bits/dim on Fashion-MNIST 28x28; returns the training images/s per arch."""
    splits = load_fashion_mnist(train_limit=args.train_size, val_limit=args.test_size)
    write_export(work / "fm28", splits, source="fashion-mnist", overwrite=True)
    export = load_export(work / "fm28")
    options = base_options(args, args.epochs)
    iw_images = export.val[: args.iw_images]
    print(
        f"\n[1] Fashion-MNIST 28x28: {len(export.train)} train, {len(export.val)} test images, "
        f"same options for both: {shown(options)}; importance-weighted bound with "
        f"K={args.k} on the first {len(iw_images)} test images"
    )
    dims = 28 * 28
    scores, speed = {}, {}
    for arch in (BASELINE, PLAIN, OURS):
        run = work / f"run28-{arch}"
        report = train(export.path, run, dataclasses.replace(options, arch=arch), export=export)
        vae = load_run(run)
        s = evaluate_run(vae, export, seed=args.seed)
        started = time.perf_counter()
        log_w = importance_log_weights(vae, iw_images, args.k, seed=args.seed)
        iw_seconds = time.perf_counter() - started
        subset = elbo_terms(vae, iw_images, seed=args.seed)
        subset_elbo = bits_per_dim(float((subset["reconstruction"] + subset["kl"]).mean()), dims)
        iw = bits_per_dim(float(importance_weighted_nll(log_w).mean()), dims)
        scores[arch], speed[arch] = s.bits_per_dim, report.images_per_second
        print(
            f"  {arch:14s} test bits/dim (ELBO) {s.bits_per_dim:.4f}  "
            f"[first {len(iw_images)}: ELBO {subset_elbo:.4f}, IW K={args.k} {iw:.4f}]  "
            f"KL {s.kl:.1f} nats, active {s.active_units}/{s.latent_dim}, "
            f"{vae.count_params():,d} parameters, trained {report.seconds:.0f} s "
            f"({report.images_per_second:.0f} images/s), IW {iw_seconds:.0f} s"
        )
    print(f"  scored with: {s.scored_with}")
    base = scores[BASELINE]
    for arch in (PLAIN, OURS):
        fewer = (base - scores[arch]) / base
        print(
            f"  bits/dim {arch} / {BASELINE} = {scores[arch] / base:.3f}: {fewer:.1%} fewer "
            f"(target >= 10%: {'met' if fewer >= 0.10 else 'NOT met'})"
            + (" [the default]" if arch == OURS else " [without the head]")
        )
    return speed


def throughput(args: argparse.Namespace, work: Path) -> dict[str, float]:
    """Part 2: training images/s on a BIGxBIG export, at the user's defaults."""
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
    options = base_options(args, args.big_epochs)
    print(
        f"\n[2] {side}x{side} export: {len(export.train)} train images, {args.big_epochs} epochs "
        f"(first untimed): {shown(options)}"
    )
    speed = {}
    for arch in (BASELINE, PLAIN, OURS):
        run = work / f"run{side}-{arch}"
        report = train(export.path, run, dataclasses.replace(options, arch=arch), export=export)
        speed[arch] = report.images_per_second
        params = load_run(run).count_params()
        print(f"  {arch:14s} {speed[arch]:8.1f} training images/s  {params:>10,d} parameters")
    return speed


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
        small = quality(args, work)
        big = throughput(args, work)
    print("\nimages/s (training)   " + "   ".join(f"{arch:>14s}" for arch in (BASELINE, OURS)))
    for label, speed in (("28x28", small), (f"{args.big_size}x{args.big_size}", big)):
        row = "   ".join(f"{speed[arch]:14.0f}" for arch in (BASELINE, OURS))
        print(f"  {label:19s} {row}   ratio {speed[OURS] / speed[BASELINE]:.2f}x")


if __name__ == "__main__":
    main()

"""model.fidelity: the Fashion-MNIST feature classifier is deterministic with a seed, and FID, KID,
precision and recall tell matching sample sets from mismatched ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.datasets import load_fashion_mnist, load_fashion_mnist_labels
from model.fidelity import cached_classifier, features, fidelity, frechet_distance

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def fashion() -> tuple[np.ndarray, np.ndarray]:
    """The first 600 Fashion-MNIST training images in [0, 1] and their labels (Debian's files)."""
    images = load_fashion_mnist(train_limit=600, val_limit=1)["train"]
    labels = load_fashion_mnist_labels(train_limit=600, val_limit=1)["train"]
    return images.astype(np.float32) / 255.0, labels


def test_classifier_features_are_deterministic_with_a_seed(fashion, tmp_path: Path):
    images, labels = fashion
    split = (images[:500], labels[:500]), (images[500:], labels[500:])
    first = cached_classifier(tmp_path / "a", *split, seed=3, epochs=1)
    second = cached_classifier(tmp_path / "b", *split, seed=3, epochs=1)
    other = cached_classifier(tmp_path / "c", *split, seed=4, epochs=1)
    np.testing.assert_allclose(
        features(first.model, images[500:]), features(second.model, images[500:]), atol=1e-5
    )
    assert first.test_accuracy == second.test_accuracy > 0.3  # learned something in one epoch
    assert not np.allclose(features(first.model, images[500:]), features(other.model, images[500:]))
    cached = cached_classifier(tmp_path / "a", *split, seed=3, epochs=1)  # loaded, not retrained
    assert cached.test_accuracy == first.test_accuracy
    np.testing.assert_allclose(
        features(cached.model, images[:50]), features(first.model, images[:50]), atol=1e-6
    )


def test_matching_sets_score_best_and_a_collapsed_set_worse():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(800, 16))
    same = rng.normal(size=(800, 16))
    collapsed = rng.normal(scale=0.2, size=(800, 16)) + 0.5
    good, bad = fidelity(real, same), fidelity(real, collapsed)
    assert good.fid < 0.5 < bad.fid and abs(good.kid) < 0.05 < bad.kid
    assert good.recall > 0.7 > 0.3 > bad.recall  # collapsed: inside the data, not covering it
    assert frechet_distance(real, real) == pytest.approx(0.0, abs=1e-6)

"""Sample quality in the features of a small Fashion-MNIST classifier: FID, KID, precision, recall.

Inception features mean nothing on 28x28 grey clothes and cannot be downloaded here, so the
feature space is a small convolutional classifier trained on the Fashion-MNIST training split
(seeded, deterministic, cached as a ``.keras`` file; its test accuracy says what its features
know). On those features:

- ``fid``: the Fréchet distance between Gaussians fitted to real and generated features
  (Heusel et al., 2017);
- ``kid``: the kernel inception distance, the unbiased MMD^2 with the cubic polynomial kernel
  (x.y / d + 1)^3, averaged over random subsets (Bińkowski et al., 2018);
- ``precision`` / ``recall``: the share of generated samples inside the real data's k-nearest-
  neighbour balls, and of real images inside the samples' (Kynkäänniemi et al., 2019).

Lower FID and KID, higher precision and recall are better.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

FEATURES = 128  # units of the classifier's penultimate layer: the feature space
CLASSES = 10
KID_SUBSETS = 50
KID_SUBSET_SIZE = 1000
NEIGHBOURS = 3  # k of the k-NN balls of precision and recall


def build_classifier(image_shape: tuple[int, int, int], seed: int):
    """A small convnet: two conv-pool stages, a FEATURES-unit dense layer, a softmax."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=image_shape, name="image")
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(FEATURES, activation="relu", name="features")(x)
    outputs = layers.Dense(CLASSES, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name="fmnist_classifier")


def train_classifier(
    images: np.ndarray, labels: np.ndarray, seed: int = 0, epochs: int = 3, batch_size: int = 128
):
    """Train the classifier on ``images`` in [0, 1] (N, H, W, 1) with integer ``labels``;
    the batches are shuffled by a numpy generator seeded with ``seed``."""
    import keras

    model = build_classifier(tuple(images.shape[1:]), seed)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(images))
        model.fit(
            images[order], labels[order], batch_size=batch_size, epochs=1, shuffle=False, verbose=0
        )
    return model


def accuracy(model, images: np.ndarray, labels: np.ndarray) -> float:
    """The classifier's accuracy on ``images``."""
    predicted = np.argmax(model.predict(images, batch_size=1000, verbose=0), axis=1)
    return float((predicted == labels).mean())


def features(model, images: np.ndarray) -> np.ndarray:
    """The classifier's penultimate-layer features of ``images`` (N, FEATURES), float64."""
    import keras

    extractor = keras.Model(model.inputs, model.get_layer("features").output)
    return np.asarray(extractor.predict(images, batch_size=1000, verbose=0), dtype=np.float64)


@dataclass(frozen=True)
class Classifier:
    """A cached feature classifier and its test accuracy."""

    model: object
    test_accuracy: float
    path: Path


def cached_classifier(
    cache: Path,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    seed: int = 0,
    epochs: int = 3,
) -> Classifier:
    """The classifier cached in ``cache`` for this seed and training size, trained (and saved,
    with its test accuracy) on first use."""
    import keras

    cache.mkdir(parents=True, exist_ok=True)
    stem = f"fmnist-classifier-n{len(train[0])}-e{epochs}-s{seed}"
    path, facts = cache / f"{stem}.keras", cache / f"{stem}.json"
    if path.is_file() and facts.is_file():
        model = keras.saving.load_model(path)
        return Classifier(model, json.loads(facts.read_text())["test_accuracy"], path)
    model = train_classifier(*train, seed=seed, epochs=epochs)
    score = accuracy(model, *test)
    temporary = path.with_name(f".{path.name}.tmp.keras")
    model.save(temporary)
    temporary.replace(path)
    facts.write_text(json.dumps({"test_accuracy": score, "seed": seed, "epochs": epochs}))
    return Classifier(model, score, path)


def frechet_distance(real: np.ndarray, fake: np.ndarray) -> float:
    """||mu_r - mu_f||^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2)) between fitted Gaussians."""
    mu_r, mu_f = real.mean(axis=0), fake.mean(axis=0)
    s_r, s_f = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    # Tr((S_r S_f)^(1/2)) = sum of sqrt(eigenvalues of S_r^(1/2) S_f S_r^(1/2)), symmetric PSD.
    values, vectors = np.linalg.eigh(s_r)
    root = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    middle = np.linalg.eigvalsh(root @ s_f @ root)
    cross = np.sqrt(np.clip(middle, 0.0, None)).sum()
    return float(np.sum((mu_r - mu_f) ** 2) + np.trace(s_r) + np.trace(s_f) - 2.0 * cross)


def kernel_distance(
    real: np.ndarray,
    fake: np.ndarray,
    subsets: int = KID_SUBSETS,
    subset_size: int = KID_SUBSET_SIZE,
    seed: int = 0,
) -> float:
    """KID: the unbiased MMD^2 with kernel (x.y / d + 1)^3, averaged over random subsets."""
    rng = np.random.default_rng(seed)
    d = real.shape[1]
    m = min(subset_size, len(real), len(fake))
    total = 0.0
    for _ in range(subsets):
        x = real[rng.choice(len(real), m, replace=False)]
        y = fake[rng.choice(len(fake), m, replace=False)]
        k_xx = (x @ x.T / d + 1.0) ** 3
        k_yy = (y @ y.T / d + 1.0) ** 3
        k_xy = (x @ y.T / d + 1.0) ** 3
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
        total += within - 2.0 * k_xy.mean()
    return float(total / subsets)


def _radii(points: np.ndarray, k: int) -> np.ndarray:
    """Distance from each point to its k-th nearest other point."""
    squared = np.sum(points**2, axis=1)
    distances = squared[:, None] + squared[None, :] - 2.0 * points @ points.T
    return np.sqrt(np.maximum(np.sort(distances, axis=1)[:, k], 0.0))


def _inside(queries: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Whether each query lies within the ball of some centre."""
    squared = (
        np.sum(queries**2, axis=1)[:, None]
        + np.sum(centres**2, axis=1)[None, :]
        - 2.0 * queries @ centres.T
    )
    return (np.sqrt(np.maximum(squared, 0.0)) <= radii[None, :]).any(axis=1)


def precision_recall(
    real: np.ndarray, fake: np.ndarray, k: int = NEIGHBOURS
) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al., 2019) with k-NN balls."""
    precision = float(_inside(fake, real, _radii(real, k)).mean())
    recall = float(_inside(real, fake, _radii(fake, k)).mean())
    return precision, recall


@dataclass(frozen=True)
class Fidelity:
    """Sample quality in a classifier's feature space."""

    fid: float
    kid: float
    precision: float
    recall: float
    samples: int

    def as_dict(self) -> dict:
        """The scores as a JSON-ready dict."""
        return asdict(self)


def fidelity(real: np.ndarray, fake: np.ndarray, seed: int = 0) -> Fidelity:
    """FID, KID, precision and recall between real and generated feature vectors."""
    precision, recall = precision_recall(real, fake)
    return Fidelity(
        fid=frechet_distance(real, fake),
        kid=kernel_distance(real, fake, seed=seed),
        precision=precision,
        recall=recall,
        samples=len(fake),
    )

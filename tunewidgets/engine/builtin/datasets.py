"""Built-in datasets from scikit-learn, with a fixed split and standardization.

They ship with scikit-learn (no download), are small enough to train on a laptop CPU in seconds,
and cover classification, images and regression, which is what tutorials and tests need.
"""

from __future__ import annotations

import numpy as np

from .data import Data

DATASETS = ("digits", "iris", "wine", "breast_cancer", "moons", "diabetes", "friedman1")


def load_dataset(name: str, images: bool = False, val_fraction: float = 0.2, seed: int = 0) -> Data:
    """Load a built-in dataset, split (stratified, fixed ``seed``) and standardized.

    ``digits`` with ``images=True`` gives 1x8x8 images for the ``cnn`` and ``resnet`` models.

    Example::

        data = load_dataset("digits")               # 64 features, 10 classes
        imgs = load_dataset("digits", images=True)  # 1x8x8 images
    """
    from sklearn import datasets as skd

    if name not in DATASETS:
        raise ValueError(f"dataset {name!r} is unknown: built-in datasets are {', '.join(DATASETS)}")
    if images and name != "digits":
        raise ValueError(f"images=True is only available for 'digits', not {name!r}")
    task = "classification"
    feature_names = None
    class_names = None
    if name == "moons":
        X, y = skd.make_moons(n_samples=1000, noise=0.25, random_state=0)
    elif name == "friedman1":
        X, y = skd.make_friedman1(n_samples=2000, n_features=10, noise=1.0, random_state=0)
        task = "regression"
    else:
        bunch = getattr(skd, f"load_{name}")()
        X, y = bunch.data, bunch.target
        names = getattr(bunch, "feature_names", None)
        feature_names = [str(n) for n in names] if names is not None and len(names) else None
        if name == "diabetes":
            task = "regression"
        elif hasattr(bunch, "target_names"):
            class_names = [str(c) for c in bunch.target_names]
    if task == "regression":
        y = (y - y.mean()) / y.std()  # standardized targets keep losses comparable across sets
    if images:
        X = X.reshape(-1, 1, 8, 8)
        name = "digits-images"
    return Data.from_arrays(np.asarray(X, dtype=np.float32), y, task=task, val_fraction=val_fraction,
                            seed=seed, name=name, class_names=class_names, feature_names=feature_names)

"""Data bundles: a train and a validation split, the task, and fast batching on the device.

Data that fits in memory is kept as tensors (copied once to each device it is trained on) and
batched by indexing with a random permutation, which measured ~25% faster than a ``DataLoader`` on
small data. Larger torch ``Dataset``s are batched through a ``DataLoader``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np
import torch

TASKS = ("classification", "regression")
# A Dataset up to this many bytes of features is materialized as tensors.
IN_MEMORY_LIMIT_BYTES = 512 * 2**20


@dataclass
class Data:
    """A train/validation split ready to train on.

    Build one with ``load_dataset(name)``, ``Data.from_arrays(X, y, task=...)`` or
    ``Data.from_datasets(train, val, task=...)``.

    Example::

        data = Data.from_arrays(X, y, task="classification", val_fraction=0.2, seed=0)
        data.n_classes, data.input_shape
    """

    task: str
    input_shape: tuple[int, ...]
    n_outputs: int  # classes for classification, targets for regression
    name: str = "data"
    x_train: torch.Tensor | None = None
    y_train: torch.Tensor | None = None
    x_val: torch.Tensor | None = None
    y_val: torch.Tensor | None = None
    train_dataset: Any = None  # a torch Dataset when the data is too big to keep as tensors
    val_dataset: Any = None
    class_names: list | None = None
    feature_names: list | None = None
    _on_device: dict = field(default_factory=dict, repr=False, compare=False)

    # ---- facts -------------------------------------------------------------------------------
    @property
    def n_classes(self) -> int | None:
        return self.n_outputs if self.task == "classification" else None

    @property
    def in_memory(self) -> bool:
        return self.x_train is not None

    @property
    def n_train(self) -> int:
        return len(self.x_train) if self.in_memory else len(self.train_dataset)

    @property
    def n_val(self) -> int:
        return len(self.x_val) if self.in_memory else len(self.val_dataset)

    @property
    def is_image(self) -> bool:
        return len(self.input_shape) == 3

    @property
    def signature(self) -> dict[str, Any]:
        """What tells this dataset from another where the tensors are not kept (a panel's runs file):
        name, task, shapes and split sizes."""
        return {"name": self.name, "task": self.task, "input_shape": list(self.input_shape),
                "n_outputs": self.n_outputs, "n_train": self.n_train, "n_val": self.n_val}

    def __repr__(self) -> str:
        kind = f"{self.n_outputs} classes" if self.task == "classification" else f"{self.n_outputs} target(s)"
        return (f"Data({self.name!r}, {self.task}, {kind}, input {self.input_shape}, "
                f"{self.n_train} train / {self.n_val} validation)")

    # ---- constructors ------------------------------------------------------------------------
    @classmethod
    def from_arrays(cls, X: Any, y: Any, task: str = "classification", val_fraction: float = 0.2,
                    seed: int = 0, standardize: bool = True, name: str = "arrays",
                    class_names: Sequence | None = None, feature_names: Sequence | None = None) -> "Data":
        """Split NumPy or torch arrays into train/validation (stratified for classification).

        Features are standardized with the training split's mean and deviation; class labels of
        any type (ints, strings) are encoded as 0..K-1 with their names kept in ``class_names``.
        """
        from sklearn.model_selection import train_test_split

        X_np, y_np, task = _validate_arrays(X, y, task)
        if not (isinstance(val_fraction, (int, float)) and 0 < val_fraction < 1):
            raise ValueError(f"val_fraction={val_fraction!r} is not allowed: must be a number > 0 and < 1")
        y_np, names = _encode_labels(y_np, task, class_names)
        stratify = y_np if task == "classification" and np.bincount(y_np).min() >= 2 else None
        try:
            X_tr, X_va, y_tr, y_va = train_test_split(X_np, y_np, test_size=val_fraction,
                                                      random_state=seed, stratify=stratify)
        except ValueError as e:
            raise ValueError(f"val_fraction={val_fraction!r} cannot split {len(X_np)} samples: {e}") from None
        if standardize:
            X_tr, X_va = _standardize(X_tr, X_va)
        return cls.from_splits(X_tr, y_tr, X_va, y_va, task=task, name=name, class_names=names,
                               feature_names=list(feature_names) if feature_names is not None else None)

    @classmethod
    def from_splits(cls, x_train: Any, y_train: Any, x_val: Any, y_val: Any, task: str = "classification",
                    name: str = "data", class_names: list | None = None,
                    feature_names: list | None = None) -> "Data":
        """Use a split you already have, as is (no shuffling, no scaling)."""
        X_tr, y_tr, task = _validate_arrays(x_train, y_train, task)
        X_va, y_va, _ = _validate_arrays(x_val, y_val, task)
        if X_tr.shape[1:] != X_va.shape[1:]:
            raise ValueError(f"x_val has sample shape {X_va.shape[1:]}, but x_train has {X_tr.shape[1:]}")
        if task == "classification":
            y_tr, y_va = y_tr.astype(np.int64), y_va.astype(np.int64)
            n_out = int(max(y_tr.max(), y_va.max())) + 1
        else:
            y_tr = y_tr.astype(np.float32).reshape(len(y_tr), -1)
            y_va = y_va.astype(np.float32).reshape(len(y_va), -1)
            n_out = y_tr.shape[1]
        return cls(task=task, input_shape=tuple(X_tr.shape[1:]), n_outputs=n_out, name=name,
                   x_train=torch.as_tensor(X_tr, dtype=torch.float32), y_train=torch.as_tensor(y_tr),
                   x_val=torch.as_tensor(X_va, dtype=torch.float32), y_val=torch.as_tensor(y_va),
                   class_names=class_names, feature_names=feature_names)

    @classmethod
    def from_datasets(cls, train: Any, val: Any, task: str = "classification", n_outputs: int | None = None,
                      name: str = "datasets", in_memory: bool | None = None) -> "Data":
        """Wrap torch ``Dataset``s yielding ``(x, y)``.

        Small datasets (features under 512 MiB) are read once into tensors for fast index batching;
        larger ones, or ``in_memory=False``, are batched through a ``DataLoader``.
        """
        if task not in TASKS:
            raise ValueError(f"task={task!r} is not allowed: must be one of {TASKS}")
        for label, ds in (("train", train), ("val", val)):
            if not hasattr(ds, "__getitem__") or not hasattr(ds, "__len__"):
                raise ValueError(f"{label}={ds!r} is not a map-style torch Dataset (needs __len__ and __getitem__)")
            if len(ds) == 0:
                raise ValueError(f"{label} dataset is empty: it must hold at least one sample")
        x0, _ = train[0]
        x0 = torch.as_tensor(x0)
        fits = len(train) * x0.numel() * 4 <= IN_MEMORY_LIMIT_BYTES
        if in_memory or (in_memory is None and fits):
            xs_tr, ys_tr = _materialize(train)
            xs_va, ys_va = _materialize(val)
            return cls.from_splits(xs_tr, ys_tr, xs_va, ys_va, task=task, name=name)
        if n_outputs is None:
            raise ValueError("n_outputs is required for datasets batched through a DataLoader "
                             "(number of classes, or of regression targets)")
        return cls(task=task, input_shape=tuple(x0.shape), n_outputs=int(n_outputs), name=name,
                   train_dataset=train, val_dataset=val)

    # ---- batching ------------------------------------------------------------------------------
    def on(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The four tensors on ``device``, copied there once and cached."""
        key = str(device)
        if key not in self._on_device:
            self._on_device[key] = tuple(t.to(device) for t in (self.x_train, self.y_train, self.x_val, self.y_val))
        return self._on_device[key]

    def release(self, device: torch.device) -> None:
        """Drop the cached copy on ``device`` (frees GPU memory)."""
        self._on_device.pop(str(device), None)

    def loader(self, split: str, batch_size: int, shuffle: bool, generator: torch.Generator | None = None):
        """A ``DataLoader`` over the Dataset of ``split`` ('train' or 'val'), for big data."""
        from torch.utils.data import DataLoader

        ds = self.train_dataset if split == "train" else self.val_dataset
        return DataLoader(ds, batch_size=batch_size, shuffle=shuffle, generator=generator)


def iterate_batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator | None
                    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Shuffled minibatches of in-memory tensors by index (``generator=None``: in order)."""
    n = len(x)
    if generator is None:
        for i in range(0, n, batch_size):
            yield x[i:i + batch_size], y[i:i + batch_size]
        return
    order = torch.randperm(n, generator=generator, device=generator.device)
    if order.device != x.device:
        order = order.to(x.device)
    for i in range(0, n, batch_size):
        idx = order[i:i + batch_size]
        yield x[idx], y[idx]


# ---- validation helpers ------------------------------------------------------------------------
def _to_numpy(a: Any, what: str) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    if hasattr(a, "to_numpy"):  # pandas
        return a.to_numpy()
    try:
        return np.asarray(a)
    except Exception as e:  # noqa: BLE001 - report any conversion problem the same way
        raise ValueError(f"{what} cannot be read as an array: {e}") from None


def _validate_arrays(X: Any, y: Any, task: str) -> tuple[np.ndarray, np.ndarray, str]:
    if task not in TASKS:
        raise ValueError(f"task={task!r} is not allowed: must be one of {TASKS}")
    X_np, y_np = _to_numpy(X, "X"), _to_numpy(y, "y")
    if X_np.ndim < 2 or len(X_np) == 0 or X_np.shape[1] == 0:
        raise ValueError(f"X has shape {X_np.shape}: it must hold at least one sample with at least one feature")
    if len(y_np) != len(X_np):
        raise ValueError(f"y has {len(y_np)} labels but X has {len(X_np)} samples: they must match")
    if not np.issubdtype(X_np.dtype, np.number):
        raise ValueError(f"X has dtype {X_np.dtype}: features must be numeric")
    X_np = X_np.astype(np.float32)
    if not np.isfinite(X_np).all():
        bad = int((~np.isfinite(X_np)).any(axis=tuple(range(1, X_np.ndim))).sum())
        raise ValueError(f"X holds NaN or infinite values in {bad} sample(s): clean or impute them first")
    if task == "regression":
        if not np.issubdtype(y_np.dtype, np.number):
            raise ValueError(f"y has dtype {y_np.dtype}: task='regression' needs numeric targets")
        y_np = y_np.astype(np.float32)
        if not np.isfinite(y_np).all():
            raise ValueError("y holds NaN or infinite targets: task='regression' needs finite targets")
    else:
        if y_np.ndim != 1:
            raise ValueError(f"y has shape {y_np.shape}: task='classification' needs one label per sample")
        if np.issubdtype(y_np.dtype, np.floating):
            if not np.isfinite(y_np).all() or not np.all(np.equal(np.mod(y_np, 1), 0)):
                raise ValueError("y holds non-integer values: task='classification' needs class labels "
                                 "(use task='regression' for continuous targets)")
    return X_np, y_np, task


def _encode_labels(y: np.ndarray, task: str, class_names: Sequence | None):
    if task != "classification":
        return y, None
    classes, encoded = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"y holds a single class ({classes[0]!r}): classification needs at least 2")
    names = list(class_names) if class_names is not None else [c.item() if hasattr(c, "item") else c for c in classes]
    return encoded.astype(np.int64), names


def _standardize(X_tr: np.ndarray, X_va: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if X_tr.ndim == 2:
        mean, std = X_tr.mean(axis=0), X_tr.std(axis=0)
    else:  # images: one mean/deviation per channel
        axes = (0,) + tuple(range(2, X_tr.ndim))
        mean, std = X_tr.mean(axis=axes, keepdims=True)[0], X_tr.std(axis=axes, keepdims=True)[0]
    std = np.where(std > 1e-8, std, 1.0)
    return ((X_tr - mean) / std).astype(np.float32), ((X_va - mean) / std).astype(np.float32)


def _materialize(ds: Any) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = zip(*(ds[i] for i in range(len(ds))))
    X = torch.stack([torch.as_tensor(x, dtype=torch.float32) for x in xs]).numpy()
    y = np.asarray([torch.as_tensor(v).numpy() for v in ys])
    return X, y

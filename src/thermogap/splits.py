"""Train/validation/test splits of a dataset, shared by the MLIP and GNN training code.

Rounding rule (one for every user): each held-out split gets ``fraction * n`` structures
rounded half up (``floor(x + 0.5)``, with a 1e-9 tolerance so that a product such as
``0.0475 * 200`` that lands a hair below 9.5 in floating point still counts as 9.5), and at
least one structure whenever its fraction is positive; training takes the rest. The split is a
seeded permutation of ``range(n)``: the first ``n_train`` entries train, the next
``n_validation`` validate, the rest test, so the same ``(n, fractions, seed)`` always gives the
same split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from thermogap.errors import InputError

__all__ = ["DataSplit", "split_indices", "split_sizes", "split_with_held_out_test"]

_HALF_UP_TOLERANCE = 1e-9


@dataclass(frozen=True)
class DataSplit:
    """Indices (into the dataset) of the training, validation and test structures.

    Attributes
    ----------
    train, validation, test : numpy.ndarray
        Integer indices, shape=(n_split,); together a partition of the indexed structures.
    """

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        """The validation indices under the name mace-torch uses (``valid``)."""
        return self.validation

    def items(self) -> list[tuple[str, np.ndarray]]:
        """``[("train", idx), ("validation", idx), ("test", idx)]``."""
        return [("train", self.train), ("validation", self.validation), ("test", self.test)]

    def sorted(self) -> DataSplit:
        """Return the same split with the indices of each part in increasing order."""
        return DataSplit(np.sort(self.train), np.sort(self.validation), np.sort(self.test))


def _held_out_size(fraction: float, n: int) -> int:
    if fraction <= 0:
        return 0
    return max(1, int(np.floor(fraction * n + 0.5 + _HALF_UP_TOLERANCE)))


def split_sizes(
    n: int, fractions: Sequence[float] = (0.7, 0.15, 0.15), *, min_train: int = 1
) -> tuple[int, int, int]:
    """Return ``(n_train, n_validation, n_test)`` for ``n`` structures (rule in the module doc).

    Parameters
    ----------
    n
        Dataset size.
    fractions
        ``(train, validation, test)``, non-negative, summing to 1.
    min_train
        Fewest training structures accepted.

    Raises
    ------
    InputError
        If the fractions are not three non-negative numbers summing to 1, or ``n`` is too few
        for ``min_train`` training structures plus one per non-empty held-out split.

    Examples
    --------
    >>> split_sizes(200, (0.7, 0.15, 0.15))
    (140, 30, 30)
    >>> split_sizes(10, (0.8, 0.05, 0.15))  # 0.5 rounds up, 1.5 rounds up
    (7, 1, 2)
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise InputError(
            f"split fractions {tuple(fractions)} must be three non-negative numbers summing to 1"
        )
    n_validation = _held_out_size(fractions[1], n)
    n_test = _held_out_size(fractions[2], n)
    n_train = n - n_validation - n_test
    if n_train < min_train:
        raise InputError(
            f"{n} structures are too few for split fractions {tuple(fractions)}: that leaves "
            f"{n_train} for training; need at least {n_validation + n_test + min_train}"
        )
    return n_train, n_validation, n_test


def split_indices(
    n: int,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    seed: int = 42,
    *,
    min_train: int = 1,
) -> DataSplit:
    """Split ``range(n)`` at random into train, validation and test indices.

    Parameters
    ----------
    n
        Dataset size.
    fractions
        ``(train, validation, test)``, non-negative, summing to 1; sizes by
        :func:`split_sizes`.
    seed
        Seed of the permutation.
    min_train
        Fewest training structures accepted.

    Examples
    --------
    >>> split = split_indices(10, (0.6, 0.2, 0.2), seed=0)
    >>> [len(part) for _, part in split.items()]
    [6, 2, 2]
    >>> together = np.concatenate([split.train, split.validation, split.test])
    >>> sorted(together.tolist()) == list(range(10))
    True
    """
    n_train, n_validation, _ = split_sizes(n, fractions, min_train=min_train)
    order = np.random.default_rng(seed).permutation(n)
    return DataSplit(
        order[:n_train], order[n_train : n_train + n_validation], order[n_train + n_validation :]
    )


def split_with_held_out_test(
    ids: Sequence[str],
    test_ids: Sequence[str] | None,
    fractions: Sequence[float],
    seed: int,
    *,
    min_train: int = 1,
) -> DataSplit:
    """Split ``ids`` with a given test set; the rest is split into train and validation.

    Without ``test_ids`` this is :func:`split_indices`. With them, every id in ``test_ids``
    tests, and the others are split with the train and validation fractions renormalised to
    sum to 1 (same rounding rule).

    Parameters
    ----------
    ids
        Identifiers of the dataset's structures, in dataset order.
    test_ids
        Identifiers held out for testing (ids not in ``ids`` are ignored).
    fractions
        ``(train, validation, test)`` as for :func:`split_indices`.
    seed
        Seed of the permutation.
    min_train
        Fewest training structures accepted.

    Examples
    --------
    >>> split = split_with_held_out_test(list("abcdefgh"), ["b", "c"], (0.5, 0.25, 0.25), 0)
    >>> split.test.tolist()
    [1, 2]
    >>> len(split.train), len(split.validation)
    (4, 2)
    """
    if not test_ids:
        return split_indices(len(ids), fractions, seed, min_train=min_train)
    held = set(test_ids)
    test = np.array([i for i, k in enumerate(ids) if k in held], dtype=int)
    rest = np.array([i for i, k in enumerate(ids) if k not in held], dtype=int)
    f_train, f_validation, _ = fractions
    inner = split_indices(
        len(rest),
        (f_train / (f_train + f_validation), f_validation / (f_train + f_validation), 0.0),
        seed,
        min_train=min_train,
    )
    return DataSplit(rest[inner.train], rest[inner.validation], test)

"""The learned caller's model: gradient-boosted trees (scikit-learn) over candidate features.

Three classes per candidate (not a variant, 0/1, 1/1). Weights are bytes: a pickle of the fitted
classifier and the feature names, written by `to_bytes` and read by `from_bytes` only after the bytes'
sha256 matched the digest the caller expects (the registry's content address), so a swapped or tampered
file is refused before anything is unpickled. Training is deterministic for a given seed and data
(`early_stopping=False`, fixed `random_state`), and prediction is deterministic on a machine: `verify`
re-computes a registered test output bit for bit.

Fit and prediction run with a stated number of OpenMP threads (`threads`; default and ceiling: the CPUs
this process may use), set through threadpoolctl: scikit-learn's default is every core of the machine, and
on a shared, oversubscribed machine its spin-waiting threads made one fit 9x slower (159 s vs 17 s). The
result does not depend on the thread count, bytes of the weights included
(tests/genomics/test_genomics_learned_threads.py).
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle  # nosec B403: loaded only after the sha256 matched the registered digest
from dataclasses import dataclass

import numpy as np

from labstream.core.errors import IntegrityError
from labstream.genomics.learned_features import BASE_FEATURES, FEATURE_SETS, FEATURES
from labstream.genomics.learned_realign import REALIGN_VERSION

FORMAT = "labstream.variant-gbm/1"


def cpu_threads(requested: int | None = None) -> int:
    """OpenMP threads for the model: `requested`, or (None) every CPU this process may use, never more."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(requested or usable, usable))


def _limited(threads: int | None):  # type: ignore[no-untyped-def]
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=cpu_threads(threads), user_api="openmp")


@dataclass
class VariantModel:
    classifier: object
    features: tuple[str, ...] = FEATURES
    # learned_realign.REALIGN_VERSION of the features it was fitted on (weights without one: 1)
    realign_version: int = REALIGN_VERSION

    @classmethod
    def fit(
        cls, x: np.ndarray, y: np.ndarray, *, seed: int = 0, max_iter: int = 300, threads: int | None = None
    ) -> VariantModel:
        from sklearn.ensemble import HistGradientBoostingClassifier

        clf = HistGradientBoostingClassifier(
            max_iter=max_iter,
            learning_rate=0.08,
            max_leaf_nodes=15,
            l2_regularization=1.0,
            early_stopping=False,
            random_state=seed,
        )
        # the three classes are known even when a training set lacks one (a sample with no hom ALT)
        with _limited(threads):
            clf.fit(x, y)
        # the fitted bin mapper keeps the fit's thread count (scikit-learn's _BinMapper.n_threads, used only
        # while fitting): the one difference between the pickles of a 1- and a 2-thread fit. Reset to its
        # constructor default so the weights' sha256 (the registry's content address) does not depend on it.
        if getattr(clf, "_bin_mapper", None) is not None:
            clf._bin_mapper.n_threads = None
        return cls(clf, next(f for f in FEATURE_SETS if len(f) == x.shape[1]))

    def predict_proba(self, x: np.ndarray, *, threads: int | None = None) -> np.ndarray:
        """(n, 3) probabilities for (none, 0/1, 1/1); a class absent from training gets 0."""
        if len(x) == 0:
            return np.zeros((0, 3))
        x = x[:, : len(self.features)]  # a model of fewer features (FEATURE_SETS) reads its columns only
        with _limited(threads):
            proba = self.classifier.predict_proba(x)  # type: ignore[attr-defined]
        out = np.zeros((len(x), 3))
        for j, cls in enumerate(self.classifier.classes_):  # type: ignore[attr-defined]
            out[:, int(cls)] = proba[:, j]
        return out

    @property
    def realigns(self) -> bool:
        """Whether the model reads the realignment features (models before them do not)."""
        return self.features != BASE_FEATURES

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        obj = {"format": FORMAT, "features": list(self.features), "classifier": self.classifier}
        if self.realign_version > 1:  # weights of version 1 stay as they were written
            obj["realign_version"] = self.realign_version
        pickle.dump(obj, buf)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, sha256: str, *, source: str = "weights") -> VariantModel:
        got = hashlib.sha256(data).hexdigest()
        if got != sha256:
            raise IntegrityError(
                f"{source}: weights sha256 is {got[:16]}…, the registry says {sha256[:16]}…; the file was "
                "changed or replaced: restore it from a backup or register the model again"
            )
        obj = pickle.loads(data)  # noqa: S301  # nosec B301: bytes verified against the registered digest
        if not isinstance(obj, dict) or obj.get("format") != FORMAT:
            raise IntegrityError(f"{source}: not a {FORMAT} model; register weights written by to_bytes")
        if tuple(obj["features"]) not in FEATURE_SETS:
            raise IntegrityError(
                f"{source}: the model was trained on other features than this code computes; retrain it"
            )
        return cls(obj["classifier"], tuple(obj["features"]), int(obj.get("realign_version", 1)))


def output_digest(proba: np.ndarray) -> str:
    """sha256 of the probabilities as little-endian float64: what `verify` compares bit for bit."""
    return hashlib.sha256(np.ascontiguousarray(proba, dtype="<f8").tobytes()).hexdigest()


__all__ = ["FORMAT", "VariantModel", "cpu_threads", "output_digest"]

"""The motif context columns (session 9) and models of every earlier feature set: a model trained before
them reads its own first columns of today's matrix and predicts exactly what it predicted alone."""

from __future__ import annotations

import hashlib
import pickle

import numpy as np

from labstream.genomics.learned_features import (
    BASE_FEATURES,
    CONTEXT_FEATURES,
    FEATURE_SETS,
    FEATURES,
    REALIGN_ONLY,
    motif_context,
)
from labstream.genomics.learned_model import FORMAT, VariantModel
from labstream.genomics.learned_realign import REALIGN_VERSION


def test_motif_context_marks_the_base_after_ggc_and_before_gcc() -> None:
    ref = {"c": "AAGGCTAAAAAAAAGATGCCAA"}
    #          1234567890123456789012
    keys = [("c", 6, "T", "G"), ("c", 17, "T", "C"), ("c", 5, "CT", "C"), ("c", 16, "AT", "A"),
            ("c", 8, "A", "G"), ("c", 1, "A", "C"), ("c", 22, "A", "G")]  # fmt: skip
    got = motif_context(keys, ref).tolist()
    # forward-strand GGC before the SNP at 6 and before the deleted T (6) of the deletion anchored at 5;
    # GCC right after the SNP at 17 and after the deleted T (17); neither elsewhere nor past the ends
    assert got == [[1, 0], [0, 1], [1, 0], [0, 1], [0, 0], [0, 0], [0, 0]]
    assert FEATURES[-len(CONTEXT_FEATURES) :] == CONTEXT_FEATURES


def test_models_of_every_feature_set_read_their_own_columns() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(240, len(FEATURES)))
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 1).astype(np.int64)
    for features in FEATURE_SETS:
        model = VariantModel.fit(x[:, : len(features)], y, seed=0, max_iter=8, threads=1)
        assert model.features == features
        weights = model.to_bytes()
        loaded = VariantModel.from_bytes(weights, hashlib.sha256(weights).hexdigest())
        # today's full matrix gives the same probabilities as the model's own columns, bit for bit
        assert np.array_equal(loaded.predict_proba(x), model.predict_proba(x[:, : len(features)]))
        assert loaded.realigns == (features != BASE_FEATURES)
        assert loaded.realign_version == model.realign_version == REALIGN_VERSION == 3
        # weights written before the realignment fix (no version in them) realign as they were trained: 1
        old = pickle.dumps({"format": FORMAT, "features": list(features), "classifier": model.classifier})
        assert VariantModel.from_bytes(old, hashlib.sha256(old).hexdigest()).realign_version == 1
    assert len(REALIGN_ONLY) == 46 and len(BASE_FEATURES) == 36  # sessions 8 and 7: registered models

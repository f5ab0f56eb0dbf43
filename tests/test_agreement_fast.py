"""The bincount ARI is scikit-learn's adjusted_rand_score, float for float."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score

from segmentation.evaluate import adjusted_rand_from_codes

codes = st.integers(min_value=-1, max_value=6)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(codes, codes), max_size=60))
def test_equals_scikit_learn_exactly(pairs: list[tuple[int, int]]) -> None:
    a = np.array([p[0] for p in pairs], dtype=np.int8)
    b = np.array([p[1] for p in pairs], dtype=np.int8)
    assert adjusted_rand_from_codes(a, b) == adjusted_rand_score(a, b)


def test_hand_computed_cases() -> None:
    # scikit-learn's documented examples: a split into singletons is 0, a crossed split -0.5.
    assert adjusted_rand_from_codes(np.array([0, 0, 0, 0]), np.array([0, 1, 2, 3])) == 0.0
    assert adjusted_rand_from_codes(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])) == -0.5
    # Renaming the segments changes nothing; a missing label (-1) is a segment of its own.
    assert adjusted_rand_from_codes(np.array([0, 0, 1, 1]), np.array([5, 5, 2, 2])) == 1.0
    assert adjusted_rand_from_codes(np.array([-1, -1, 1, 1]), np.array([0, 0, 1, 1])) == 1.0


def test_a_million_customers_equal_scikit_learn() -> None:
    rng = np.random.default_rng(7)
    a = rng.integers(-1, 9, size=1_000_000).astype(np.int8)
    b = np.where(rng.random(1_000_000) < 0.7, a, rng.integers(0, 5, size=1_000_000)).astype(np.int8)
    assert adjusted_rand_from_codes(a, b) == adjusted_rand_score(a, b)


def test_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="differ in length: 3 and 2"):
        adjusted_rand_from_codes(np.array([0, 1, 2]), np.array([0, 1]))

"""Every iterative fit outside CLV is bounded by the config too (#18): k-means and
GaussianMixture stop after ``clustering.kmeans_max_iterations`` / ``gmm_max_iterations``
(scikit-learn's own defaults, so no output changes); CLV's limits are in test_clv_limits."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture

from segmentation.clustering._fitting import fit_for_ks
from segmentation.config import load_config
from segmentation.errors import SegmentationInputError
from segmentation.schemes.clusters import _Settings


def test_the_defaults_are_scikit_learns() -> None:
    settings = load_config()["clustering"]
    assert settings["kmeans_max_iterations"] == KMeans().max_iter == 300
    assert settings["gmm_max_iterations"] == GaussianMixture().max_iter == 100
    options = _Settings.from_config(settings).options
    assert options["kmeans_max_iterations"] == 300 and options["gmm_max_iterations"] == 100


@pytest.mark.parametrize("name", ["kmeans_max_iterations", "gmm_max_iterations"])
def test_a_limit_below_one_names_the_setting(name: str) -> None:
    settings = load_config({"clustering": {name: 0}})["clustering"]
    with pytest.raises(SegmentationInputError, match=r"gmm_max_iterations >= 1"):
        _Settings.from_config(settings)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # on purpose
@pytest.mark.parametrize(("algorithm", "cls"), [("kmeans", KMeans), ("gmm", GaussianMixture)])
def test_the_limit_reaches_the_fit(algorithm: str, cls: type) -> None:
    points = np.random.default_rng(0).normal(size=(300, 3))
    seen: list[int] = []
    real_fit = cls.fit

    def recording_fit(self: object, *args: object, **kwargs: object) -> object:
        seen.append(self.max_iter)  # type: ignore[attr-defined]
        return real_fit(self, *args, **kwargs)

    options = {"n_init": 1, "kmeans_max_iterations": 2, "gmm_max_iterations": 3}
    with mock.patch.object(cls, "fit", recording_fit):
        fits = fit_for_ks(points, [3, 4], algorithm=algorithm, seed=0, options=options)
    assert seen == 2 * [2 if algorithm == "kmeans" else 3]
    assert sorted(fits) == [3, 4]

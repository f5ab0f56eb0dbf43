"""The rule-based schemes private-domain (私域) teams run by hand, computed from one snapshot.

Every scheme here is a function ``scheme(snapshot, *, config, random_state=0, previous=None)``
from the customer snapshot (:func:`segmentation.features.customer_snapshot`) to a
:class:`~segmentation.schemes.base.Segmentation`. Thresholds, titles and segment names come
from the ``rules.yaml`` sections of the config, actions from ``playbook.yaml``
(:func:`segmentation.config.load_config`). The rules are deterministic: ``random_state`` is
accepted for the common interface and unused, and so is ``previous`` (rule labels need no
alignment with an earlier run).

Each scheme gives every customer exactly one label, potential customers who never bought
included: they get their own lowest segment ("potential", 潜在) in the purchase-based
schemes, the lowest grade (普通会员) in the member grades, and are tiered by their
interactions like everyone else in the interaction tiers. Labels depend only on a customer's
own values and on order-free statistics of the whole snapshot (quantiles, means, spend
ranks with ties kept together), so they never depend on the snapshot's row order.

The schemes live one idea a module: :mod:`~segmentation.schemes.rfm` (RFM scores, named
grid, eight classes), :mod:`~segmentation.schemes.tiers` (value tiers, member grades,
frequency and interaction tiers), :mod:`~segmentation.schemes.lifecycle`,
:mod:`~segmentation.schemes.needs`, and :mod:`~segmentation.schemes.attributes`
(:func:`attribute_cut` crosses any scheme with a customer attribute). This module assembles
:data:`RULE_SCHEMES`, the schemes in report order, and re-exports them all.
"""

from __future__ import annotations

from segmentation.schemes.attributes import ATTRIBUTE_NAMES, AttributeCut, attribute_cut
from segmentation.schemes.base import Scheme
from segmentation.schemes.lifecycle import lifecycle
from segmentation.schemes.needs import needs
from segmentation.schemes.rfm import rfm_8class, rfm_named, rfm_scores
from segmentation.schemes.tiers import frequency_tier, interaction_tier, member_grade, value_tier

__all__ = [
    "ATTRIBUTE_NAMES",
    "RULE_SCHEMES",
    "AttributeCut",
    "attribute_cut",
    "frequency_tier",
    "interaction_tier",
    "lifecycle",
    "member_grade",
    "needs",
    "rfm_8class",
    "rfm_named",
    "rfm_scores",
    "value_tier",
]

#: Every rule-based scheme by registry name, in report order.
RULE_SCHEMES: dict[str, Scheme] = {
    "rfm_named": rfm_named,
    "rfm_8class": rfm_8class,
    "value_tier": value_tier,
    "member_grade": member_grade,
    "frequency_tier": frequency_tier,
    "interaction_tier": interaction_tier,
    "lifecycle": lifecycle,
    "needs": needs,
}

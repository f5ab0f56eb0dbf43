"""Thresholds, names and the playbook for every scheme: one config the user can override.

The defaults live in YAML files beside this module, one per area (``rules.yaml``,
``clustering.yaml``, ``clv.yaml``, ...); :func:`load_config` merges them into one mapping and
then deep-merges the user's override on top, so a user's YAML only names what it changes.
"""

from __future__ import annotations

import copy
import importlib.resources
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from segmentation.errors import SegmentationInputError

__all__ = ["default_config", "load_config", "merge_config"]


def default_config() -> dict[str, Any]:
    """The built-in configuration: every ``*.yaml`` beside this module, merged by file name.

    Returns
    -------
    dict
        A fresh, mutable copy; changing it changes nothing else.
    """
    merged: dict[str, Any] = {}
    package = importlib.resources.files("segmentation.config")
    for entry in sorted(package.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            merged = merge_config(merged, yaml.safe_load(entry.read_text(encoding="utf-8")) or {})
    return merged


def merge_config(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``override`` into a copy of ``base``: mappings merge, anything else replaces.

    Parameters
    ----------
    base, override : Mapping
        Nested mappings; neither is modified.

    Returns
    -------
    dict
    """
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_config(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_config(override: str | Path | Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The built-in configuration with the user's override merged on top.

    Parameters
    ----------
    override : path, mapping or None
        A YAML file or a mapping naming only the values to change, e.g.
        ``{"value_tier": {"cumulative_shares": [0.7, 0.2, 0.1]}}``.

    Returns
    -------
    dict

    Raises
    ------
    SegmentationInputError
        When the file cannot be read or is not a YAML mapping, or names a section that does
        not exist (a typo would otherwise be ignored silently).
    """
    config = default_config()
    if override is None:
        return config
    if isinstance(override, Mapping):
        user = dict(override)
        source = "the config override"
    else:
        path = Path(override)
        source = str(path)
        try:
            user = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise SegmentationInputError(
                f"{path}: cannot read the config ({error}); give a readable YAML file."
            ) from error
        if not isinstance(user, Mapping):
            raise SegmentationInputError(
                f"{path}: the config must be a YAML mapping of sections, found "
                f"{type(user).__name__}; start the file with a section name such as 'rfm:'."
            )
    unknown = sorted(set(user) - set(config))
    if unknown:
        raise SegmentationInputError(
            f"{source}: unknown config sections {unknown}; known sections are "
            f"{sorted(config)}. Fix the spelling or remove them."
        )
    return merge_config(config, user)

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

from segmentation.errors import MissingSettingError, SegmentationInputError

__all__ = ["Settings", "config_section", "default_config", "load_config", "merge_config"]


_MISSING = object()


class Settings(dict[str, Any]):
    """A config section whose every key must come from the YAML defaults.

    Reading a key the YAML lacks, with ``[]`` or with ``.get(key, fallback)``, raises
    :class:`~segmentation.errors.MissingSettingError` naming its dotted path, so no default
    can hide in the code. Nested sections are ``Settings`` too; anything else is as loaded.
    """

    def __init__(self, values: Mapping[str, Any], *, path: str = "") -> None:
        super().__init__((key, _settings(value, f"{path}{key}.")) for key, value in values.items())
        self._path = path

    def __missing__(self, key: str) -> Any:
        raise MissingSettingError(f"{self._path}{key}")

    def get(self, key: str, default: Any = _MISSING) -> Any:
        """The value of ``key``; a key the YAML lacks raises whatever the fallback."""
        return self[key]

    def __reduce__(self) -> tuple[Any, ...]:
        return (Settings, (dict(self),), {"_path": self._path})

    def __deepcopy__(self, memo: dict[int, Any]) -> Settings:
        return Settings(copy.deepcopy(dict(self), memo), path=self._path)


def _settings(value: Any, path: str) -> Any:
    if isinstance(value, Mapping):
        return Settings(value, path=path)
    if isinstance(value, list):
        return [_settings(item, f"{path}{i}.") for i, item in enumerate(value)]
    return value


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
        return Settings(config)
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
    return Settings(merge_config(config, user))


def config_section(config: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """One section of the config (a scheme's, ``clv``), or a clear error when it is missing.

    Parameters
    ----------
    config : Mapping
        :func:`load_config`'s output, or a mapping a caller built by hand.
    name : str
        The section.

    Returns
    -------
    Mapping

    Raises
    ------
    SegmentationInputError
        When ``config`` has no mapping under ``name``.
    """
    # not .get: Settings raise for a missing key, and the message here says what to do
    section = config[name] if name in config else None  # noqa: SIM401
    if not isinstance(section, Mapping):
        raise SegmentationInputError(
            f"config: no {name!r} section; build the config with "
            "segmentation.config.load_config(), which starts from the defaults."
        )
    return section

"""The config: YAML defaults are the only defaults, and a user's override names what it changes."""

from __future__ import annotations

import copy
import pickle

import pytest

from segmentation.config import Settings, default_config, load_config
from segmentation.errors import MissingSettingError, SegmentationInputError


def test_a_key_the_yaml_lacks_is_an_error_naming_its_path() -> None:
    config = load_config()
    assert config["clv"]["model"] == "auto"
    with pytest.raises(MissingSettingError, match=r"'clv\.no_such_key'.*YAML"):
        config["clv"]["no_such_key"]
    # a fallback in the code would hide a default outside the YAML: it raises all the same
    with pytest.raises(MissingSettingError, match=r"'clv\.backtest\.no_such_key'"):
        config["clv"]["backtest"].get("no_such_key", 273)
    with pytest.raises(MissingSettingError, match=r"'no_such_section'"):
        config.get("no_such_section", {})


def test_settings_survive_pickle_and_deepcopy_with_their_paths() -> None:
    config = load_config({"clv": {"model": "bgnbd"}})
    for again in (pickle.loads(pickle.dumps(config)), copy.deepcopy(config)):
        assert again == config and isinstance(again, Settings)
        assert again["clv"]["model"] == "bgnbd"
        with pytest.raises(MissingSettingError, match=r"'clv\.backtest\.nope'"):
            again["clv"]["backtest"]["nope"]


def test_every_yaml_section_is_loaded_as_settings() -> None:
    defaults = default_config()
    config = load_config()
    assert config == defaults
    assert all(isinstance(config[name], Settings) for name in defaults)


def test_an_override_may_not_invent_a_section() -> None:
    with pytest.raises(SegmentationInputError, match=r"unknown config sections \['rmf'\]"):
        load_config({"rmf": {"bins": 5}})

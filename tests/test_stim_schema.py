"""A stimulus kind's config schema (issue 19): registered with the plug-in, stored in Hydra's
ConfigStore as an option of ``stim/schema``; composing it at ``stim.<name>`` shows the kind's
defaults (what ``circuitsim --cfg job`` prints), and a misspelt key fails with one line naming it."""

from dataclasses import fields

import pytest
from omegaconf import OmegaConf

from circuitsim.errors import ConfigError
from circuitsim.plugins import STIMULI
from circuitsim.schema import CommandConf, compose, plain_config
from circuitsim.spec import build_spec

HOLD = ["+stim/schema@stim.hold=cortical_command", "stim.hold.channel=left", "stim.hold.start=0.5*second",
        "stim.hold.stop=1*second", "stim.hold.rate=1000*Hz"]


def test_the_command_kind_holds_its_schema_and_the_validator_allows_exactly_its_keys():
    from circuitsim.stimulation import command

    assert STIMULI["cortical_command"].schema is CommandConf
    assert set(command.KEYS) == {f.name for f in fields(CommandConf)} - {"kind"}


def test_composed_stimulus_shows_the_schema_defaults_and_validates_to_them():
    cfg = compose(HOLD)
    node = OmegaConf.to_container(cfg.stim.hold)
    assert node["kind"] == "cortical_command"
    assert node["population"] == CommandConf.population and node["weight"] == CommandConf.weight
    params = build_spec(plain_config(cfg)).stimuli["hold"]
    assert params["population"] == "ctx_e" and params["weight"] == pytest.approx(0.5e-9)


def test_a_plain_config_leaving_out_defaults_gets_the_schema_ones():
    cfg = plain_config(compose([]))
    cfg["stim"] = {"hold": {"kind": "cortical_command", "channel": "left", "start": "0.5*second",
                            "stop": "1*second", "rate": "1000*Hz"}}
    params = build_spec(cfg).stimuli["hold"]
    assert params["population"] == CommandConf.population and params["weight"] == pytest.approx(0.5e-9)


def test_a_misspelt_stimulus_key_fails_naming_the_field():
    with pytest.raises(Exception, match="stim.hold.rat"):
        compose(HOLD + ["stim.hold.rat=3"])          # Hydra: the schema has no such field
    cfg = plain_config(compose(HOLD + ["+stim.hold.rat=3"]))
    with pytest.raises(ConfigError, match=r"^stim\.hold\.rat: unknown key .* did you mean 'rate'"):
        build_spec(cfg)

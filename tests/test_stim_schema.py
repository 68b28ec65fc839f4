"""A stimulus kind's config schema (issue 19): registered with the plug-in, stored in Hydra's
ConfigStore as an option of ``stim/schema``; composing it at ``stim.<name>`` shows the kind's
defaults (what ``circuitsim --cfg job`` prints), and a misspelt key fails with one line naming it."""

from dataclasses import fields
from pathlib import Path

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


# ------------------------------------------------------------------ the TMS kind's schema

TMS_PRESETS = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "configs" / "stim").glob("*.yaml")
                     if "kind: tms" in p.read_text())


def test_tms_presets_are_found():
    assert {"tms_single", "tms_sici", "tms_icf", "tms_lici", "tms_cbi", "tms_threshold", "ctbs_m1",
            "ctbs_cerebellum", "itbs_m1", "rtms_1hz"} <= set(TMS_PRESETS)


def test_the_tms_kind_holds_its_schema_and_the_validator_allows_exactly_its_keys():
    from circuitsim.stimulation import tms_config
    from circuitsim.stimulation.tms_schema import TmsConf, TmsMeasureConf, TmsSiteConf

    assert STIMULI["tms"].schema is TmsConf
    assert set(tms_config.KEYS) == {f.name for f in fields(TmsConf)} - {"kind"}
    assert set(tms_config.SITE_KEYS) == {f.name for f in fields(TmsSiteConf)}
    assert set(tms_config.MEASURE_KEYS) == {f.name for f in fields(TmsMeasureConf)}


@pytest.mark.parametrize("preset", TMS_PRESETS)
def test_every_tms_preset_shows_the_schema_defaults(preset):
    """Issue 19: `circuitsim --cfg job stim=<preset>` prints the TMS model's defaults (the sites with
    every key of each element, the measure settings), and they validate to the same values as a
    config that leaves them out."""
    cfg = compose([f"stim={preset}"])
    node = OmegaConf.to_container(cfg.stim[preset])
    m1 = node["sites"]["m1"]["elements"]
    assert m1["ctx_i_soma"] == {"population": "ctx_i", "kind": "soma", "threshold": "44%MSO", "slope": "6%MSO"}
    assert m1["ctx_e_afferent"]["ampa"] == "2.7*nS" and m1["ctx_e_afferent"]["cell_spread"] == 0.0
    assert node["sites"]["m1"]["gabab"]["threshold"] == "62%MSO"
    assert set(node["sites"]["cerebellum"]["elements"]) == {"pc_soma", "grc_soma"}
    assert node["measure"]["criterion"] == "0.05*mV" and node["measure"]["window"] == ["0*ms", "50*ms"]
    full = build_spec(cfg).stimuli[preset]
    plain = plain_config(cfg)
    given = {k: plain["stim"][preset][k] for k in ("kind", "rmt", "protocol", "plasticity")}
    # the preset's own site nodes (the ICF set, the tonic drive) without the defaults around them
    own = {s: {k: v for k, v in site.items() if k in ("facilitation", "tonic_drive") and v}
           for s, site in plain["stim"][preset]["sites"].items()}
    given["sites"] = {s: v for s, v in own.items() if v}
    plain["stim"][preset] = given
    assert build_spec(plain).stimuli[preset] == full


def test_a_plain_tms_node_merges_into_the_default_sites_and_fills_elements_from_their_kind():
    from circuitsim.stimulation.tms_config import DEFAULT_RMT_MSO

    cfg = plain_config(compose(["stim=tms_single"]))
    protocol = cfg["stim"]["tms_single"]["protocol"]
    cfg["stim"]["tms_single"] = {"kind": "tms", "protocol": protocol, "measure": {"criterion": "0.1*mV"}, "sites": {
        "m1": {"elements": {"ctx_e_soma": None, "ctx_e_afferent": {"ampa": "3*nS"}}, "gabab": {"conductance": "6*nS"}},
        "extra": {"elements": {"x": {"population": "ctx_e", "kind": "afferent", "threshold": "50%MSO",
                                     "slope": "5%MSO", "n_fibres": 10, "fibres_per_cell": 2}}}}}
    params = build_spec(cfg).stimuli["tms_single"]
    assert params["rmt"] == DEFAULT_RMT_MSO == 63.0
    m1 = params["sites"]["m1"]
    assert list(m1["elements"]) == ["ctx_i_soma", "ctx_e_afferent"]          # ctx_e_soma removed by null
    assert m1["elements"]["ctx_e_afferent"]["ampa"] == pytest.approx(3e-9)
    assert m1["elements"]["ctx_e_afferent"]["nmda"] == pytest.approx(0.27e-9)  # the rest of the default element
    assert m1["gabab"]["conductance"] == pytest.approx(6e-9) and m1["gabab"]["tau_decay"] == pytest.approx(0.1)
    x = params["sites"]["extra"]
    assert x["jitter"] == 0.0        # a new site: TmsSiteConf's defaults
    # a new afferent element: TmsAfferentConf's defaults
    assert (x["elements"]["x"]["ampa"], x["elements"]["x"]["delay"], x["elements"]["x"]["cell_spread"]) == (0.0, 1e-3, 0.0)
    assert params["measure"]["criterion"] == pytest.approx(1e-4)
    assert params["measure"]["pre_window"] == pytest.approx(0.05)


@pytest.mark.parametrize("override, field", [
    ("stim.tms_single.sites.m1.jiter=0.1", "jiter"),
    ("stim.tms_single.measure.critrion=1*mV", "critrion"),
    ("stim.tms_single.rmtt=60%MSO", "rmtt"),
])
def test_a_misspelt_tms_key_fails_when_composed_naming_it(override, field):
    with pytest.raises(Exception, match=field):
        compose(["stim=tms_single", override])


def test_a_misspelt_element_key_fails_in_the_validator_naming_it():
    cfg = plain_config(compose(["stim=tms_single", "+stim.tms_single.sites.m1.elements.ctx_i_soma.treshold=40%MSO"]))
    with pytest.raises(ConfigError, match=r"^stim\.tms_single\.sites\.m1\.elements\.ctx_i_soma\.treshold: unknown key"):
        build_spec(cfg)


def test_the_tms_presets_state_the_graded_pool_and_its_rmt():
    """GRADED_RMT_MSO and GRADED_PIC_GAIN (tms_config) are what the experiments use for the TMS
    presets' values: they must agree with the presets (the plasticity presets keep the earlier
    67 %MSO, documented in experiments/plasticity/README.md)."""
    from circuitsim.stimulation.tms_config import GRADED_PIC_GAIN, GRADED_RMT_MSO

    for preset in TMS_PRESETS:
        cfg = compose([f"stim={preset}"])
        assert cfg.readout.muscle.params.pool.pic_gain == GRADED_PIC_GAIN, preset
        rmt = build_spec(cfg).stimuli[preset]["rmt"]
        assert rmt == (GRADED_RMT_MSO if preset.startswith("tms_") else 67.0), preset


def test_a_whole_tms_node_can_be_set_on_the_command_line():
    """The optional nodes default to {} (not null): Hydra cannot merge an override's mapping into a
    null, so `++stim.tms_single.plasticity={...}` would fail to compose (`++`: the keys are new to
    the node)."""
    from circuitsim.stimulation.tms_config import ICF_FACILITATION

    fac = "{" + ", ".join(f"{k}: {v}" for k, v in ICF_FACILITATION.items()) + "}"
    cfg = compose(["stim=tms_single", f"++stim.tms_single.sites.m1.facilitation={fac}",
                   "++stim.tms_single.plasticity={enabled: true, rule: calcium, pathways: [], elements: [m1.ctx_e_afferent]}"])
    params = build_spec(cfg).stimuli["tms_single"]
    assert params["sites"]["m1"]["facilitation"]["gain"] == ICF_FACILITATION["gain"]
    assert params["plasticity"]["enabled"] and params["plasticity"]["rule"] == "calcium"
    plain = build_spec(compose(["stim=tms_single"])).stimuli["tms_single"]
    assert plain["plasticity"] == {"enabled": False} and "facilitation" not in plain["sites"]["m1"]
    assert "gabab" not in plain["sites"]["cerebellum"]


def test_a_null_node_of_a_site_removes_it_as_when_composed():
    cfg = plain_config(compose(["stim=tms_single"]))
    node = cfg["stim"]["tms_single"]
    cfg["stim"]["tms_single"] = {"kind": "tms", "protocol": node["protocol"], "sites": {"m1": {"gabab": None}}}
    assert "gabab" not in build_spec(cfg).stimuli["tms_single"]["sites"]["m1"]
    composed = build_spec(compose(["stim=tms_single", "stim.tms_single.sites.m1.gabab=null"])).stimuli["tms_single"]
    assert "gabab" not in composed["sites"]["m1"]


def test_a_dbs_controller_can_be_set_on_the_command_line():
    """As for TMS's optional nodes: the DBS schema's controller defaults to {} (open loop), so an
    override can set a whole closed loop on an open-loop preset (with a null default Hydra failed
    with an AttributeError)."""
    loop = ("{mode: on_off, biomarker: lfp_band_power, region: gpi, band: [4*Hz, 10*Hz], "
            "power: absolute, sensing: {method: template}, period: 100*ms, window: 500*ms, "
            "on_above: 0.6, off_below: 0.4}")
    closed = build_spec(compose(["stim=dbs_gpi", f"++stim.dbs_gpi.controller={loop}"])).stimuli["dbs_gpi"]
    assert closed["controller"]["mode"] == "on_off" and closed["controller"]["on_above"] == 0.6
    assert "runtime_only" in closed
    open_loop = build_spec(compose(["stim=dbs_gpi"])).stimuli["dbs_gpi"]
    assert open_loop["controller"] is None and "runtime_only" not in open_loop

"""Bad input of every kind gives a ConfigError naming the config path, before any code is generated."""

import pytest
from hydra.errors import ConfigCompositionException

from circuitsim import compose, simulate
from circuitsim.errors import ConfigError
from circuitsim.spec import NEURON_PARAMS, build_spec


def test_default_config_is_valid(default_cfg):
    spec = build_spec(default_cfg)
    required = {"ctx_e", "ctx_i", "d1", "d2", "fsi", "gpe", "stn", "gpi", "thal", "thal_cm", "pn", "grc",
                "pc", "io", "dcn"}
    assert required <= set(spec.populations)
    pathways = {"ctx_e_d1", "d1_gpi", "ctx_e_d2", "d2_gpe", "gpe_stn", "stn_gpi", "ctx_e_stn", "stn_gpe",
                "gpe_gpi", "fsi_d1", "fsi_d2", "gpi_thal", "thal_ctx_e", "ctx_e_thal", "ctx_e_ctx_i",
                "ctx_i_ctx_e", "ctx_e_pn", "pn_grc", "grc_pc", "io_pc", "pc_dcn", "dcn_thal", "dcn_io",
                "dcn_thal_cm", "thal_cm_d1", "thal_cm_d2", "stn_pn"}
    assert pathways <= set(spec.pathways)
    assert len(spec.channels) >= 2
    for pop in spec.populations.values():
        assert set(pop.params) == set(NEURON_PARAMS)
        assert pop.target_source, f"{pop.name} has no cited target rate"
        assert pop.target_high > pop.target_low


def test_pathway_overrides_from_the_command_line(default_cfg):
    base = build_spec(default_cfg).pathways["stn_gpe"]
    spec = build_spec(compose(["circuit.pathways.stn_gpe.weight_scale=1.5", "circuit.pathways.ctx_e_stn.p_scale=2",
                               "circuit.pathways.dcn_io.enabled=false"]))
    assert spec.pathways["stn_gpe"].weight == pytest.approx(1.5 * base.weight)
    assert spec.pathways["ctx_e_stn"].p == pytest.approx(2 * build_spec(default_cfg).pathways["ctx_e_stn"].p)
    assert "dcn_io" not in spec.pathways


def test_scale_multiplies_population_sizes(default_cfg):
    base = build_spec(default_cfg)
    spec = build_spec(compose(["circuit.scale=2"]))
    for name, pop in spec.populations.items():
        assert pop.n == 2 * base.populations[name].n


def test_modulators_scale_weights_and_background(default_cfg):
    base = build_spec(default_cfg)
    low_da = build_spec(compose(["circuit.modulators.dopamine.level=0.5"]))
    assert low_da.pathways["ctx_e_d1"].weight < base.pathways["ctx_e_d1"].weight
    assert low_da.pathways["ctx_e_d2"].weight > base.pathways["ctx_e_d2"].weight
    stressed = build_spec(compose(["circuit.modulators.arousal.level=1.4"]))
    for name, pop in stressed.populations.items():
        assert pop.bg_rate > base.populations[name].bg_rate


@pytest.mark.parametrize("override, path, fragment", [
    ("circuit.pathways.stn_gpe.weight=2", "circuit.pathways.stn_gpe.weight", "has no unit"),
    ("circuit.pathways.stn_gpe.weight=2*ms", "circuit.pathways.stn_gpe.weight", "not a conductance"),
    ("circuit.pathways.stn_gpe.source=stnx", "circuit.pathways.stn_gpe.source", "unknown population"),
    ("circuit.pathways.stn_gpe.p=1.5", "circuit.pathways.stn_gpe.p", "[0, 1]"),
    ("circuit.pathways.stn_gpe.p=-0.1", "circuit.pathways.stn_gpe.p", "[0, 1]"),
    ("circuit.pathways.stn_gpe.weight_scale=-1", "circuit.pathways.stn_gpe.weight_scale", "negative"),
    ("circuit.pathways.stn_gpe.receptor=glutamate", "circuit.pathways.stn_gpe.receptor", "ampa, nmda, gaba"),
    ("circuit.pathways.stn_gpe.topology=focal", "circuit.pathways.stn_gpe.topology", "channelled"),
    ("circuit.pathways.stn_gpe.delay=0.01*ms", "circuit.pathways.stn_gpe.delay", "time step"),
    ("circuit.populations.gpe.n=-5", "circuit.populations.gpe.n", "positive integer"),
    ("circuit.populations.gpe.n=0", "circuit.populations.gpe.n", "positive integer"),
    ("circuit.populations.gpe.background.rate=-10*Hz", "circuit.populations.gpe.background.rate", "negative"),
    ("circuit.populations.gpe.params.C=200", "circuit.populations.gpe.params.C", "has no unit"),
    ("+circuit.populations.gpe.params.Cm=200*pF", "circuit.populations.gpe.params.Cm", "unknown neuron parameter"),
    ("circuit.scale=0", "circuit.scale", "positive"),
    ("circuit.modulators.dopamine.level=-1", "circuit.modulators.dopamine.level", "negative"),
    ("+circuit.modulators.dopamine.weight_gain.nope=1", "circuit.modulators.dopamine.weight_gain.nope", "unknown pathway"),
    ("sim.duration=1.00005s", "sim.duration", "whole number of time steps"),
    ("sim.duration=-1s", "sim.duration", "positive"),
    ("sim.dt=1*ms", "sim.dt", "too coarse"),
    ("sim.dt=0.1", "sim.dt", "has no unit"),
    ("sim.device=gpu", "sim.device", "runtime, cpp_standalone"),
    ("sim.seed=-3", "sim.seed", "integer"),
    ("sim.transient=5s", "sim.transient", "shorter than sim.duration"),
    ("readout.plots=[raster,nope]", "readout.plots[1]", "raster"),
])
def test_bad_values_name_path_and_fix(override, path, fragment):
    with pytest.raises(ConfigError) as err:
        build_spec(compose([override]))
    assert err.value.path == path
    assert fragment in err.value.message


@pytest.mark.parametrize("override", [
    "circuit.pathways.stn_gpx.weight_scale=1.5",   # unknown pathway
    "circuit.populations.gpz.n=3",                 # unknown population
    "circuit.pathways.stn_gpe.weigth_scale=2",     # misspelt field
    "sim.durration=2s",
])
def test_unknown_names_fail_at_compose_time(override):
    with pytest.raises(ConfigCompositionException) as err:
        compose([override])
    assert override.split("=")[0].split(".")[-2] in str(err.value.__cause__) + str(err.value)


def test_invalid_config_fails_before_any_build(monkeypatch, tmp_path):
    import circuitsim.api as api

    def forbidden(*args, **kwargs):
        raise AssertionError("build_network must not be reached with an invalid config")

    monkeypatch.setattr(api, "build_network", forbidden)
    with pytest.raises(ConfigError):
        simulate(compose(["circuit.pathways.stn_gpe.weight=-1*nS"]), out_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()

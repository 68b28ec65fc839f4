"""The stimulus plug-in registry: one entry per kind, duplicates refused, dispatch by kind."""

import pytest

from circuitsim.plugins import STIMULI, DuplicateRegistrationError, StimulusRegistry


def test_builtin_kinds_hold_every_role_in_one_entry():
    dbs = STIMULI["dbs"]
    assert set(dbs.roles) == {"validator", "builder", "measure", "plot", "structure", "pulses", "schema"}
    assert STIMULI["tms"].builder.__module__ == "circuitsim.stimulation.tms"
    assert "cortical_command" in STIMULI.kinds("validator") and "cortical_command" in STIMULI.kinds("builder")


def test_a_second_function_for_a_role_is_refused_and_the_first_kept():
    reg = StimulusRegistry(plugins=())

    def first(stim, path, ctx):
        return {}

    def second(stim, path, ctx):
        return {}

    reg.register("pulse").validator(first)
    with pytest.raises(DuplicateRegistrationError, match=r"'pulse' already has a validator .*first"):
        reg.register("pulse").validator(second)
    assert reg["pulse"].validator is first
    reg.register("pulse").builder(second)      # another role of the same kind is fine
    assert reg["pulse"].roles == ("validator", "builder")
    with pytest.raises(KeyError, match="unknown stimulus kind 'nope'; known: pulse"):
        reg["nope"]


def test_older_per_role_names_are_views_onto_the_registry():
    from circuitsim.circuit.registry import STIMULUS_MEASURES, STIMULUS_STRUCTURES
    from circuitsim.spec import STIMULUS_VALIDATORS

    assert STIMULUS_VALIDATORS["dbs"] is STIMULI["dbs"].validator
    assert "cortical_command" in STIMULUS_STRUCTURES and STIMULUS_MEASURES.get("cortical_command") is None
    STIMULUS_VALIDATORS["test_kind"] = lambda stim, path, ctx: {}
    try:
        assert "test_kind" in STIMULI.kinds()
    finally:
        del STIMULUS_VALIDATORS["test_kind"]
    assert "test_kind" not in STIMULI


def test_the_motor_command_is_a_plug_in_like_the_others():
    """Its neuron code, batchability and (empty) structure come from its registry entry; the neuron
    template itself holds no command variable."""
    from circuitsim.circuit.models import adex_equations, noise_code

    command = STIMULI["cortical_command"]
    assert command.batchable and STIMULI.batchable() == ("cortical_command",)
    assert command.structure(None, {}) == {}
    assert "nu_cmd" not in adex_equations().names and not any("cmd" in code for code in noise_code())
    assert {"nu_cmd", "k_cmd"} <= set(adex_equations(variables=command.neuron.variables).names)
    draw, fix, inputs = noise_code(codes=[command.neuron])
    assert draw.rstrip().endswith(command.neuron.draw) and inputs.rstrip().endswith("g_ampa += w_cmd*k_cmd")

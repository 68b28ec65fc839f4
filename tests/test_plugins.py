"""The stimulus plug-in registry: one entry per kind, duplicates refused, dispatch by kind."""

import pytest

from circuitsim.plugins import STIMULI, DuplicateRegistrationError, StimulusRegistry


def test_builtin_kinds_hold_every_role_in_one_entry():
    dbs = STIMULI["dbs"]
    assert set(dbs.roles) == {"validator", "builder", "measure", "plot", "structure", "pulses"}
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
    assert "cortical_command" not in STIMULUS_STRUCTURES and STIMULUS_MEASURES.get("cortical_command") is None
    STIMULUS_VALIDATORS["test_kind"] = lambda stim, path, ctx: {}
    try:
        assert "test_kind" in STIMULI.kinds()
    finally:
        del STIMULUS_VALIDATORS["test_kind"]
    assert "test_kind" not in STIMULI

"""Property-based fuzzing of the config (issue 21, part 2), with Hypothesis.

Random overrides over every key of the composed configs (the default and a few stimulation and
task presets, so that stimulus keys are fuzzed too) with valid, boundary and invalid values:
NaN, +-inf, 1e400, huge, negative, zero, a wrong unit, a wrong type, non-ASCII text, an
unknown key (with ``+`` and ``++``), unparsable override lines. For each case the config is
composed and validated; it must either build a :class:`~circuitsim.spec.RunSpec` or be refused
with the project's :class:`~circuitsim.errors.ConfigError` (directly, or through
:func:`circuitsim.errors.config_error_from`, as the command line does) in one line that names a
field. Never another exception, never a hang (each case runs under a timer), never a silent
no-op for an unknown key (it is always refused, naming that key).

Number of examples: ``CIRCUITSIM_FUZZ_EXAMPLES`` (default 150 for the fast test, a tenth of it
for the full-compose and network tests: about a minute on one loaded core). Without the variable
the examples are derandomised (the same in every CI run); with it they are random, e.g.::

    CIRCUITSIM_FUZZ_EXAMPLES=2000 python -m pytest -q tests/test_fuzz.py

The fast test applies each override with Hydra's own override parser and the function Hydra
composes overrides with (``ConfigLoaderImpl._apply_overrides_to_config``) onto a base config
composed once, because a full compose takes ~0.5 s; the second test goes through
:func:`circuitsim.compose` end to end with config-group choices. The third builds the Brian2
network objects (runtime device, NumPy target: nothing is compiled or run) of accepted cases.
"""

from __future__ import annotations

import copy
import math
from collections import Counter
import os
import re
import signal
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Dict, List, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from circuitsim import compose
from circuitsim.errors import ConfigError, config_error_from
from circuitsim.spec import build_spec

_ENV = "CIRCUITSIM_FUZZ_EXAMPLES"
EXAMPLES = int(os.environ.get(_ENV, "150"))
SETTINGS = dict(deadline=None, database=None, derandomize=_ENV not in os.environ, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
#: seconds a case may take (validation takes well under a second; a hang is caught here)
CASE_TIMEOUT = 20

#: presets composed once as bases of the fast test (their keys are fuzzed too)
BASES = ((), ("stim=dbs_gpi",), ("task=turn_left",), ("stim=tms_single",), ("stim=ctbs_m1",),
         ("stim=dbs_gpi_closed_loop",), ("condition=parkinsonian",))
#: mapping nodes whose keys are names chosen by the user (a new key there is not a typo)
FREE_KEYS = re.compile(r"^(circuit\.(modulators|populations|pathways)|stim|stim\.[^.]+\.sites)$")


class CaseTimeout(Exception):
    pass


@contextmanager
def time_limit(seconds: float):
    def expire(signum, frame):
        raise CaseTimeout(f"a case took more than {seconds} s (a hang?)")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# ----------------------------------------------------------------------------- the keys


def _walk(node: Any, path: str, leaves: List[Tuple[str, Any]], nodes: List[str]) -> None:
    if isinstance(node, dict):
        if path:
            nodes.append(path)
        for key, value in node.items():
            _walk(value, f"{path}.{key}" if path else str(key), leaves, nodes)
    elif isinstance(node, list) and any(isinstance(x, (dict, list)) for x in node):
        for k, value in enumerate(node):
            _walk(value, f"{path}.{k}", leaves, nodes)
    else:
        leaves.append((path, node))


def _plain(cfg) -> dict:
    return OmegaConf.to_container(cfg, resolve=True)


@pytest.fixture(scope="module")
def bases() -> Dict[Tuple[str, ...], Any]:
    return {base: compose(list(base)) for base in BASES}


@pytest.fixture(scope="module")
def keys(bases) -> Dict[Tuple[str, ...], Tuple[List[Tuple[str, Any]], List[str]]]:
    out = {}
    for base, cfg in bases.items():
        leaves, nodes = [], []
        _walk(_plain(cfg), "", leaves, nodes)
        out[base] = (leaves, nodes)
    return out


def test_the_fuzzed_keys_cover_the_config(keys):
    leaves, nodes = keys[()]
    names = {k for k, _ in leaves}
    # every part of the config is reached: sim, circuit (populations, pathways, modulators,
    # receptors), readout (muscle params), task
    for key in ("sim.duration", "sim.threads", "circuit.scale", "circuit.pathways.stn_gpe.weight_scale",
                "circuit.populations.gpi.background.rate", "circuit.populations.gpi.params.tau_w",
                "circuit.modulators.dopamine.level", "circuit.receptors.ampa.tau", "readout.rate_bin",
                "readout.muscle.params.pool.drive_offset_hz", "task.name"):
        assert key in names, key
    assert len(names) > 400
    stim_leaves = {k for k, _ in keys[("stim=tms_single",)][0]}
    assert "stim.tms_single.protocol.0.n" in stim_leaves and "stim.contraction.rate" in stim_leaves


# --------------------------------------------------------------------------- the values

_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*\*?\s*([A-Za-z][A-Za-z0-9]*)\s*$")
_UNITS = ("ms", "second", "us", "Hz", "kHz", "mV", "nS", "pA", "pF", "mA", "volt", "kohm", "parsec", "µs", "Ω")
_NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 1e-300, 1e300, -1e300, 1e308, 5e-324, 2.0**31, 2.0**63]),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 2, 3, 2**31 - 1, 2**31, 10**9, 10**12, 10**30]),
)
_NUMBER_TEXT = st.one_of(
    _NUMBERS.map(lambda x: repr(x) if not isinstance(x, float) or math.isfinite(x) else str(x)),
    st.sampled_from(["nan", "inf", "-inf", "+inf", "NaN", "Infinity", "1e400", "-1e400", "1e-400", "1e309",
                     "0", "-0", "1_000", "0x10", "１２"]),
)
_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " ", "ampa", "focal", "left", "héllo", "Δt", "日本", "null", "true", "${oc.env:HOME}",
                     "a,b", "[1,2]", "{a: 1}", "'", '"', "\\", "=", "x" * 200]),
)


def _quantity(default: str):
    m = _QUANTITY.match(default)
    unit = m.group(2) if m else "ms"
    return st.one_of(
        st.tuples(_NUMBER_TEXT, st.just(unit)).map(lambda t: f"{t[0]}*{t[1]}"),   # the field's own unit
        st.tuples(_NUMBER_TEXT, st.sampled_from(_UNITS)).map(lambda t: f"{t[0]}*{t[1]}"),   # wrong or odd units
        st.tuples(_NUMBER_TEXT, st.just(unit)).map(lambda t: f"{t[0]}{t[1]}"),
        _NUMBER_TEXT,   # no unit
    )


_ANY = st.one_of(_NUMBERS, _TEXT, st.booleans(), st.none(),
                 st.lists(st.one_of(_NUMBERS, _TEXT), max_size=3),
                 st.dictionaries(st.sampled_from(["a", "kind", "n", "rate"]), _NUMBERS, max_size=2))


_FACTORS = st.sampled_from([0.5, 0.9, 1.0, 1.1, 1.5, 2.0])


def value_for(default: Any):
    """Values for a field whose default is ``default``: plausible ones (the default scaled a
    little), boundary and invalid ones of its own kind, and some of any kind."""
    plausible = st.just(default)
    if isinstance(default, bool):
        own = st.booleans()
    elif isinstance(default, (int, float)):
        plausible = _FACTORS.map(lambda f: type(default)(default * f) if isinstance(default, float)
                                 else max(1, round(default * f)) if default > 0 else default)
        own = st.one_of(_NUMBERS, st.just(default * 10), st.just(-default))
    elif isinstance(default, str) and _QUANTITY.match(default):
        number, unit = _QUANTITY.match(default).groups()
        plausible = _FACTORS.map(lambda f: f"{float(number) * f:g}*{unit}")
        own = _quantity(default)
    elif isinstance(default, list):
        own = st.lists(st.one_of(_TEXT, _NUMBERS), max_size=4)
    else:
        own = _TEXT
    return st.one_of(plausible, own, own, _ANY)


def render(value: Any) -> str:
    """A Python value as the text of a Hydra override."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ",".join(render(x) for x in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{render(v)}" for k, v in value.items()) + "}"
    text = str(value)
    if re.fullmatch(r"[A-Za-z0-9_.*+\-]+", text) and text not in ("null", "true", "false"):
        return text   # as on the command line: 5*ms, 1e400us
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


@st.composite
def cases(draw, keys_by_base, with_groups: bool = False):
    """(base overrides, override lines, the unknown key the lines add, if any)."""
    base = draw(st.sampled_from(sorted(keys_by_base)))
    leaves, nodes = keys_by_base[base]
    lines: List[str] = []
    unknown = None
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3]))):
        kind = draw(st.sampled_from(["value"] * 12 + ["node", "unknown", "unknown", "raw", "delete"]))
        if kind == "value":
            key, default = draw(st.sampled_from(leaves))
            lines.append(f"{draw(st.sampled_from(['', '', '++']))}{key}={render(draw(value_for(default)))}")
        elif kind == "node":   # a wrong type where a mapping belongs
            key = draw(st.sampled_from(nodes))
            lines.append(f"{draw(st.sampled_from(['', '++']))}{key}={render(draw(_ANY))}")
        elif kind == "unknown" and unknown is None:
            parent = draw(st.sampled_from([n for n in nodes if not FREE_KEYS.match(n)]))
            siblings = [k.rpartition(".")[2] for k in [k for k, _ in leaves] + nodes if k.rpartition(".")[0] == parent]
            name = draw(st.one_of(
                st.sampled_from(siblings or ["x"]).flatmap(lambda s: st.sampled_from(
                    [s + "x", s[:-1], s[1:] + s[0], s.upper(), s + "é", "_" + s])),
                st.from_regex(r"[a-z][a-z_]{0,10}", fullmatch=True),
            ))
            if name in siblings or not name.isidentifier() or name in ("allow_large", "kind"):
                continue
            unknown = f"{parent}.{name}"
            lines.append(f"{draw(st.sampled_from(['+', '++']))}{unknown}={render(draw(_ANY))}")
        elif kind == "raw":
            lines.append(draw(st.one_of(st.text(max_size=20), st.sampled_from(
                ["sim.duration=[", "=5", "sim.duration", "~sim.duration", "sim..dt=1", "+=", "sim.dt=1ms=2",
                 "circuit.scale=${oc.env:NOPE}", "sim.seed=${sim.seed}", "hydra.job.chdir=true"]))))
        elif kind == "delete":
            key, _ = draw(st.sampled_from(leaves))
            lines.append(f"~{key}")
    if with_groups:
        group = draw(st.sampled_from(["", "condition=dystonia_bg", "stim=tms_sici", "stim=[dbs_gpi,tms_single]",
                                      "task=turn_right", "condition=nope", "stim=dbs_thal"]))
        base = base + ((group,) if group else ())
    return base, lines, unknown


# ----------------------------------------------------------------------------- checks


def _apply(cfg, lines: List[str]):
    """Apply override lines as Hydra applies them after composing the defaults."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra.core.override_parser.overrides_parser import OverridesParser

    overrides = OverridesParser.create().parse_overrides(lines)
    cfg = copy.deepcopy(cfg)
    ConfigLoaderImpl._apply_overrides_to_config(overrides, cfg)
    return cfg


def _field_form(key: str) -> str:
    """``stim.x.protocol.0.n`` as validators name it: ``stim.x.protocol[0].n``."""
    return re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", key)


def check_outcome(run, lines: List[str], unknown: str | None):
    """Run ``run()`` (compose + validate); return the RunSpec or None if it was refused properly."""
    try:
        with time_limit(CASE_TIMEOUT):
            spec = run()
    except CaseTimeout:
        raise AssertionError(f"hang: {lines}")
    except Exception as err:   # noqa: BLE001 - the property under test: only ConfigError, one line
        converted = config_error_from(err)
        assert converted is not None, f"{lines} raised {type(err).__name__}: {err}"
        assert isinstance(converted, ConfigError)
        text = str(converted)
        assert "\n" not in text and "Traceback" not in text, f"{lines}: not one line: {text!r}"
        assert converted.path and converted.message, f"{lines}: no field named: {text!r}"
        if unknown is not None and len(lines) == 1:   # alone, the unknown key is what is refused
            assert converted.path in (unknown, _field_form(unknown), "override"), f"{lines}: {text}"
        return None
    assert unknown is None, f"{lines}: the unknown key {unknown} was accepted (a silent no-op)"
    return spec


# ------------------------------------------------------------------------------ tests


def _report(name: str, outcomes: Counter) -> None:
    print(f"\n{name}: {sum(outcomes.values())} cases, {outcomes['accepted']} accepted, "
          f"{outcomes['refused']} refused in one line")
    # the fuzzing reaches both outcomes (a strategy that only made parse errors would test little)
    assert outcomes["accepted"] > 0 and outcomes["refused"] > 0, outcomes


@pytest.mark.timeout(900)
def test_fuzz_overrides_validate_or_are_refused_in_one_line(bases, keys):
    outcomes: Counter = Counter()

    @settings(max_examples=EXAMPLES, **SETTINGS)
    @given(case=cases(keys))
    def run(case):
        base, lines, unknown = case
        spec = check_outcome(lambda: build_spec(_apply(bases[base], lines)), lines, unknown)
        outcomes["refused" if spec is None else "accepted"] += 1

    run()
    _report("fast path", outcomes)


@pytest.mark.timeout(900)
def test_fuzz_through_compose_with_config_groups(keys):
    outcomes: Counter = Counter()

    @settings(max_examples=max(10, EXAMPLES // 10), **SETTINGS)
    @given(case=cases(keys, with_groups=True))
    def run(case):
        base, lines, unknown = case
        spec = check_outcome(lambda: build_spec(compose([*base, *lines])), [*base, *lines], unknown)
        outcomes["refused" if spec is None else "accepted"] += 1

    run()
    _report("full compose", outcomes)


@pytest.mark.timeout(900)
def test_fuzz_accepted_cases_build_the_network_objects(bases, keys):
    """Accepted cases become Brian2 objects (runtime device, NumPy target: nothing compiled or run)."""
    from circuitsim import device as devices
    from circuitsim.api import _initial_state_rng
    from circuitsim.circuit.builder import build_network
    from circuitsim.circuit.connectivity import connect_all
    from circuitsim.circuit.layout import make_layout
    from circuitsim.spec import estimate_memory

    built = []

    @settings(max_examples=max(10, EXAMPLES // 10), **SETTINGS)
    @given(case=cases(keys))
    def run(case):
        base, lines, unknown = case
        spec = check_outcome(lambda: build_spec(_apply(bases[base], lines)), lines, unknown)
        if spec is None or spec.n_neurons > 5000 or estimate_memory(spec)["n_synapses"] > 200_000:
            return
        spec = replace(spec, sim=replace(spec.sim, device="runtime", codegen_target="numpy"))
        with time_limit(CASE_TIMEOUT):
            layout = make_layout(spec)
            connections = connect_all(spec, layout, spec.sim.seed)
            with devices.selected_device(spec):
                net = build_network(spec, layout, connections, _initial_state_rng(spec.sim.seed))
        assert net.spike_monitor is not None
        built.append(lines)

    run()
    print(f"\nnetwork objects built for {len(built)} accepted cases")
    assert built, "no accepted case was built"


@pytest.mark.parametrize("line", [
    "+circuit.pathways.stn_gpe.wieght=2*nS", "++circuit.pathways.stn_gpe.wieght=2*nS", "+sim.durration=1s",
    "+circuit.populations.gpi.background.rat=5*Hz", "+readout.muscle.enabeld=false", "+task.comand=1",
])
def test_unknown_keys_are_never_a_silent_no_op(bases, line):
    key = line.lstrip("+").split("=")[0]
    with pytest.raises(ConfigError) as err:
        build_spec(_apply(bases[()], [line]))
    assert err.value.path == key and "did you mean" in err.value.message

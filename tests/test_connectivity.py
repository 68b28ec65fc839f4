import numpy as np
import pytest

from circuitsim import compose
from circuitsim.circuit.connectivity import connect_all, in_degree
from circuitsim.circuit.layout import make_layout
from circuitsim.spec import build_spec


@pytest.fixture(scope="module")
def built():
    spec = build_spec(compose())
    layout = make_layout(spec)
    return spec, layout, connect_all(spec, layout, seed=3)


def test_layout_covers_every_neuron_once(built):
    spec, layout, _ = built
    assert layout.n == spec.n_neurons
    seen = np.concatenate([layout.indices(p) for p in spec.populations])
    assert np.array_equal(np.sort(seen), np.arange(layout.n))
    for name, pop in spec.populations.items():
        ch = layout.channel[layout.indices(name)]
        if pop.channelled:
            assert [np.sum(ch == c) for c in range(len(spec.channels))] == [pop.n_per_channel] * len(spec.channels)
        else:
            assert np.all(ch == -1)


def test_fixed_in_degree_and_no_autapses(built):
    spec, layout, conns = built
    for name, pw in spec.pathways.items():
        c = conns[name]
        tgt = layout.indices(pw.target)
        counts = np.bincount(c.j - tgt[0], minlength=tgt.size)
        assert np.all(counts == counts[0]), name
        assert counts[0] > 0, name
        assert np.all(np.isin(c.i, layout.indices(pw.source))), name
        if pw.source == pw.target:
            assert not np.any(c.i == c.j), name
        pairs = c.i.astype(np.int64) * layout.n + c.j
        assert np.unique(pairs).size == pairs.size, f"{name}: duplicate synapses"


def test_focal_pathways_stay_inside_their_channel(built):
    spec, layout, conns = built
    focal = [n for n, pw in spec.pathways.items() if pw.topology == "focal"]
    assert focal
    for name in focal:
        c = conns[name]
        assert np.array_equal(layout.channel[c.i], layout.channel[c.j]), name
    diffuse_cross = [n for n, pw in spec.pathways.items()
                     if pw.topology == "diffuse" and spec.populations[pw.source].channelled
                     and spec.populations[pw.target].channelled]
    for name in diffuse_cross:
        c = conns[name]
        assert np.any(layout.channel[c.i] != layout.channel[c.j]), name


def test_scale_keeps_in_degrees(built):
    spec, layout, conns = built
    spec2 = build_spec(compose(["circuit.scale=2"]))
    layout2 = make_layout(spec2)
    conns2 = connect_all(spec2, layout2, seed=3)
    for name, pw in spec.pathways.items():
        k1 = conns[name].n / spec.populations[pw.target].n
        k2 = conns2[name].n / spec2.populations[pw.target].n
        assert abs(k1 - k2) <= max(1.0, 0.05 * k1), name


def test_connectivity_is_seeded_and_per_pathway_independent(built):
    spec, layout, conns = built
    again = connect_all(spec, layout, seed=3)
    other = connect_all(spec, layout, seed=4)
    assert all(np.array_equal(conns[n].i, again[n].i) for n in conns)
    assert any(not np.array_equal(conns[n].i, other[n].i) for n in conns)
    # disabling one pathway leaves the others' synapses unchanged
    spec_off = build_spec(compose(["circuit.pathways.stn_gpe.enabled=false"]))
    off = connect_all(spec_off, make_layout(spec_off), seed=3)
    assert "stn_gpe" not in off
    assert all(np.array_equal(conns[n].i, off[n].i) for n in off)


def test_in_degree_rounds_and_clips():
    class P:
        p = 0.1
    assert in_degree(P, 150, 1.0) == 15
    assert in_degree(P, 300, 2.0) == 15
    P.p = 1.0
    assert in_degree(P, 10, 0.5) == 10

"""Trains from trains_from_indices (checked once) give the same measures as the same trains given
as a plain list (checked and copied by every measure)."""

import numpy as np

from circuitsim.analysis import spiketrains as st


def test_checked_trains_give_the_same_measures_as_plain_lists():
    rng = np.random.default_rng(11)
    n, duration = 40, 3.0
    t = np.sort(rng.uniform(0, duration, 4000))
    t = np.concatenate([t, 1.0 + 0.002 * np.arange(6)])          # a burst in some neuron
    i = rng.integers(0, n - 3, t.size)                             # three silent neurons
    checked = st.trains_from_indices(i, t, n)
    plain = [np.array(tr) for tr in checked]
    assert isinstance(checked, st.CheckedTrains) and type(plain) is list
    for f in (lambda tr: st.mean_rate_hz(tr, 2.5, t_start=0.5), st.cv_isi, st.burst_fraction,
              lambda tr: st.pause_fraction(tr, 2.5, t_start=0.5),
              lambda tr: st.synchrony_chi(tr, 2.5, t_start=0.5),
              lambda tr: st.synchrony_chi(tr, 2.5, t_start=0.5, kernel_sd=0.01)):
        assert f(checked) == f(plain)
    # the binned counts are those of one bincount per neuron
    counts = st._bin_counts(plain, 0.5, 2.5, 0.005)
    for k, tr in enumerate(plain):
        idx = st._bin_index(tr, 0.5, 0.005, counts.shape[1])
        assert np.array_equal(counts[k], np.bincount(idx, minlength=counts.shape[1]))
    assert counts.sum() > 0 and counts[-1].sum() == 0


def test_a_burst_is_found_the_same_through_either_entry():
    t = np.concatenate([np.arange(0, 2, 0.1), 2.0 + 0.003 * np.arange(8), 2.5 + np.arange(0, 2, 0.1)])
    bursts = st.poisson_surprise_bursts(t)
    assert bursts and bursts[0][0] >= 19
    frac = st.burst_fraction([t])
    assert frac == sum(b - a + 1 for a, b, _ in bursts) / t.size

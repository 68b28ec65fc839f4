"""Cross-checks of circuitsim.analysis against Elephant (optional test extra).

Elephant (https://elephant.readthedocs.io) has no Poisson-surprise burst
detector, pause detector or Golomb chi; those measures are tested against
analytic expectations in test_analysis_spiketrains.py instead.
"""

import numpy as np
import pytest

elephant = pytest.importorskip("elephant")
pq = pytest.importorskip("quantities")
neo = pytest.importorskip("neo")

from elephant import spectral, statistics  # noqa: E402
from elephant.conversion import BinnedSpikeTrain  # noqa: E402
from elephant.spike_train_correlation import correlation_coefficient  # noqa: E402

from circuitsim.analysis import spectra as sp  # noqa: E402
from circuitsim.analysis import spiketrains as st  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore::DeprecationWarning", "ignore::PendingDeprecationWarning"
)

T = 20.0


def _population(seed, n=12, c=0.25):
    rng = np.random.default_rng(seed)
    common = np.sort(rng.uniform(0, T, rng.poisson(5.0 * T)))
    trains = []
    for k in range(n):
        own = np.sort(rng.uniform(0, T, rng.poisson((8.0 + k) * T)))
        trains.append(np.sort(np.concatenate([common[rng.uniform(size=common.size) < c * 4], own])))
    return trains


def _neo(trains, t_stop=T):
    return [neo.SpikeTrain(tr * pq.s, t_start=0 * pq.s, t_stop=t_stop * pq.s) for tr in trains]


def test_cv_matches_elephant():
    rng = np.random.default_rng(0)
    trains = [np.cumsum(rng.gamma(k, 1.0 / (k * 20.0), 300)) for k in (1.0, 2.0, 5.0)]
    ref = np.mean([statistics.cv(np.asarray(statistics.isi(tr))) for tr in trains])
    assert st.cv_isi(trains) == pytest.approx(ref, rel=1e-12)


def test_mean_rate_matches_elephant():
    trains = _population(1)
    sts = _neo(trains)
    ref = np.mean([
        float(statistics.mean_firing_rate(s, t_start=2 * pq.s, t_stop=12 * pq.s).rescale("Hz"))
        for s in sts
    ])
    assert st.mean_rate_hz(trains, 10.0, t_start=2.0) == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("bin_size", [0.005, 0.05])
def test_spike_count_correlation_matches_elephant(bin_size):
    trains = _population(2)
    binned = BinnedSpikeTrain(_neo(trains), bin_size=bin_size * pq.s)
    c = correlation_coefficient(binned)
    ref = c[np.triu_indices_from(c, 1)].mean()
    assert st.spike_count_correlation(trains, T, bin_size) == pytest.approx(ref, rel=1e-9)


def test_population_rate_matches_elephant_time_histogram():
    trains = _population(3)
    hist = statistics.time_histogram(_neo(trains), bin_size=0.01 * pq.s, output="rate")
    ref = np.asarray(hist.rescale("Hz")).ravel()
    rate, fs = st.population_rate(trains, T, 0.01)
    assert fs == pytest.approx(100.0)
    np.testing.assert_allclose(rate, ref, rtol=1e-9)


def test_psd_and_coherence_match_elephant():
    rng = np.random.default_rng(4)
    fs = 500.0
    shared = rng.normal(size=10000)
    x = shared + rng.normal(size=10000)
    y = shared + rng.normal(size=10000)
    f, psd = sp.welch_psd(x, fs, segment_s=1.0)
    fe, psde = spectral.welch_psd(x, len_segment=500, overlap=0.5, fs=fs)
    np.testing.assert_allclose(f, np.asarray(fe))
    np.testing.assert_allclose(psd, np.asarray(psde), rtol=1e-9)
    fc, coh, _ = spectral.welch_coherence(x, y, len_segment=500, overlap=0.5, fs=fs)
    fc, coh = np.asarray(fc), np.asarray(coh)
    ours = sp.coherence_bands(x, y, fs, segment_s=1.0)
    for name, (lo, hi) in sp.BANDS.items():
        mask = (fc >= lo) & (fc < hi)
        assert ours[name] == pytest.approx(coh[mask].mean(), rel=1e-9)

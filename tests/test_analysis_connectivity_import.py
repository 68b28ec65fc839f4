"""The connectivity measures load spectral_connectivity's estimators without its xarray front end
(about 0.5 s of every run long enough to measure connectivity), and give the library's values."""

import subprocess
import sys
import textwrap


def test_connectivity_without_xarray_then_the_full_package():
    code = textwrap.dedent("""
        import sys
        import numpy as np
        from circuitsim.analysis import connectivity as c
        rng = np.random.default_rng(3)
        x = rng.standard_normal((4000, 3))
        x[1:, 1] += 0.9 * x[:-1, 0]            # a drives b with one sample's delay
        signals = {"a": x[:, 0], "b": x[:, 1], "c": x[:, 2]}
        bands = c.connectivity_bands(signals, 250.0)
        assert "xarray" not in sys.modules and "pandas" not in sys.modules, "the xarray front end was imported"
        assert "spectral_connectivity" not in sys.modules, "the stand-in package was left behind"
        import spectral_connectivity as sc      # the real package afterwards, with its front end
        assert callable(sc.multitaper_connectivity)
        assert sc.Connectivity is c._library()[0]
        ep = c.epochs(np.column_stack([(v - v.mean()) / v.std() for v in signals.values()]), 250.0)
        conn = sc.Connectivity.from_multitaper(sc.Multitaper(ep, sampling_frequency=c.FS_OUT,
                                                             time_halfbandwidth_product=c.TIME_HALFBANDWIDTH))
        gc = np.array(conn.pairwise_spectral_granger_prediction())[0]
        f = np.asarray(conn.frequencies)
        beta = (f >= 13) & (f < 30)
        assert np.isclose(bands["granger"]["a__b"]["beta"], gc[beta, 1, 0].mean(), rtol=1e-12)
        assert bands["granger"]["a__b"]["beta"] > 5 * bands["granger"]["b__a"]["beta"]
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("ok")

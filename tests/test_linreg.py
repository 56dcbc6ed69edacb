"Tests of collapse_repro.linreg: truncated-normal moments and sampling, Theorem 3.1, simulate_rounds, Theorem 4.1, App. A."
import math
import numpy as np
import pytest
from scipy import stats
from collapse_repro.linreg import (truncnorm_moments, truncnorm_rvs, truncnorm_mean_draws, reference_setup, ols_baseline_mse,
                                   one_round_mse, one_round_mc_grid, break_even_delta, simulate_rounds, LinregProblem,
                                   linreg_stages, contraction_rate, stationary_floor, long_run_bound, toolkit_mse, toolkit_mc)

@pytest.fixture(scope='module')
def ref(): return reference_setup()

# ---------- truncated-normal moments ----------
def test_moments_match_scipy_random_intervals():
    rng = np.random.default_rng(0)
    a = rng.uniform(-6, 6, 300); b = a + rng.uniform(0.05, 4, 300)
    m1, m2, _ = truncnorm_moments(a, b)
    ref = stats.truncnorm(a, b)
    assert np.allclose(m1, ref.mean(), rtol=1e-7, atol=1e-9)
    assert np.allclose(m2, ref.var(), rtol=1e-6, atol=1e-10)

def test_moments_far_tails_against_high_precision():
    mp = pytest.importorskip('mpmath'); mp.mp.dps = 30
    def mean_var(a, b):
        c = 0 if a < 0 < b else min(abs(a), abs(b))                 # rescale the density to avoid tiny numbers
        g = lambda x: mp.exp(-(x * x - c * c) / 2); pts = mp.linspace(a, b, 6)
        Z = mp.quad(g, pts); m1 = mp.quad(lambda x: x * g(x), pts) / Z
        return m1, mp.quad(lambda x: x * x * g(x), pts) / Z - m1 ** 2
    def exact(a, b):
        m1, m2 = mean_var(mp.mpf(a), mp.mpf(b))
        m3 = mp.diff(lambda s: mean_var(a + s, b + s)[0], 0, 2)
        return float(m1), float(m2), float(m3)
    for a, b in [(8, 9), (-40, -39), (-40, -39.99), (12, 30), (-3, 4)]:
        got = truncnorm_moments(a, b); want = exact(a, b)
        assert np.all(np.isfinite(got))
        for g, w, rel, ab in zip(got, want, (1e-12, 1e-6, 1e-5), (0, 0, 1e-10)):
            assert abs(g - w) <= rel * abs(w) + ab, (a, b, got, want)

def test_moments_finite_in_tails_and_half_lines():
    for a, b in [(8, 9), (-40, -39), (-40, 0.0), (-40, 40), (-np.inf, -40), (40, np.inf), (-np.inf, np.inf), (-40, 2)]:
        m = truncnorm_moments(a, b)
        assert np.all(np.isfinite(m)), (a, b, m)
        assert 0 < m[1] <= 1 and a <= m[0] <= b
    assert np.allclose(truncnorm_moments(-np.inf, np.inf), (0, 1, 0))

def test_shift_derivatives_by_finite_differences():
    h = 1e-3
    for a, b in [(-0.8, 1.1), (0.5, 2.5), (-3.0, -1.0), (-5.0, -4.2), (1.0, np.inf)]:
        f = lambda s: truncnorm_moments(a + s, b + s)[0]
        d1 = (f(h) - f(-h)) / (2 * h); d2 = (f(h) - 2 * f(0) + f(-h)) / h ** 2
        _, m2, m3 = truncnorm_moments(a, b)
        assert d1 == pytest.approx(1 - m2, abs=1e-6) and d2 == pytest.approx(m3, abs=2e-5)

def test_moments_reject_empty_interval():
    with pytest.raises(ValueError): truncnorm_moments(1.0, 1.0)
    with pytest.raises(ValueError): truncnorm_moments([0.0, 2.0], [1.0, 1.5])

# ---------- sampling ----------
@pytest.mark.parametrize('a,b', [(-1.0, 0.5), (8.0, 9.0), (-40.0, -39.5), (-40.0, 1.0), (2.0, np.inf)])
def test_rvs_exact_in_bulk_and_tails(a, b):
    x = truncnorm_rvs(a, b, 20_000, np.random.default_rng(1))
    assert np.isfinite(x).all() and x.min() >= a and x.max() <= b
    assert stats.kstest(x, stats.truncnorm(a, b).cdf).pvalue > 1e-3

def test_mean_draws_fast_and_f64_paths_agree_with_m1():
    al = np.array([-1.2, 0.1, -3.0, 5.0, -30.0]); be = np.array([0.9, 2.5, 3.2, 5.5, -29.0])
    m1, m2, _ = truncnorm_moments(al, be)
    for fast in (True, False):
        mm = truncnorm_mean_draws(np.repeat(al, 1000), np.repeat(be, 1000), 100, rng=3, fast=fast).reshape(5, -1)
        se = np.sqrt(m2 / 100 / 1000)
        assert np.all(np.abs(mm.mean(1) - m1) < 4 * se)
        assert np.allclose(mm.var(1), m2 / 100, rtol=0.15)

def test_mean_draws_deterministic_and_thread_independent():
    a, b = np.linspace(-2, 0, 500), np.linspace(0.5, 2, 500)
    x1 = truncnorm_mean_draws(a, b, 60, rng=7, workers=1, chunk_draws=3000)
    x2 = truncnorm_mean_draws(a, b, 60, rng=7, workers=2, chunk_draws=3000)
    assert np.array_equal(x1, x2) and not np.array_equal(x1, truncnorm_mean_draws(a, b, 60, rng=8, chunk_draws=3000))

def test_mean_draws_variable_n():
    n = np.array([0, 1, 5, 50])
    out = truncnorm_mean_draws(np.full(4, -1.0), np.full(4, 1.0), n, rng=0)
    assert np.isnan(out[0]) and np.all(np.abs(out[1:]) <= 1)
    with pytest.raises(ValueError): truncnorm_mean_draws(-1.0, 1.0, -1)

# ---------- Theorem 3.1 ----------
def test_reference_values(ref):
    X0, ts, u = ref['X0'], ref['theta_star'], ref['u']
    assert ols_baseline_mse(X0) == pytest.approx(0.0837387, abs=1e-7)
    assert one_round_mse(X0, ts, ts, 0.1, 100) == pytest.approx(0.024144, abs=1e-6)
    assert one_round_mse(X0, ts, ts + 0.4 * u, 0.1, 100) == pytest.approx(0.116461, abs=1e-6)
    assert break_even_delta(X0, ts, u, 0.01, 100) == pytest.approx(0.317, abs=1e-3)

def test_one_round_mse_broadcasts(ref):
    X0, ts, u = ref['X0'], ref['theta_star'], ref['u']
    D, R = np.array([0.0, 0.3, 0.6]), np.array([0.01, 0.2, 0.5, 0.4])
    grid = one_round_mse(X0, ts, ts + D[:, None, None] * u, R, 100)
    assert grid.shape == (3, 4)
    assert grid[1, 2] == pytest.approx(one_round_mse(X0, ts, ts + 0.3 * u, 0.5, 100))

@pytest.mark.parametrize('delta,r', [(0.0, 0.1), (0.2, 0.3), (0.4, 0.1), (0.6, 0.5), (0.1, 0.01)])
def test_closed_form_vs_monte_carlo(ref, delta, r):
    X0, ts, u = ref['X0'], ref['theta_star'], ref['u']
    mc = one_round_mc_grid(X0, ts, u, [delta], [r], 100, 3000, seed=int(100 * delta + 1000 * r), progress=False)
    th = one_round_mse(X0, ts, ts + delta * u, r, 100)
    assert abs(mc['mse1'][0, 0] - th) < 3 * mc['se1'][0, 0]
    assert abs(mc['mse0'][0, 0] - ols_baseline_mse(X0)) < 3 * mc['se0'][0, 0]

def test_bad_inputs_raise_before_compute(ref):
    X0, ts, u = ref['X0'], ref['theta_star'], ref['u']
    with pytest.raises(ValueError, match='radius'): one_round_mse(X0, ts, ts, -0.1, 100)
    with pytest.raises(ValueError, match='n1'): one_round_mse(X0, ts, ts, 0.1, 0)
    with pytest.raises(ValueError, match='theta_c'): one_round_mse(X0, ts, np.ones(3), 0.1, 100)
    with pytest.raises(ValueError, match='theta_star'): one_round_mse(X0, np.ones(5), ts, 0.1, 100)
    with pytest.raises(ValueError, match='2-D'): one_round_mse(X0[:, 0], ts, ts, 0.1, 100)
    with pytest.raises(ValueError, match='rank'): one_round_mse(X0[:5], ts, ts, 0.1, 100)
    with pytest.raises(ValueError): one_round_mc_grid(X0, ts, u, [0.1], [-0.2], 100, 10, progress=False)
    with pytest.raises(ValueError): simulate_rounds(X0, ts, ts, -0.1, 100, 2, 4)
    with pytest.raises(ValueError): simulate_rounds(X0, ts, ts, 0.1, 0, 2, 4)
    with pytest.raises(ValueError): simulate_rounds(X0, ts, ts, 0.1, [100], 2, 4)
    with pytest.raises(ValueError): simulate_rounds(X0, ts, np.ones(7), 0.1, 100, 2, 4)

# ---------- many rounds ----------
def test_simulate_rounds_shape_seed_and_schedule(ref):
    X0, ts = ref['X0'], ref['theta_star']
    a = simulate_rounds(X0, ts, ts, 0.2, [50, 100, 200], 3, 16, seed=1)
    assert a.shape == (16, 4, 8)
    assert np.array_equal(a, simulate_rounds(X0, ts, ts, 0.2, [50, 100, 200], 3, 16, seed=1))
    assert not np.array_equal(a, simulate_rounds(X0, ts, ts, 0.2, [50, 100, 200], 3, 16, seed=2))

def test_unfiltered_grows_unbiased_verifier_shrinks(ref):
    X0, ts = ref['X0'], ref['theta_star']
    f = np.sum((simulate_rounds(X0, ts, ts, 0.1, 100, 10, 300, seed=3) - ts) ** 2, -1).mean(0)
    nf = np.sum((simulate_rounds(X0, ts, ts, 0.1, 100, 10, 300, filtered=False, seed=3) - ts) ** 2, -1).mean(0)
    assert f[-1] < 0.5 * f[0] and nf[-1] > 3 * nf[0]
    assert nf[-1] == pytest.approx(nf[0] + 8 * 10 / 100, rel=0.15)

def test_biased_verifier_converges_to_knowledge_centre(ref):
    X0, ts, u = ref['X0'], ref['theta_star'], ref['u']
    tc = ts + u
    th = simulate_rounds(X0, ts, tc, 0.1, 100, 15, 300, seed=4)
    ec = np.sum((th[:, -1] - tc) ** 2, -1); es = np.sum((th[:, -1] - ts) ** 2, -1)
    assert ec.mean() == pytest.approx(stationary_floor(0.1, 100, 8), rel=0.2)
    assert es.mean() == pytest.approx(1.0, abs=0.1)

def test_resumable_loop_matches_simulate_rounds(ref, tmp_path):
    from collapse_repro.loop import generate_verify_retrain
    X0, ts, u = ref['X0'], ref['theta_star'], ref['u']
    P = LinregProblem(X0, ts, ts + 0.3 * u, 0.2, 32)
    generate_verify_retrain(linreg_stages(P, 100), 2, tmp_path, seed=9, progress=False)          # "killed" after 2
    h = generate_verify_retrain(linreg_stages(P, 100), 4, tmp_path, seed=9, progress=False)      # resumed
    sim = simulate_rounds(X0, ts, ts + 0.3 * u, 0.2, 100, 4, 32, seed=9)
    assert np.allclose(np.load(tmp_path / 'round_004' / 'theta.npy'), sim[:, 4])
    assert h[4]['err_star'] == pytest.approx(np.sum((sim[:, 4] - ts) ** 2, -1).mean())

def test_contraction_rate_and_bound():
    assert np.allclose(contraction_rate([0.01, 0.1, 0.5, 1.0, 2.0]), [0.199, 0.241, 0.446, 0.693, 0.955], atol=1e-3)
    assert stationary_floor(0.1, 100, 8) == pytest.approx(0.0205, abs=5e-4)
    b = long_run_bound(1.0, 0.5, 100, 200, 8)
    assert b[-1] == pytest.approx(stationary_floor(0.5, 100, 8), rel=1e-6) and np.all(np.diff(b) <= 0) and b[1] < b[0]
    with pytest.raises(ValueError): contraction_rate(-1.0)

# ---------- App. A toolkit ----------
def test_toolkit_closed_forms_vs_monte_carlo():
    a, b = np.array([-1.0, -0.3, -2.0]), np.array([1.0, 0.5, 2.2])
    th = toolkit_mse(a, b, 100, 400)
    assert np.allclose(th['X0'], 0.01)
    mc = toolkit_mc(a, b, 100, 400, 3000, seed=1)
    for k in ('X0', 'X1', 'Y01', 'Y11'):
        assert np.all(np.abs(mc[k] - th[k]) < 4 * mc[k + '_se'] + 0.02 * th[k]), k
    inf = toolkit_mse(a, b, 100, np.inf)
    assert np.all(inf['Y01'] < th['Y01']) and np.all(inf['Y11'] < th['Y11'])
    with pytest.raises(ValueError): toolkit_mse(1.0, 0.5)
    with pytest.raises(ValueError): toolkit_mc(-1.0, 1.0, n_syn=0)

"Tests of the Gaussian-mixture theory of verified synthetic data (collapse_repro.gmm)."
import numpy as np
import pytest
from scipy.special import ndtr

from collapse_repro import gmm
from collapse_repro.gmm import (p_star, estimate_p_star, verifier_stats, simulate_accuracy, independent_sweep, simulate_views,
                                make_mu, sample_gmm, exact_accuracy, bayes_accuracy, flip_generator, linear_generator,
                                independent_pruner, oracle_pruner, no_pruner, random_pruner, linear_verifier,
                                linear_verifier_rates, linear_verifier_moment, direction, fit_linear, NormalEquations,
                                ridge_solve)

OPT = bayes_accuracy(1.0)


def test_reexports_are_the_shared_loop_functions():
    from collapse_repro import loop
    assert gmm.p_star is loop.p_star and gmm.estimate_p_star is loop.estimate_p_star and gmm.verifier_stats is loop.verifier_stats


def test_p_star_formula_and_special_cases():
    assert p_star(0.8, 0.3) == pytest.approx(0.8 / 1.1)
    assert p_star(1, 1) == 0.5                                      # no verification
    assert p_star(1, 0) == 1.0                                      # oracle
    for r in (0.1, 0.5, 0.9): assert p_star(r, r) == 0.5            # random selection
    assert np.allclose(p_star([0.6, 0.9], [0.5, 0.1]), [0.6 / 1.1, 0.9])
    # p < p_*  <=>  precision of the kept data > 1/2
    for p in (0.2, 0.7, 0.75):
        prec = (1 - p) * 0.8 / ((1 - p) * 0.8 + p * 0.3)
        assert (p < p_star(0.8, 0.3)) == (prec > 0.5)


def test_estimate_p_star_on_hand_made_decisions():
    kept    = [1, 1, 1, 1, 0, 1, 0, 0, 0, 0]
    correct = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]   # φ̂ = 4/5, ψ̂ = 1/5
    assert estimate_p_star(kept, correct) == pytest.approx(0.8)
    st = verifier_stats(kept, correct)
    assert st['phi'] == pytest.approx(0.8) and st['psi'] == pytest.approx(0.2) and st['p'] == 0.5 and st['precision'] == pytest.approx(0.8)
    assert estimate_p_star([1, 1, 0, 0], [1, 0, 1, 0]) == 0.5       # blind verifier
    assert estimate_p_star([1, 0, 1, 0], [1, 0, 1, 0]) == 1.0       # oracle
    assert estimate_p_star([0, 1, 0, 1], [1, 0, 1, 0]) == 0.0       # keeps only wrong ones


@pytest.mark.parametrize('angle,margin', [(0, 0.0), (50, 0.0), (30, 0.7), (130, 0.0)])
def test_linear_verifier_rates_match_phi_of_a(angle, margin):
    d = 8; mu = make_mu(d, 1.0); rng = np.random.default_rng(0)
    x, y = sample_gmm(200_000, mu, rng); yg = flip_generator(0.35)(x, y, rng)
    w = direction(d, angle)
    st = verifier_stats(linear_verifier(w, margin)(x, yg, y, rng), yg == y)
    a = np.cos(np.deg2rad(angle))
    assert linear_verifier_rates(w, mu, margin) == pytest.approx((ndtr(a - margin), ndtr(-a - margin)))
    assert st['phi'] == pytest.approx(ndtr(a - margin), abs=0.008) and st['psi'] == pytest.approx(ndtr(-a - margin), abs=0.008)


def test_linear_verifier_moment_matches_monte_carlo():
    d = 5; mu = make_mu(d, 1.0); rng = np.random.default_rng(1)
    x, y = sample_gmm(300_000, mu, rng); yg = flip_generator(0.4)(x, y, rng); w = direction(d, 70)
    q = linear_verifier(w, 0.3)(x, yg, y, rng)
    assert np.allclose((q * yg) @ x / len(x), linear_verifier_moment(w, mu, 0.4, 0.3), atol=0.008)


def test_exact_accuracy():
    mu = make_mu(4, 1.5); rng = np.random.default_rng(2); x, y = sample_gmm(200_000, mu, rng)
    w = np.array([1.0, -0.7, 0.2, 0.0])
    assert exact_accuracy(w, mu) == pytest.approx(np.mean(np.sign(x @ w) == y), abs=0.004)
    assert exact_accuracy(mu, mu) == pytest.approx(bayes_accuracy(1.5)) and exact_accuracy(-mu, mu) == pytest.approx(1 - bayes_accuracy(1.5))
    assert exact_accuracy(np.zeros(4), mu) == 0.5


def test_below_p_star_approaches_optimum_above_anti_optimum():
    # (φ, ψ) = (0.8, 0.3): p_* = 0.727
    ns = [300, 3_000, 30_000]
    below = simulate_accuracy(20, 1.0, 0.55, 0.8, 0.3, ns, seeds=4, seed=1)
    above = simulate_accuracy(20, 1.0, 0.90, 0.8, 0.3, ns, seeds=4, seed=1)
    assert np.all(np.diff(OPT - below) < 0) and OPT - below[-1] < 0.01
    assert np.all(np.diff(above - (1 - OPT)) < 0) and above[-1] - (1 - OPT) < 0.02
    # no verification breaks down at 1/2, the oracle never does
    none, oracle = simulate_accuracy(20, 1.0, 0.6, [1.0, 1.0], [1.0, 0.0], 30_000, seeds=3)
    assert none < 1 - OPT + 0.03 and oracle > OPT - 0.005


def test_independent_sweep_matches_direct_fits_on_the_same_draws():
    d, ns, chunk, s = 3, [250, 900], 400, 1
    res = independent_sweep(d, 1.0, [0.0, 0.2, 0.6, 1.0], [0.8, 0.5, 1.0], [0.3, 0.5, 0.0], ns, seeds=2, seed=5, chunk=chunk)
    rng = np.random.default_rng([5, s]); mu = make_mu(d, 1.0); parts = []
    for m, _ in gmm._chunk_plan(ns, chunk):
        x, y = sample_gmm(m, mu, rng); parts.append((x, y, rng.random(m), rng.random(m)))
    x, y, u, v = (np.concatenate([p[i] for p in parts]) for i in range(4))
    for k, n in enumerate(ns):
        for i, p in enumerate(res['p']):
            for j, (f, g) in enumerate(zip(res['phi'], res['psi'])):
                G, h, kk = gmm._direct_normal_equations(x[:n], y[:n], u[:n], v[:n], p, f, g)
                assert kk == res['kept'][s, k, i, j]
                assert np.allclose(ridge_solve(G, h, 1e-6 * n), res['w'][s, k, i, j], atol=1e-9)


def test_same_seed_same_results_and_seeds_independent_of_count():
    a = independent_sweep(5, 1.0, [0.2, 0.7], [0.8], [0.3], [200, 800], seeds=3, seed=4)['acc']
    b = independent_sweep(5, 1.0, [0.2, 0.7], [0.8], [0.3], [200, 800], seeds=2, seed=4)['acc']
    assert np.array_equal(a[:2], b)
    g = linear_generator(direction(5, 45)); pr = dict(none=no_pruner(), v=linear_verifier(direction(5, -20)))
    r1 = simulate_views(5, 1.0, g, pr, [100, 500], seeds=2, seed=3, real=True)
    r2 = simulate_views(5, 1.0, g, pr, [100, 500], seeds=2, seed=3, real=True)
    assert np.array_equal(r1['acc'], r2['acc']) and np.array_equal(r1['real'], r2['real'])


def test_normal_equations_in_chunks_equal_one_fit():
    rng = np.random.default_rng(6); mu = make_mu(6); x, y = sample_gmm(3000, mu, rng)
    keep = np.stack([rng.random(3000) < 0.3, np.ones(3000, bool)])
    ne = NormalEquations(2, 6)
    for a in range(0, 3000, 700): ne.add(x[a:a + 700], y[a:a + 700], keep[:, a:a + 700])
    w = ne.solve(1e-6)
    assert np.allclose(w[0], fit_linear(x[keep[0]], y[keep[0]], 1e-6, n=3000))
    assert np.allclose(w[1], fit_linear(x, y, 1e-6))


def test_linear_generator_collapse_and_verified_gain():
    d = 10; wg = direction(d, 45); gen_acc = exact_accuracy(wg, make_mu(d))
    res = simulate_views(d, 1.0, linear_generator(wg), dict(none=no_pruner(), oracle=oracle_pruner(),
                         v=linear_verifier(direction(d, -20))), [10_000], seeds=2, real=True)
    final = res['acc'].mean(0)[-1]
    assert abs(final[0] - gen_acc) < 0.02                           # unverified: stuck at the generator
    assert final[1] > gen_acc + 0.03 and final[2] > gen_acc + 0.03  # verified: beats it
    assert res['real'].mean(0)[-1] > OPT - 0.01
    assert res['p'].mean() == pytest.approx(1 - gen_acc, abs=0.01)
    assert res['p_star'].mean(0)[0] == 0.5 and res['p_star'].mean(0)[1] == 1.0


def test_pruners():
    rng = np.random.default_rng(7); y = np.ones(100_000); yg = np.where(rng.random(100_000) < 0.4, -1.0, 1.0); x = np.zeros((100_000, 2))
    st = verifier_stats(independent_pruner(0.7, 0.2)(x, yg, y, rng), yg == y)
    assert st['phi'] == pytest.approx(0.7, abs=0.01) and st['psi'] == pytest.approx(0.2, abs=0.01)
    assert verifier_stats(oracle_pruner()(x, yg, y, rng), yg == y)['p_star'] == 1.0
    assert no_pruner()(x, yg, y, rng).all()
    assert random_pruner(0.3)(x, yg, y, rng).mean() == pytest.approx(0.3, abs=0.01)


@pytest.mark.parametrize('kwargs,match', [
    (dict(p=-0.1), 'p'), (dict(p=1.5), 'p'), (dict(p=[0.2, np.nan]), 'p'),
    (dict(phi=0.0, psi=0.0), 'phi = psi = 0'), (dict(phi=1.2), 'phi'), (dict(psi=-0.5), 'psi'),
    (dict(d=0), 'd'), (dict(d=2.5), 'd'), (dict(n=0), 'n'), (dict(n=[100, 50]), 'n'), (dict(seeds=0), 'seeds'),
])
def test_bad_inputs_raise_clear_errors(kwargs, match):
    args = dict(d=10, mu_norm=1.0, p=0.3, phi=0.8, psi=0.3, n=100) | kwargs
    with pytest.raises(ValueError, match=match): simulate_accuracy(**args)


def test_bad_building_block_inputs():
    with pytest.raises(ValueError, match='p'): flip_generator(1.01)
    with pytest.raises(ValueError, match='phi = psi = 0'): independent_pruner(0, 0)
    with pytest.raises(ValueError, match='phi = psi = 0'): p_star(0, 0)
    with pytest.raises(ValueError, match='d'): make_mu(0)
    with pytest.raises(ValueError, match='mu_norm'): make_mu(3, -1)
    with pytest.raises(ValueError, match='non-zero'): linear_verifier(np.zeros(3))
    with pytest.raises(ValueError, match='pruner'): simulate_views(3, 1.0, flip_generator(0.1), {}, [10])


def test_chunk_size_is_validated():
    with pytest.raises(ValueError, match='chunk'): independent_sweep(3, 1.0, [0.1], [1.0], [1.0], [10], chunk=0)
    with pytest.raises(ValueError, match='chunk'): simulate_views(3, 1.0, flip_generator(0.1), dict(none=no_pruner()), [10], chunk=0)


def test_limit_accuracy_is_the_theorys_large_n_limit():
    from collapse_repro.gmm import limit_accuracy, bayes_accuracy
    opt = bayes_accuracy(1.0)
    assert limit_accuracy(1.0, 0.3, 0.8, 0.3) == opt and limit_accuracy(1.0, 0.8, 0.8, 0.3) == 1 - opt
    assert limit_accuracy(1.0, 0.5, 1, 1) == 0.5
    with pytest.raises(ValueError, match='phi'): limit_accuracy(1.0, 0.3, 0, 0)


def test_oracle_tops_and_reaches_the_optimum_in_the_theorys_setting():
    "Flips independent of x and independent selection: the oracle converges to Φ(‖μ‖) fastest (feng.scaling.oracle_top)."
    from collapse_repro.gmm import (simulate_views, flip_generator, no_pruner, oracle_pruner, independent_pruner,
                                    linear_verifier_rates, direction, make_mu, bayes_accuracy)
    d = 20
    rates = linear_verifier_rates(direction(d, -20), make_mu(d))
    res = simulate_views(d, 1.0, flip_generator(0.24), dict(none=no_pruner(), sel=independent_pruner(*rates),
                                                            oracle=oracle_pruner()), [1_000, 20_000], seeds=4)
    final = res['acc'][:, -1]                                   # seed × curve, paired draws
    assert (final[:, 2] >= final[:, :2].max(1)).all()
    assert bayes_accuracy(1.0) - final[:, 2].mean() < 0.002

#!/usr/bin/env python
"""Benchmark: the compute of experiment `feng_phase_transition` at its paper profile.

Package way: `collapse_repro.gmm.independent_sweep`, one O(n d²) pass per seed for the whole grid of
(n, p, verifier), as the notebook runs it.
Baseline: the straightforward per-point loop a reader would write from the building blocks: for every
(n, p, verifier, seed) draw n pairs, flip, prune, fit ridge, take the exact accuracy.

The baseline over the full grid takes minutes, so by default it is timed on a random, stratified subset of grid
points (`--points-per-n` for each n) and its full-grid time is extrapolated from the per-point time at each n
(the cost per point depends on n only). `--full` times the whole baseline grid instead.
Both run in the same process, one after the other; the script prints both times and their ratio.

It also runs the notebook itself end to end (`collapse-repro run feng_phase_transition --profile paper`, into a
temporary folder) and prints its wall time, which adds the kernel start, plotting and saving (`--no-notebook` skips it).

    python bench/gmm_phase_transition.py [--profile paper] [--points-per-n 20] [--full] [--no-notebook]
"""
import argparse, tempfile, time
from pathlib import Path
import numpy as np

from collapse_repro.runner import read_experiment
from collapse_repro.gmm import (independent_sweep, sample_gmm, make_mu, flip_generator, independent_pruner, fit_linear,
                                exact_accuracy)

# the verifiers of the notebook's panel (b), which include panel (a)'s (φ, ψ) = (0.8, 0.3)
VERIFIERS = [(1.0, 1.0), (0.5, 0.5), (1.0, 0.0), (0.8, 0.3), (0.6, 0.5)]


def params(profile):
    nb = Path(__file__).resolve().parents[1] / 'nbs' / 'experiments' / 'feng_phase_transition.ipynb'
    ps = read_experiment(nb).params
    val = lambda k: ps[k].by_profile.get(profile, ps[k].default) if ps[k].default is None else ps[k].default
    return dict(d=val('d'), mu_norm=val('mu_norm'), n_values=val('n_values'), p_points=val('p_points'), seeds=val('seeds'),
                ridge=val('ridge'), seed=ps['seed'].default)


def baseline_point(P, n, p, phi, psi, s):
    "One grid point the straightforward way: fresh draws, prune, fit, exact accuracy."
    rng = np.random.default_rng([P['seed'], s, n, int(p * 1e6), int(phi * 1e6), int(psi * 1e6)])
    mu = make_mu(P['d'], P['mu_norm']); x, y = sample_gmm(n, mu, rng)
    yg = flip_generator(p)(x, y, rng); keep = independent_pruner(phi, psi)(x, yg, y, rng)
    return exact_accuracy(fit_linear(x[keep], yg[keep], P['ridge'], n=n), mu)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--profile', default='paper'); ap.add_argument('--points-per-n', type=int, default=20)
    ap.add_argument('--full', action='store_true', help='time the whole baseline grid (minutes)')
    ap.add_argument('--no-notebook', action='store_true', help='skip the end-to-end run of the notebook')
    a = ap.parse_args()
    P = params(a.profile)
    p_grid = np.round(np.linspace(0, 1, P['p_points']), 6)
    phis, psis = np.array(VERIFIERS).T
    grid = [(p, f, g, s) for p in p_grid for f, g in VERIFIERS for s in range(P['seeds'])]
    print(f"profile {a.profile}: d={P['d']}, n={P['n_values']}, {len(p_grid)} values of p, {len(VERIFIERS)} verifiers, "
          f"{P['seeds']} seeds -> {len(grid) * len(P['n_values'])} grid points")

    t0 = time.perf_counter()
    res = independent_sweep(P['d'], P['mu_norm'], p_grid, phis, psis, P['n_values'], seeds=P['seeds'], ridge=P['ridge'], seed=P['seed'])
    t_pkg = time.perf_counter() - t0
    print(f'package (independent_sweep, full grid): {t_pkg:.2f} s')

    rng = np.random.default_rng(0); t_base, measured, diffs = 0.0, 0, []
    for k, n in enumerate(P['n_values']):
        pts = grid if a.full else [grid[i] for i in rng.choice(len(grid), min(a.points_per_n, len(grid)), replace=False)]
        t0 = time.perf_counter()
        accs = [baseline_point(P, n, p, f, g, s) for p, f, g, s in pts]
        dt = time.perf_counter() - t0
        t_base += dt * len(grid) / len(pts); measured += len(pts)
        for (p, f, g, s), acc in zip(pts, accs):
            i, j = int(np.flatnonzero(p_grid == p)[0]), VERIFIERS.index((f, g))
            diffs.append(abs(acc - res['acc'][:, k, i, j].mean()))
        print(f'baseline n={n:>7,}: {len(pts)} points in {dt:.2f} s ({dt / len(pts) * 1e3:.1f} ms/point)')
    how = 'measured' if a.full else f'extrapolated from {measured} measured points'
    print(f'baseline (per-point loop, full grid, {how}): {t_base:.1f} s')
    if not a.no_notebook:
        from collapse_repro.runner import run_experiment
        with tempfile.TemporaryDirectory() as d:
            rep = run_experiment('feng_phase_transition', a.profile, figures_dir=f'{d}/figures', runs_dir=f'{d}/runs', progress=False)
        print(f'notebook end to end (collapse-repro run feng_phase_transition --profile {a.profile}): {rep.wall_time_s:.1f} s, status {rep.status}')
    print(f'speed-up: {t_base / t_pkg:.1f}x   (median |accuracy difference| package mean vs single baseline draw: {np.median(diffs):.3f})')


if __name__ == '__main__':
    main()

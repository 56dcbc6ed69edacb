#!/usr/bin/env python
"""Benchmark: the paper-profile empirical heatmap of `yi_linreg_one_round` (300 x 300 cells x 100 replicates).

Times, in the same run,
  * the package's way, `collapse_repro.linreg.one_round_mc_grid`: exact inverse-CDF truncated-normal draws,
    vectorised over replicates x radii x directions, chunked over worker threads; on the full grid by default;
  * a faithful re-implementation of the authors' rejection sampler on a spread-out sub-grid: per cell and
    replicate, its own generator (seed + 97 i + 131 j + 17 t), an OLS fit on fresh real responses, then for each
    SVD direction raw batches of 2,000 synthetic points (doubling, at most 100 batches) until n1 are accepted, and an
    OLS refit on the first n1 accepted points per direction;
and prints wall and CPU (core) seconds per cell and their ratio. Both produce exact draws; the script also checks that
the two methods' mean squared errors agree within Monte Carlo error on the sub-grid.

    python bench/linreg_one_round.py                 # full paper grid (about a minute or two on 2 cores)
    python bench/linreg_one_round.py --n-delta 30    # a 30 x 300 slice, extrapolated to the full grid
"""
import argparse, math, os, time
import numpy as np
from collapse_repro.linreg import reference_setup, one_round_mc_grid, default_sigma_c

def rejection_cell(X0, ts, theta_c, r, n1, reps, i, j, sigma=1.0, sigma_c=None, seed=0, batch0=2000, max_batches=100):
    "The authors' procedure for one (delta, r) cell: returns the per-replicate squared errors of theta_0 and theta_1."
    sigma_c = default_sigma_c(sigma) if sigma_c is None else sigma_c
    Vt = np.linalg.svd(X0, full_matrices=False)[2]
    d = X0.shape[1]; e0 = np.empty(reps); e1 = np.empty(reps)
    for t in range(reps):
        rng = np.random.default_rng(seed + 97 * i + 131 * j + 17 * t)
        y0 = X0 @ ts + sigma * rng.normal(size=X0.shape[0])
        th0 = np.linalg.lstsq(X0, y0, rcond=None)[0]
        Xs, ys = [], []
        for k in range(d):
            v = Vt[k]; got_x, got_y, count, batch = [], [], 0, batch0
            for _ in range(max_batches):
                x = np.tile(v, (batch, 1))
                y = x @ th0 + sigma * rng.normal(size=batch)
                keep = np.abs(y - x @ theta_c) <= r * np.linalg.norm(x, axis=1) + sigma_c
                got_x.append(x[keep]); got_y.append(y[keep]); count += int(keep.sum())
                if count >= n1: break
                batch *= 2
            else: raise RuntimeError('rejection sampler did not reach n1 accepted points')
            Xs.append(np.concatenate(got_x)[:n1]); ys.append(np.concatenate(got_y)[:n1])
        th1 = np.linalg.lstsq(np.concatenate(Xs), np.concatenate(ys), rcond=None)[0]
        e0[t] = np.sum((th0 - ts) ** 2); e1[t] = np.sum((th1 - ts) ** 2)
    return e0, e1

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--n-delta', type=int, default=300); ap.add_argument('--n-r', type=int, default=300)
    ap.add_argument('--reps', type=int, default=100); ap.add_argument('--n1', type=int, default=100)
    ap.add_argument('--sub', type=int, default=3, help='baseline sub-grid is sub x sub cells spread over the paper grid')
    ap.add_argument('--workers', type=int, default=2)
    a = ap.parse_args()
    S = reference_setup(); X0, ts, u = S['X0'], S['theta_star'], S['u']
    deltas_full, rs_full = np.linspace(0, 0.7, 300), np.linspace(0.01, 0.5, 300)
    print(f'CPU cores visible: {os.cpu_count()}; load average at start: {os.getloadavg()}')

    # package: (a slice of) the paper grid, after a warm-up call (imports torch, starts threads)
    one_round_mc_grid(X0, ts, u, [0.1], [0.1, 0.2], a.n1, 10, seed=0, progress=False, workers=a.workers)
    deltas = np.linspace(0, 0.7, a.n_delta); rs = np.linspace(0.01, 0.5, a.n_r)
    w0, c0 = time.perf_counter(), time.process_time()
    one_round_mc_grid(X0, ts, u, deltas, rs, a.n1, a.reps, seed=0, progress=False, workers=a.workers)
    w_pkg, c_pkg = time.perf_counter() - w0, time.process_time() - c0
    cells = deltas.size * rs.size
    print(f'package: {a.n_delta} x {a.n_r} cells x {a.reps} reps: wall {w_pkg:.1f} s, CPU {c_pkg:.1f} core-s '
          f'-> {w_pkg / cells * 1e3:.3f} ms wall, {c_pkg / cells * 1e3:.3f} core-ms per cell; '
          f'full 300 x 300 grid: {w_pkg / cells * 90000:.1f} s wall{" (measured)" if cells == 90000 else " (extrapolated)"}')

    # baseline: sub x sub cells of the paper grid
    idx = np.linspace(0, 299, a.sub).round().astype(int)
    tb_w = tb_c = 0.0; checks = []
    for i in idx:
        for j in idx:
            w0, c0 = time.perf_counter(), time.process_time()
            e0, e1 = rejection_cell(X0, ts, ts + deltas_full[i] * u, rs_full[j], a.n1, a.reps, i, j)
            dw, dc = time.perf_counter() - w0, time.process_time() - c0; tb_w += dw; tb_c += dc
            pk = one_round_mc_grid(X0, ts, u, [deltas_full[i]], [rs_full[j]], a.n1, a.reps, seed=1 + i, progress=False)
            z = (e1.mean() - pk['mse1'][0, 0]) / math.hypot(e1.std() / math.sqrt(a.reps), pk['se1'][0, 0])
            checks.append(z)
            print(f'  baseline cell (Δ={deltas_full[i]:.3f}, r={rs_full[j]:.3f}): {dw * 1e3:.1f} ms wall, {dc * 1e3:.1f} core-ms; '
                  f'MSE1 rejection {e1.mean():.5f} vs package {pk["mse1"][0, 0]:.5f} (z = {z:+.2f})')
    nb = idx.size ** 2
    bw, bc = tb_w / nb, tb_c / nb
    print(f'baseline (rejection, authors\' method): {bw * 1e3:.1f} ms wall, {bc * 1e3:.1f} core-ms per cell '
          f'-> full grid {bw * 90000 / 3600:.2f} h wall on one core')
    pw, pc = w_pkg / cells, c_pkg / cells
    print(f'SPEED-UP per cell: {bw / pw:.1f}x wall-clock ({a.workers} worker threads vs 1 core), {bc / pc:.1f}x in core-seconds')
    print(f'goals: >= 40x per cell (core-seconds): {"MET" if bc / pc >= 40 else "NOT met"}; '
          f'full grid <= 90 s on 2 cores: {"MET" if w_pkg / cells * 90000 <= 90 else "NOT met"} ({w_pkg / cells * 90000:.1f} s)')
    print(f'agreement rejection vs package on the sub-grid: max |z| = {np.max(np.abs(checks)):.2f}')
    print('note: measured on a shared CPU machine; other jobs inflate both timings.')

if __name__ == '__main__':
    main()

"""How much of a `feng_eigen` curve's last point is the student's luck: retrain that point's student on the same
selected data with other initialisation seeds and print each one's test accuracy (τ = 5 %).

    python tools/eigen_student_spread.py RUN_DIR VERIFIER [--seeds 0 1 2] [--lr LR]

RUN_DIR is a finished feng_eigen run (its run.json, pool.npz); VERIFIER one of the curves (oracle, consistency,
weak_likelihood, self, random). Same selection, test matrices, model and training settings as the run; only the
student's seed differs (and, with `--lr`, the peak learning rate: does another rate make the students less of a
lottery?). CPU, about a minute per student at the quick profile.
"""
from __future__ import annotations
import argparse, json, sys, time
from pathlib import Path
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from collapse_repro.core import AttrDict, config_from, git_commit
from collapse_repro.eigen import (BOS, ModelConfig, TrainSpec, encode_matrices, evaluate_model, real_data, select,
                                  train_transformer)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('run_dir', type=Path)
    ap.add_argument('verifier', choices=['oracle', 'consistency', 'weak_likelihood', 'self', 'random'])
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    ap.add_argument('--lr', type=float, default=None, help="the students' peak learning rate (default: the run's)")
    a = ap.parse_args(argv)
    rec = json.loads((a.run_dir / 'run.json').read_text())
    P = AttrDict(rec['params'])                                       # the run's resolved parameters
    pool = dict(np.load(a.run_dir / 'pool.npz'))
    test = real_data(P.n_test, P.d, [P.seed, 1])                      # the notebook's test matrices
    choice, keep, _ = select(a.verifier, pool, P.tau, P.tol, np.random.default_rng([P.seed, 7]), P.oracle_tol)
    idx = np.flatnonzero(keep)[:max(P.n_values)]
    src = encode_matrices(pool['A'][idx])
    tgt = np.concatenate([np.full((len(idx), 1), BOS), pool['ids'][idx, choice[idx]]], 1)
    spec = config_from(TrainSpec, P, config=config_from(ModelConfig, P), **({'lr': a.lr} if a.lr else {}))
    hist = json.loads((a.run_dir / f'curve_{a.verifier}' / 'state.json').read_text())['history']
    print(f'{a.run_dir} ({rec["profile"]}, seed {P.seed}), code {git_commit()}: {a.verifier} student on {len(idx):,} selected '
          f'samples, lr {spec.lr}; the run\'s own student: acc_5 = {hist[-1]["acc_5"]}; generator: {hist[0]["acc_5"]}', flush=True)
    accs = []
    for s in a.seeds:
        t0 = time.time()
        m, info = train_transformer(spec, src, tgt, s)
        accs.append(evaluate_model(m, test['A'], test['lam'])['acc_5'])
        print(f'  student seed {s}: acc_5 = {accs[-1]:.3f} (final loss {info["final_loss"]:.3f}, {time.time() - t0:.0f} s)',
              flush=True)
    print(f'  range {min(accs):.3f} to {max(accs):.3f} over {len(accs)} seeds')
    return 0


if __name__ == '__main__':
    sys.exit(main())

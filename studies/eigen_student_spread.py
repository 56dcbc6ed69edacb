"""How much of a `feng_eigen` curve's last point is the student's luck: retrain that point's student on the same
selected data with other initialisation seeds and print each one's test accuracy (τ = 5 %).

    python studies/eigen_student_spread.py RUN_DIR VERIFIER [--seeds 0 1 2] [--lr LR] [--out FILE]

RUN_DIR is a finished feng_eigen run (its run.json, pool.npz); VERIFIER one of the curves (oracle, consistency,
weak_likelihood, self, random). Same selection, test matrices, model and training settings as the run; only the
student's seed differs (and, with `--lr`, the peak learning rate: does another rate make the students less of a
lottery?). CPU, about a minute per student at the quick profile. What it prints is also written to FILE (default
`studies/results/eigen_student_spread_<profile>_seed<seed>_<verifier>[_lr<lr>]_<date>.txt`), after a first line
with the command.
"""
from __future__ import annotations
import argparse, datetime, json, sys, time
from pathlib import Path
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from collapse_repro.core import AttrDict, config_from, git_commit
from collapse_repro.eigen import (BOS, ModelConfig, TrainSpec, encode_matrices, evaluate_model, real_data, select,
                                  train_transformer)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('run_dir', type=Path)
    ap.add_argument('verifier', choices=['oracle', 'consistency', 'weak_likelihood', 'self', 'random'])
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    ap.add_argument('--lr', type=float, default=None, help="the students' peak learning rate (default: the run's)")
    ap.add_argument('--out', type=Path, default=None, help='where the printed lines are kept (default: studies/results/)')
    a = ap.parse_args(argv)
    lines = [f"# studies/eigen_student_spread.py {' '.join(map(str, argv if argv is not None else sys.argv[1:]))}, "
             f"{datetime.datetime.now().isoformat(timespec='minutes')}"]
    def say(s):
        print(s, flush=True); lines.append(s)
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
    say(f'{a.run_dir} ({rec["profile"]}, seed {P.seed}), code {git_commit()}: {a.verifier} student on {len(idx):,} selected '
        f'samples, lr {spec.lr}; the run\'s own student: acc_5 = {hist[-1]["acc_5"]}; generator: {hist[0]["acc_5"]}')
    accs = []
    for s in a.seeds:
        t0 = time.time()
        m, info = train_transformer(spec, src, tgt, s)
        accs.append(evaluate_model(m, test['A'], test['lam'])['acc_5'])
        say(f'  student seed {s}: acc_5 = {accs[-1]:.3f} (final loss {info["final_loss"]:.3f}, {time.time() - t0:.0f} s)')
    say(f'  range {min(accs):.3f} to {max(accs):.3f} over {len(accs)} seeds')
    out = a.out or ROOT / 'studies' / 'results' / (f'eigen_student_spread_{rec["profile"]}_seed{P.seed}_{a.verifier}'
                                                    f'{f"_lr{a.lr:g}" if a.lr else ""}_{datetime.date.today():%Y%m%d}.txt')
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text('\n'.join(lines) + '\n', encoding='utf-8')
    print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

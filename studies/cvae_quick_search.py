"""One point of the search for the CVAE experiments' quick profile (issue 14): round 0 by the paper's rule from the
authors' 500 images, then ROUNDS generate-verify-retrain rounds of KEPT samples, filtered and/or unfiltered, with CVAEs of
at most EPOCHS epochs (patience 5, batch 128) and a discriminator on NV real + NV generated images for at most
DISC_EPOCHS epochs. Prints and writes MNIST-FID (our weights of the authors' network, 3,000 images unless --n-fid),
test NELBO (2,000 test images unless --n-test) and label adherence per round, with the wall time of each round.

    python studies/cvae_quick_search.py TAG EPOCHS NV DISC_EPOCHS KEPT ROUNDS ARMS [--out DIR] [--merge FILE]

ARMS: 'f' filtered, 'u' unfiltered, 'fu' both. `--linear START END` replaces the fixed budget KEPT by the linearly
growing one of Fig. 3(a) (`mnist.linear_schedule(START, END, ROUNDS)`; give the TAG a name that says so). Runs resume from DIR/TAG_<arm> (the shared loop's checkpoints), so a
finished point is read back without training. `--merge FILE` adds the point (by TAG and arm) to a JSON file of points,
e.g. collapse_repro/assets/studies/cvae_quick_search_<date>.json, which the package ships and `yi_cvae_schedule`
renders (`data.study_results`; studies/README.md). `--collect` trains nothing: it reads the rounds finished so far
from DIR/TAG_<arm> (e.g. a long study still running, or stopped for now and resumed later with the same command) and
writes or merges them, marked `rounds_done`.
"""
import argparse, json, time
from pathlib import Path
from types import SimpleNamespace
import torch
from collapse_repro.core import device_info, git_state, write_json
from collapse_repro.mnist import MnistData, MnistLoopConfig, linear_schedule, run_mnist
from collapse_repro.loop import load_history

KEYS = ('round', 'fid', 'fid_se', 'nelbo', 'gen_error', 'p', 'p_star', 'kept_precision', 'cvae_epochs', 'cvae_stop', 'cvae_loss',
        'disc_epochs', 'disc_stop', 'verify_time_s', 'round_time_s')

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    for a in ('tag',): ap.add_argument(a)
    for a in ('epochs', 'nv', 'disc_epochs', 'kept', 'rounds'): ap.add_argument(a, type=int)
    ap.add_argument('arms', choices=['f', 'u', 'fu'])
    ap.add_argument('--out', default='runs/cvae_quick_search')
    ap.add_argument('--linear', type=int, nargs=2, metavar=('START', 'END'),
                    help='a linearly growing kept budget from START to END over the rounds, instead of KEPT each round')
    ap.add_argument('--merge', help='JSON file of search points to add this one to')
    ap.add_argument('--collect', action='store_true', help='train nothing: read the rounds finished so far')
    ap.add_argument('--note', help='recorded with the point, e.g. which commit ran rounds that --collect reads')
    ap.add_argument('--n-fid', type=int, default=3000, help="generated images per FID (quick profile's 3,000; gpu's 6,000)")
    ap.add_argument('--n-test', type=int, default=2000, help="test images for the NELBO (quick's 2,000; gpu's 10,000)")
    a = ap.parse_args()
    data = None if a.collect else MnistData('cpu', fid='mnist_v2')
    schedule = linear_schedule(*a.linear, a.rounds) if a.linear else [a.kept] * a.rounds
    out = dict(tag=a.tag, cvae_epochs=a.epochs, n_verifier=a.nv, disc_epochs=a.disc_epochs, rounds=a.rounds,
               **(dict(linear=a.linear, schedule=schedule) if a.linear else dict(kept=a.kept)),
               **(dict(n_fid=a.n_fid, n_test=a.n_test) if (a.n_fid, a.n_test) != (3000, 2000) else {}),
               commit=git_state(), torch_threads=torch.get_num_threads(), device=device_info('cpu'), arms={})
    if a.collect: out['collected'] = True
    if a.note: out['note'] = a.note
    for filt in [c == 'f' for c in a.arms]:
        # the same reading of run parameters as the experiment notebooks (MnistLoopConfig.from_params)
        P = SimpleNamespace(cvae_epochs=a.epochs, init_epochs=200, patience=5, batch_size=128, disc_epochs=a.disc_epochs,
                            n_verifier=a.nv, score_batch=6000, n_fid=a.n_fid, n_test=a.n_test)
        cfg = MnistLoopConfig.from_params(P, schedule=schedule, filtered=filt)
        t0 = time.time()
        folder = Path(a.out) / f"{a.tag}_{'filtered' if filt else 'unfiltered'}"
        h = load_history(folder) if a.collect else run_mnist(cfg, data, folder, progress=False)
        arm = 'filtered' if filt else 'unfiltered'
        out['arms'][arm] = [{k: r[k] for k in KEYS if k in r} for r in h]
        out.setdefault('rounds_done', {})[arm] = len(h) - 1
        print(a.tag, arm, f'{time.time() - t0:.0f} s', flush=True)
        for r in out['arms'][arm]: print('  ', {k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()}, flush=True)
    write_json(Path(a.out) / f'{a.tag}.json', out)
    if a.merge:
        m = Path(a.merge)
        allp = json.loads(m.read_text()) if m.exists() else dict(points={})
        for arm, hist in out['arms'].items():
            allp['points'][f'{a.tag}|{arm}'] = dict({k: v for k, v in out.items() if k != 'arms'}, arm=arm, history=hist)
        write_json(m, allp)

if __name__ == '__main__': main()

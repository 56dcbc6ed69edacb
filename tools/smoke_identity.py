"""Smoke-profile identity check: do refactors leave every experiment's numbers unchanged?

    python tools/smoke_identity.py SNAPSHOT.json [EXP ...]            # run, record the results
    python tools/smoke_identity.py --compare SNAPSHOT.json [EXP ...]  # run again, report every difference
    python tools/smoke_identity.py --compare SNAPSHOT.json --runs DIR # compare runs already in DIR/<EXP>/
    python tools/smoke_identity.py --twice [EXP ...]                  # two fresh runs each: byte-identical?

Each experiment runs through the front door (`collapse-repro run EXP --profile smoke --out DIR --no-progress`).
From its results.json only the `results` part is kept, without what differs between identical runs: wall and
round times, speeds, timestamps, paths and provenance. Numbers are compared exactly (no tolerance). Exit code 1 when
anything differs or a run fails. With `--profile quick` and `--against figures/quick` it compares fresh quick runs
with the published results instead of a snapshot. `--twice` runs each experiment twice afresh and requires the two
results.json to be byte-identical once `core.UNSTABLE` (provenance, timing) is dropped (`core.comparable`).
"""
import argparse, json, os, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VOLATILE = ('time', 'wall', 'started', 'ended', 'timestamp', 'path', 'run_dir', 'provenance', 'executed_notebook',
            'per_s', 'ms_per')   # speeds (tokens per second, ms per cell) are timings too


def experiments():
    return sorted(p.stem for p in (ROOT / 'nbs' / 'experiments').glob('*.ipynb'))


def stable(x):
    "`x` without the keys whose values differ between identical runs (times, paths, provenance)."
    if isinstance(x, dict):
        return {k: stable(v) for k, v in x.items() if not any(w in k.lower() for w in VOLATILE)}
    if isinstance(x, list): return [stable(v) for v in x]
    return x


def diff(a, b, where=''):
    "Every place where `a` and `b` differ, as 'key.path: a != b' lines (exact equality)."
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f'{where}.{k}: only in snapshot' for k in a if k not in b]
        out += [f'{where}.{k}: only in new run' for k in b if k not in a]
        for k in a:
            if k in b: out += diff(a[k], b[k], f'{where}.{k}')
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b): return [f'{where}: length {len(a)} != {len(b)}']
        return [d for i, (u, v) in enumerate(zip(a, b)) for d in diff(u, v, f'{where}[{i}]')]
    if type(a) is not type(b) or a != b:
        if isinstance(a, float) and isinstance(b, float) and a != a and b != b: return []   # both NaN
        return [f'{where}: {a!r} != {b!r}']
    return []


def run(exp, out, profile):
    env = dict(os.environ, MPLBACKEND='Agg')
    cmd = [str(ROOT / '.venv' / 'bin' / 'collapse-repro'), 'run', exp, '--profile', profile, '--out', str(out),
           '--no-progress']
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        print(f'{exp}: run failed (exit {p.returncode})\n{p.stdout[-2000:]}{p.stderr[-2000:]}', file=sys.stderr)
        return None
    return stable(json.loads((Path(out) / 'results.json').read_text())['results'])


def twice(exps, runs: Path, profile: str) -> int:
    "Run each of `exps` twice afresh; exit code 1 unless each pair of results.json is byte-identical (`comparable`)."
    from collapse_repro.core import comparable
    bad = []
    for exp in exps:
        texts = []
        for i in (1, 2):
            if run(exp, runs / f'{exp}-{i}', profile) is None: break
            texts.append(comparable(json.loads((runs / f'{exp}-{i}' / 'results.json').read_text())))
        same = len(texts) == 2 and texts[0] == texts[1]
        print(f'{exp}: ' + ('identical' if same else 'failed' if len(texts) < 2 else 'DIFFERENT'), flush=True)
        if not same:
            bad.append(exp)
            if len(texts) == 2: print('   ', *diff(json.loads(texts[0]), json.loads(texts[1]))[:20], sep='\n    ')
    print('all identical' if not bad else f'differ or failed: {", ".join(bad)}')
    return 1 if bad else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('snapshot', nargs='?', help='snapshot file to write (without --compare)')
    ap.add_argument('experiments', nargs='*', help='default: every experiment')
    ap.add_argument('--compare', metavar='SNAPSHOT', help='compare with this snapshot instead of writing one')
    ap.add_argument('--against', metavar='DIR', help='compare with DIR/<EXP>_results.json (e.g. figures/quick)')
    ap.add_argument('--twice', action='store_true', help='run each experiment twice; the results must be identical')
    ap.add_argument('--profile', default='smoke')
    ap.add_argument('--runs', metavar='DIR', help='where the runs go (default: a temporary folder); '
                    'existing DIR/<EXP>/results.json are reused, not re-run')
    a = ap.parse_args(argv)
    exps = ([a.snapshot] if a.snapshot and (a.compare or a.against) else []) + a.experiments
    exps = exps or experiments()
    runs = Path(a.runs or tempfile.mkdtemp(prefix='smoke_identity_'))
    if a.twice: return twice([a.snapshot] + a.experiments if a.snapshot else exps, runs, a.profile)
    new, bad = {}, []
    for exp in exps:
        done = runs / exp / 'results.json'
        if done.exists(): new[exp] = stable(json.loads(done.read_text())['results'])
        else: new[exp] = run(exp, runs / exp, a.profile)
        if new[exp] is None: bad.append(exp)
        print(f'{exp}: {"failed" if new[exp] is None else "ran"}', flush=True)
    if not (a.compare or a.against):
        Path(a.snapshot).write_text(json.dumps({'profile': a.profile, 'results': new}, indent=1, sort_keys=True))
        print(f'snapshot of {len(new) - len(bad)} experiments written to {a.snapshot}; runs in {runs}')
        return 1 if bad else 0
    if a.compare: old = stable(json.loads(Path(a.compare).read_text())['results'])
    else: old = {e: stable(json.loads((Path(a.against) / f'{e}_results.json').read_text())['results']) for e in exps}
    for exp in exps:
        if new[exp] is None: continue
        if exp not in old: print(f'{exp}: not in the snapshot'); bad.append(exp); continue
        d = diff(old[exp], new[exp])
        print(f'{exp}: {"identical" if not d else f"{len(d)} differences"}')
        for line in d[:20]: print('   ', line)
        if d: bad.append(exp)
    print('all identical' if not bad else f'differ or failed: {", ".join(bad)}')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())

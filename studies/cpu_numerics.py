"""Same seed, same numbers? `feng_eigen`'s quick generator (seed 0) trained under several CPU settings.

On a CPU this package's runs repeat bit for bit for the same seed, but only on the same kind of CPU kernels and the same
number of threads: both change the order of floating-point sums, and a small transformer trained to a stopping rule
amplifies a last-bit difference into a different stopping step and accuracy. This study trains the generator of
`feng_eigen`'s quick profile, exactly as the experiment's notebook does (seed 0, stopped at 40 % validation accuracy at
τ = 5 % or after `steps`), once per setting, each in a fresh process:

    python studies/cpu_numerics.py --settings 2:native 1:native 2:avx2 1:avx2 --merge studies/results/cpu_numerics_20261207.json

A setting is THREADS:CAPABILITY; `native` leaves torch's choice of vector kernels alone, anything else is passed to
torch as `ATEN_CPU_CAPABILITY` (`default`, `avx2`, `avx512`; torch falls back to what the CPU has). Each result records
the host's CPU model, the capability torch actually used, the threads and the commit; `--merge` adds them to a JSON file
keyed by CPU model, its native kernels and the setting.
"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path


def train_generator(threads: int) -> dict:
    "Train feng_eigen's quick generator (seed 0) as its notebook does; what it reached and what ran it."
    import torch
    torch.set_num_threads(threads)
    from collapse_repro.core import config_from, device_info, git_state
    from collapse_repro.params import get_experiment
    from collapse_repro.runner import resolve_request
    from collapse_repro.eigen import ModelConfig, TrainSpec, real_data, real_model
    P = resolve_request(get_experiment('feng_eigen'), 'quick', {})
    spec = config_from(TrainSpec, P, config=config_from(ModelConfig, P))
    test = real_data(P['n_test'], P['d'], [0, 1])
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        _, m = real_model(Path(tmp) / 'generator', spec, P['n_gen'], P['d'], test, seed=0, device='cpu', progress=False,
                          desc='generator', target_acc=P['gen_target'], n_val=P['n_test'], check_every=P['check_every'])
    return dict(train_steps=m['train_steps'], val_acc_5=m.get('val_acc_5'), test_acc_5=m['acc_5'],
                wall_s=round(time.time() - t0, 1), device=device_info('cpu'),
                commit=git_state(),
                aten_cpu_capability_env=os.environ.get('ATEN_CPU_CAPABILITY'))


def parse_setting(setting: str) -> tuple:
    "THREADS:CAPABILITY as (threads, capability); one clear error for anything else."
    threads, _, cap = setting.partition(':')
    if not threads.isdigit() or int(threads) < 1 or not cap:
        raise SystemExit(f'a setting is THREADS:CAPABILITY, e.g. 2:native or 1:avx2; got {setting!r}')
    return threads, cap


def native_capability() -> str:
    "The vector kernels torch picks on this CPU by itself (read in a fresh process without `ATEN_CPU_CAPABILITY`)."
    env = {k: v for k, v in os.environ.items() if k != 'ATEN_CPU_CAPABILITY'}
    return subprocess.run([sys.executable, '-c', 'import torch; print(torch.backends.cpu.get_cpu_capability())'],
                          env=env, capture_output=True, text=True, check=True).stdout.strip()


def run_setting(setting: str, native: str) -> dict:
    """One THREADS:CAPABILITY setting in a fresh process (the capability is read once, when torch loads); `native`
    (what `native_capability` found) is recorded beside the device."""
    threads, cap = parse_setting(setting)
    env = {k: v for k, v in os.environ.items() if k != 'ATEN_CPU_CAPABILITY'}
    if cap != 'native': env['ATEN_CPU_CAPABILITY'] = cap
    out = subprocess.run([sys.executable, __file__, '--child', threads], env=env, capture_output=True, text=True)
    if out.returncode: raise SystemExit(f'setting {setting} failed:\n{out.stderr[-2000:]}')
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r['device']['native_capability'] = native
    return dict(setting=setting, **r)


def _key(r: dict) -> str:
    "A result's key: the CPU's model and the kernels its torch used when native (one model name can span kinds)."
    return f"{r['device']['cpu']} {r['device'].get('native_capability', '')}|{r['setting']}".replace(' |', '|')


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--settings', nargs='+', default=['2:native', '1:native'], help='THREADS:CAPABILITY, each run once')
    ap.add_argument('--merge', type=Path, help='add the results to this JSON file (keyed by CPU model, native kernels and setting)')
    ap.add_argument('--child', type=int, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(train_generator(a.child)))
        return
    for s in a.settings: parse_setting(s)   # every setting checked before the first one trains
    results, native = [], native_capability()
    for s in a.settings:
        r = run_setting(s, native)
        results.append(r)
        print(f"{s:>12}  {r['device']['cpu']} ({r['device']['cpu_capability']}, {r['device']['torch_threads']} threads): "
              f"stopped after {r['train_steps']} steps, validation acc {r['val_acc_5']}, test acc {r['test_acc_5']} "
              f"({r['wall_s']} s)", flush=True)
    if a.merge:
        old = json.loads(a.merge.read_text()) if a.merge.exists() else {}
        points = old.get('points', {})
        points.update({_key(r): r for r in results})
        a.merge.write_text(json.dumps(dict(old, what=__doc__.split('\n\n')[0], points=points), indent=1) + '\n')


if __name__ == '__main__':
    main()

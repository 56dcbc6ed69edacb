"""Benchmark of collapse_repro.jobs: one multi-condition experiment in-process vs fanned out over submitit's local
executor (first condition alone, the others `--workers` at a time, then the reduce job), measured in the same run.

    python bench/jobs_fanout.py [--experiment feng_summarization_verifiers] [--profile smoke] [--workers 2] [-p NAME VALUE ...]

Prints both wall times (from start to results.json) and their ratio (in-process / fanned out: above 1 means the
fan-out is faster), and checks that both give the same numbers (timings aside). Each job starts its own Jupyter kernel
and repeats the notebook's set-up, so at the smoke profile the overhead dominates; the ratio grows with the size of a
condition. On a machine with fewer free cores than workers the jobs only share them.
"""
import argparse, json, os, re, sys, tempfile, time
from pathlib import Path
from collapse_repro.jobs import ClusterOptions, plan_run, run_local, run_status, format_status
from collapse_repro.runner import run_experiment

TIMING = re.compile(r'(time|_s$|per_s$|tokens_per)')

def numbers(run_dir):
    def strip(x):
        if isinstance(x, dict): return {k: strip(v) for k, v in x.items() if not TIMING.search(k)}
        if isinstance(x, list): return [strip(v) for v in x]
        return x
    return strip(json.loads((Path(run_dir) / 'results.json').read_text())['results'])

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--experiment', default='feng_summarization_verifiers')
    ap.add_argument('--profile', default='smoke')
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('-p', '--param', nargs=2, action='append', default=[], metavar=('NAME', 'VALUE'))
    a = ap.parse_args()
    os.environ.pop('IN_TEST', None)
    tmp = Path(tempfile.mkdtemp(prefix='bench-jobs-'))
    os.environ['COLLAPSE_REPRO_FIGURES'] = str(tmp / 'figures')
    params = dict(a.param)
    print(f'cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f} (other work on the machine shares the cores)', flush=True)
    t0 = time.time()
    ref = run_experiment(a.experiment, a.profile, params, out=tmp / 'inprocess', progress=False)
    t_in = time.time() - t0
    assert ref.status == 'ok', ref.error
    print(f'in-process: {t_in:.1f}s', flush=True)
    plan = plan_run(a.experiment, a.profile, params, out=tmp / 'jobs', publish=False)
    t0 = time.time()
    done = run_local([plan], ClusterOptions(workers=a.workers), echo=lambda *_: None)
    t_jobs = time.time() - t0
    print(format_status(run_status(plan.run_dir)))
    assert set(done.values()) == {'finished'}, done
    same = numbers(plan.run_dir) == numbers(ref.run_dir)
    print(f'fanned out over the local executor ({len(plan.steps)} jobs, {a.workers} workers): {t_jobs:.1f}s')
    print(f'ratio in-process / fanned out: {t_in / t_jobs:.2f}  (same numbers: {same}); load average now {os.getloadavg()[0]:.2f}')
    return 0 if same else 1

if __name__ == '__main__':
    sys.exit(main())

"""The job runner (collapse_repro.jobs): a preempted job is requeued and a killed one resumes, both to the in-process
results; bad input is refused before anything is submitted; `status` reports a failure as one line with its log. (The
plain map/reduce graph through submitit's LocalExecutor, its records and its resume: nbs/04_jobs.ipynb, which
`make test` runs. A real Slurm: tools/slurm-single-node.sh and the CI step.)"""
import json, os, re, signal, time
from pathlib import Path
import pytest
from collapse_repro.jobs import (ClusterOptions, plan_run, run_local, run_status, format_status, write_conditions_demo,
                                 _submit_step, condition_rounds)
from collapse_repro.runner import run_experiment, write_demo_experiment
from conftest import cli, cli_here

pytest.importorskip('submitit')

TIMING = re.compile(r'(time|_s$|per_s$|tokens_per)')

def numbers(run_dir):
    "results.json's results without the timings (which differ between any two runs)."
    def strip(x):
        if isinstance(x, dict): return {k: strip(v) for k, v in x.items() if not TIMING.search(k)}
        if isinstance(x, list): return [strip(v) for v in x]
        return x
    return strip(json.loads((Path(run_dir) / 'results.json').read_text())['results'])

@pytest.fixture
def cond_env(demo_env):
    "demo_env plus a demo experiment with two declared conditions (cond_demo: arms a and b, tiny loops)."
    write_conditions_demo(demo_env / 'exps')
    return demo_env

def test_a_preempted_job_requeues_and_a_killed_job_resumes_to_the_same_result(cond_env):
    """Both map jobs of one run interrupted after round 1: condition a's job gets Slurm's pre-timeout signal and requeues
    itself; condition b's is killed hard (no hook runs) and `run --resume` picks it up. One planned run for both
    checks, the numbers those of an uninterrupted in-process run (`sleep` only changes speed)."""
    ref = run_experiment('cond_demo', 'smoke', {'rounds': 4}, out=cond_env / 'ref', progress=False)
    plan = plan_run('cond_demo', 'smoke', {'rounds': 4, 'sleep': 1.0}, publish=False)
    jobs = {c: _submit_step('local', plan, step, ClusterOptions(), None) for c, step in zip('ab', plan.steps[:2])}
    t0 = time.time()
    while min(condition_rounds(plan.run_dir, c) or 0 for c in 'ab') < 2:   # round 0 and round 1 done: interrupt mid-run
        assert time.time() - t0 < 120, 'the jobs never finished a round'
        time.sleep(0.2)
    state = lambda c: json.loads((plan.run_dir / 'jobs' / f'cond-{c}.state.json').read_text())
    os.kill(state('a')['pid'], signal.SIGUSR2)                    # what Slurm (and the local executor) send before a timeout/preemption
    os.kill(state('b')['pid'], signal.SIGKILL)                    # a hard kill: no checkpoint hook runs
    jobs['a'].result()                                            # raises if the job did not finish after its requeue
    assert state('a')['status'] == 'finished' and state('a')['requeues'] == 1 and state('a')['attempt'] == 2, state('a')
    log = Path(jobs['a'].paths.stdout).read_text() + Path(jobs['a'].paths.stderr).read_text()
    assert 'resuming after round' in log or 'Requeued' in log
    while not jobs['b'].done(): time.sleep(0.2)
    assert run_status(plan.run_dir)['steps'][1]['status'] == 'lost'
    rounds_before = condition_rounds(plan.run_dir, 'b')
    r = cli('run', 'cond_demo', '--profile', 'smoke', '-p', 'rounds', '4', '-p', 'sleep', '1.0', '--out', plan.run_dir,
            '--resume', '--executor', 'local')
    assert r.returncode == 0, r.stdout + r.stderr
    assert numbers(plan.run_dir) == numbers(ref.run_dir)
    assert state('b')['attempt'] == 2 and rounds_before >= 2
    assert state('a')['attempt'] == 2                             # its finished job was not submitted again

def test_bad_input_is_refused_before_submitting(cond_env, tmp_path, monkeypatch):
    runs = cond_env / 'runs'
    for args, msg in [(['--executor', 'pbs'], 'unknown executor'), (['--executor', 'local', '--partition', 'gpu'], 'only applies to --executor slurm'),
                      (['--executor', 'inprocess', '--workers', '2'], '--workers only applies'), (['--executor', 'local', '--time', '12h'], 'HH:MM:SS'),
                      (['--executor', 'local', '--slurm-arg', 'account'], 'KEY=VALUE')]:
        r = cli_here('figures', '--profile', 'smoke', '--only', 'cond_demo', *args)
        assert r.returncode == 2 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
    with monkeypatch.context() as m:
        m.setenv('PATH', str(Path(os.sys.executable).parent))                # python, but no sbatch
        r = cli_here('figures', '--profile', 'smoke', '--only', 'cond_demo', '--executor', 'slurm')
    assert r.returncode == 2 and 'no `sbatch` on PATH' in r.stderr and '--executor local' in r.stderr
    assert not runs.exists() or not any(runs.rglob('run.json'))               # nothing was created
    other = run_experiment('demo', 'smoke', {}, out=tmp_path / 'other', progress=False)
    r = cli_here('run', 'cond_demo', '--profile', 'smoke', '--out', other.run_dir, '--resume', '--executor', 'local')
    assert r.returncode == 2 and 'demo' in r.stderr and 'refusing' not in r.stdout, r.stderr

def test_status_reports_a_failed_job_in_one_line_with_its_log(demo_env):
    r = cli('run', 'demo_broken', '--profile', 'smoke', '--out', demo_env / 'broken', '--executor', 'local')
    assert r.returncode == 1
    s = cli('status', demo_env / 'broken')
    assert s.returncode == 1
    line = next(l for l in s.stdout.splitlines() if l.strip().startswith('all'))
    assert 'failed' in line and 'ZeroDivisionError' in line and 'log: ' in line, s.stdout
    assert Path(line.split('log: ')[1].strip()).exists()

@pytest.mark.skipif(not Path(os.environ.get('COLLAPSE_REPRO_DATA', '/nonexistent'), 'xsum').is_dir(), reason='XSUM data not found')
@pytest.mark.skipif(os.environ.get('CI') == 'true', reason='CI checks the same through real Slurm against its in-process smoke runs (.ci/run)')
def test_a_real_experiment_fanned_out_gives_the_in_process_results(tmp_path, monkeypatch):
    """yi_xsum_rounds at smoke: its two arms as map jobs plus a reduce job, against the in-process run. (In CI the Slurm
    step compares the same experiment fanned out through a real Slurm with the smoke step's in-process results.)"""
    monkeypatch.setenv('COLLAPSE_REPRO_FIGURES', str(tmp_path / 'figures')); monkeypatch.delenv('IN_TEST', raising=False)
    ref = run_experiment('yi_xsum_rounds', 'smoke', {}, out=tmp_path / 'ref', progress=False)
    assert ref.status == 'ok', ref.error
    plan = plan_run('yi_xsum_rounds', 'smoke', out=tmp_path / 'jobs')
    assert [s.name for s in plan.steps] == ['cond-filtered', 'cond-control', 'reduce']
    done = run_local([plan], ClusterOptions(workers=2), figures_dir=tmp_path / 'figures', echo=lambda *_: None)
    assert set(done.values()) == {'finished'}, (done, format_status(run_status(plan.run_dir)))
    assert numbers(plan.run_dir) == numbers(ref.run_dir)

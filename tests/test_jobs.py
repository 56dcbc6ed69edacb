"""The job runner (collapse_repro.jobs): map/reduce through submitit's LocalExecutor gives the in-process results, a
preempted job is requeued and resumes to the same result, bad input is refused before anything is submitted, and
`status` reports a failure as one line with its log. (A real Slurm: tools/slurm-single-node.sh and the CI step.)"""
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

def test_map_reduce_through_the_local_executor_matches_in_process(cond_env):
    ref = run_experiment('cond_demo', 'smoke', {}, out=cond_env / 'ref', progress=False)
    assert ref.status == 'ok', ref.error
    plan = plan_run('cond_demo', 'smoke')
    assert [s.name for s in plan.steps] == ['cond-a', 'cond-b', 'reduce']
    done = run_local([plan], ClusterOptions(workers=2), echo=lambda *_: None)
    assert set(done.values()) == {'finished'}, done
    assert numbers(plan.run_dir) == numbers(ref.run_dir)
    st = run_status(plan.run_dir)
    assert [s['status'] for s in st['steps']] == ['finished'] * 3
    assert [c['rounds'] for s in st['steps'][:2] for c in s['conditions']] == [3, 3]      # round 0 + 2 rounds each
    assert (plan.run_dir / 'cond_demo.ipynb').exists() and (plan.run_dir / 'jobs' / 'cond-a.ipynb').exists()
    rec = json.loads((plan.run_dir / 'run.json').read_text())
    assert [a.get('step') for a in rec['attempts']][:2] == ['cond-a', 'cond-b']       # map jobs count in the wall time
    assert (cond_env / 'figures' / 'smoke' / 'cond_demo_results.json').exists()          # the reduce job published

def test_a_preempted_job_is_requeued_and_resumes_to_the_same_result(cond_env):
    ref = run_experiment('cond_demo', 'smoke', {'rounds': 4}, out=cond_env / 'ref', progress=False)
    plan = plan_run('cond_demo', 'smoke', {'rounds': 4, 'sleep': 1.0}, publish=False)
    first = plan.steps[0]
    job = _submit_step('local', plan, first, ClusterOptions(), None)
    t0 = time.time()
    while (condition_rounds(plan.run_dir, 'a') or 0) < 2:         # round 0 and round 1 finished: interrupt mid-run
        assert time.time() - t0 < 120, 'the job never finished a round'
        time.sleep(0.2)
    pid = json.loads((plan.run_dir / 'jobs' / 'cond-a.state.json').read_text())['pid']
    os.kill(pid, signal.SIGUSR2)                                  # what Slurm (and the local executor) send before a timeout/preemption
    job.result()                                                  # raises if the job did not finish after its requeue
    st = json.loads((plan.run_dir / 'jobs' / 'cond-a.state.json').read_text())
    assert st['status'] == 'finished' and st['requeues'] == 1 and st['attempt'] == 2, st
    log = Path(job.paths.stdout).read_text() + Path(job.paths.stderr).read_text()
    assert 'resuming after round' in log or 'Requeued' in log
    # the rest of the graph, then the numbers of an uninterrupted in-process run (sleep only changes speed)
    rest = plan_run('cond_demo', 'smoke', {'rounds': 4, 'sleep': 1.0}, out=plan.run_dir, resume=True, publish=False)
    done = run_local([rest], ClusterOptions(workers=2), echo=lambda *_: None)
    assert set(done.values()) == {'finished'}, done
    assert numbers(plan.run_dir) == numbers(ref.run_dir)

def test_a_killed_job_resumes_from_its_last_round_with_resume(cond_env):
    ref = run_experiment('cond_demo', 'smoke', {'rounds': 4}, out=cond_env / 'ref', progress=False)
    plan = plan_run('cond_demo', 'smoke', {'rounds': 4, 'sleep': 1.0}, publish=False)
    job = _submit_step('local', plan, plan.steps[0], ClusterOptions(), None)
    t0 = time.time()
    while (condition_rounds(plan.run_dir, 'a') or 0) < 2:
        assert time.time() - t0 < 120; time.sleep(0.2)
    pid = json.loads((plan.run_dir / 'jobs' / 'cond-a.state.json').read_text())['pid']
    os.kill(pid, signal.SIGKILL)                                  # a hard kill: no checkpoint hook runs
    while not job.done(): time.sleep(0.2)
    assert run_status(plan.run_dir)['steps'][0]['status'] == 'lost'
    rounds_before = condition_rounds(plan.run_dir, 'a')
    r = cli('run', 'cond_demo', '--profile', 'smoke', '-p', 'rounds', '4', '-p', 'sleep', '1.0', '--out', plan.run_dir,
            '--resume', '--executor', 'local')
    assert r.returncode == 0, r.stdout + r.stderr
    assert numbers(plan.run_dir) == numbers(ref.run_dir)
    st = json.loads((plan.run_dir / 'jobs' / 'cond-a.state.json').read_text())
    assert st['attempt'] == 2 and rounds_before >= 2

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

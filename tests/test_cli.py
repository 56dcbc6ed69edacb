"The collapse-repro command: list, run, figures, bad input, no overwriting, provenance sidecars."
import json, re, subprocess, sys
import pytest
from pathlib import Path
from conftest import cli, cli_here, ROOT
from collapse_repro.runner import list_experiments

def runs_of(root: Path, exp='demo'):
    d = root / 'runs' / exp
    return sorted(d.iterdir()) if d.exists() else []

def test_list_shows_experiments_and_parameters(demo_env):
    r = cli('list')                                                  # one line per experiment
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().split('\n')
    assert any(l.startswith('demo ') and 'smoke/quick/paper' in l for l in lines) and any(l.startswith('demo_broken') for l in lines)
    assert 'standard deviation' not in r.stdout
    r = cli('list', 'demo')                                          # one experiment: its parameters
    assert r.returncode == 0, r.stderr
    assert 'paper: none (demo)' in r.stdout and 'figure: demo' in r.stdout
    assert "smoke=10  quick=100  paper=1000" in r.stdout          # profile-dependent default
    assert "scale" in r.stdout and "1.0" in r.stdout and '# standard deviation of the draws' in r.stdout
    assert 'run_dir' not in r.stdout                                # runner-owned parameters are options, not -p
    assert cli_here('list', 'dmo').returncode == 2

def test_run_writes_run_dir_results_and_sidecars(demo_env):
    r = cli('run', 'demo', '--profile', 'smoke', '-p', 'x', '20', '-p', 'label', 'hello', '--no-progress', '--publish-changed')
    assert r.returncode == 0, r.stderr
    (run,) = runs_of(demo_env)
    assert run.name.endswith('-smoke') and (run / 'demo.ipynb').exists()
    res = json.loads((run / 'results.json').read_text())
    assert res['profile'] == 'smoke' and res['provenance']['params']['x'] == 20 and res['provenance']['params']['label'] == 'hello'
    assert len(res['results']['draws']) == 5 and res['headline']['name'] == 'mean'
    side = json.loads((demo_env / 'figures/smoke/demo_hist.json').read_text())
    assert (demo_env / 'figures/smoke/demo_hist.png').exists()
    for key in ('profile', 'params', 'git_commit', 'packages', 'device', 'wall_time_s', 'run_wall_time_s'):
        assert key in side, key
    assert side['params']['x'] == 20 and side['packages']['numpy'] and side['scale'].startswith('smoke profile')
    assert (demo_env / 'figures/smoke/demo_results.json').exists()

def test_runs_never_overwrite_each_other(demo_env):
    for _ in range(2): assert cli('run', 'demo', '--profile', 'smoke', '--no-progress').returncode == 0
    a, b = runs_of(demo_env)
    assert a != b and (a / 'results.json').exists() and (b / 'results.json').exists()
    out = demo_env / 'mine'
    assert cli('run', 'demo', '--profile', 'smoke', '--out', out, '--no-progress').returncode == 0
    first = (out / 'results.json').read_text()
    r = cli('run', 'demo', '--profile', 'smoke', '--out', out, '--no-progress')
    assert r.returncode == 2 and 'already holds a run' in r.stderr and '--resume' in r.stderr
    assert (out / 'results.json').read_text() == first
    assert cli('run', 'demo', '--profile', 'smoke', '--out', out, '--resume', '--no-progress').returncode == 0

def test_a_failed_attempt_never_replaces_the_good_notebook(demo_env):
    out = demo_env / 'd'
    assert cli('run', 'demo', '--profile', 'smoke', '--out', out, '--no-progress').returncode == 0
    good = (out / 'demo.ipynb').read_bytes()
    (demo_env / 'exps' / 'demo.ipynb').write_text((demo_env / 'exps' / 'demo_broken.ipynb').read_text())   # the code breaks
    assert cli('run', 'demo', '--profile', 'smoke', '--out', out, '--resume', '--no-progress').returncode == 1
    assert (out / 'demo.ipynb').read_bytes() == good and (out / 'demo.failed.ipynb').exists()

def _bad(demo_env, *args, expect):
    r = cli_here(*args)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = [l for l in r.stderr.strip().split('\n') if l]
    assert len(lines) == 1 and lines[0].startswith('collapse-repro: error:'), r.stderr
    for e in expect: assert e in lines[0], lines[0]
    assert runs_of(demo_env) == []                                   # nothing was computed or created

def test_unknown_experiment_suggests_closest(demo_env):
    _bad(demo_env, 'run', 'dmeo', expect=["unknown experiment 'dmeo'", 'did you mean demo'])

def test_unknown_parameter_lists_valid_ones(demo_env):
    _bad(demo_env, 'run', 'demo', '-p', 'n_draws', '3', expect=["unknown parameter 'n_draws'", 'valid: seed, x, scale, label'])

def test_wrong_type_is_rejected(demo_env):
    _bad(demo_env, 'run', 'demo', '-p', 'x', '2.5', expect=["parameter 'x' expects int, got '2.5'"])
    _bad(demo_env, 'run', 'demo', '-p', 'scale', 'wide', expect=["parameter 'scale' expects float"])

def test_unknown_profile_is_rejected(demo_env):
    r = cli_here('run', 'demo', '--profile', 'huge')
    assert r.returncode == 2 and 'invalid choice' in r.stderr and runs_of(demo_env) == []

def test_failing_notebook_reports_cell_and_keeps_run_dir(demo_env):
    r = cli('run', 'demo_broken', '--profile', 'smoke', '--no-progress')
    assert r.returncode == 1
    assert 'FAILED' in r.stderr and 'ZeroDivisionError' in r.stderr and 'result = 1 / 0' in r.stderr
    (run,) = runs_of(demo_env, 'demo_broken')
    assert (run / 'demo_broken.failed.ipynb').exists() and str(run) in r.stderr   # a failed attempt's notebook, kept apart

def test_figures_runs_everything_and_prints_summary(demo_env):
    r = cli('figures', '--profile', 'smoke', '--no-progress', '--only', 'demo', 'demo_broken')
    assert r.returncode == 1                                         # one experiment failed
    table = r.stdout[r.stdout.index('experiment  '):]
    assert 'demo ' in table and 'ok' in table and 'mean = ' in table and 'failed' in table

def test_real_experiment_notebooks_are_well_formed():
    "Every committed experiment notebook declares a paper, a figure, the runner parameters and a PROFILES table."
    exps = list_experiments(ROOT / 'nbs' / 'experiments')
    for e in exps:
        assert e.paper and e.figure and e.description, e.name
        for p in e.user_params.values():
            # a table row covers every profile the experiment has: smoke, quick, paper, and gpu for the neural ones
            if p.by_profile: assert set(p.by_profile) == set(e.profiles) >= {'smoke', 'quick', 'paper'}, (e.name, p.name)

NEURAL = {'yi_cvae_schedule', 'yi_cvae_verifier_quality', 'yi_cvae_initial_size', 'feng_eigen', 'yi_xsum_rounds',
          'feng_summarization_verifiers'}

def test_gpu_profile_exists_for_the_neural_experiments_only():
    "The six neural experiments have a `gpu` row; the theory ones, which run at paper scale on a CPU, do not."
    exps = {e.name: e for e in list_experiments(ROOT / 'nbs' / 'experiments')}
    assert {n for n, e in exps.items() if 'gpu' in e.profiles} == NEURAL

def test_gpu_profile_of_a_theory_experiment_is_refused_before_compute(demo_env, monkeypatch):
    "The demo has no gpu row: asking for one is one line, exit 2, and no run directory."
    r = cli_here('run', 'demo', '--profile', 'gpu', '--no-progress')
    assert r.returncode == 2 and "demo has no 'gpu' profile" in r.stderr and runs_of(demo_env) == [], r.stderr
    r = cli('figures', '--profile', 'gpu', '--no-progress')             # every experiment that has one: here none
    assert r.returncode == 0 and 'skipping demo, demo_broken' in r.stdout and runs_of(demo_env) == [], r.stdout + r.stderr

def test_time_limit_stops_at_a_checkpoint_and_resume_finishes(tmp_path, monkeypatch):
    "--time-limit stops a multi-round run between rounds (exit 3, nothing published); --resume finishes it as if never stopped."
    monkeypatch.setenv('COLLAPSE_REPRO_FIGURES', str(tmp_path / 'figures')); monkeypatch.delenv('IN_TEST', raising=False)
    base = ('run', 'yi_linreg_long_run', '--profile', 'smoke', '--no-progress')
    r = cli(*base, '--out', tmp_path / 'a', '--time-limit', '0')
    assert r.returncode == 3 and 'stopped' in r.stderr and '--resume' in r.stderr, r.stderr
    assert not (tmp_path / 'a' / 'results.json').exists() and not (tmp_path / 'figures').exists()
    assert cli(*base, '--out', tmp_path / 'a', '--resume').returncode == 0
    assert cli(*base, '--out', tmp_path / 'b').returncode == 0
    res = [json.loads((tmp_path / d / 'results.json').read_text())['results'] for d in 'ab']
    assert res[0] == res[1]


def test_figures_resume_continues_the_unfinished_and_keeps_the_finished(tmp_path, monkeypatch):
    """`figures --time-limit 0` stops the first experiment at a checkpoint and runs nothing after it; `figures --resume`
    continues that run in its own folder and starts the rest; a second `--resume` keeps both and runs nothing."""
    monkeypatch.setenv('COLLAPSE_REPRO_FIGURES', str(tmp_path / 'figures')); monkeypatch.delenv('IN_TEST', raising=False)
    base = ('figures', '--profile', 'smoke', '--no-progress', '--only', 'yi_linreg_long_run', 'feng_phase_transition',
            '--out', tmp_path / 'runs')
    r = cli(*base, '--time-limit', '0')
    assert r.returncode == 3 and 'feng_phase_transition not run' in r.stdout, r.stdout + r.stderr
    r = cli(*base, '--resume')
    assert r.returncode == 0 and 'yi_linreg_long_run (smoke): resuming' in r.stdout, r.stdout + r.stderr
    runs = {e: sorted((tmp_path / 'runs' / e).iterdir()) for e in ('yi_linreg_long_run', 'feng_phase_transition')}
    assert [len(v) for v in runs.values()] == [1, 1], runs                              # no second folder
    rec = lambda e: json.loads((runs[e][0] / 'run.json').read_text())
    assert [(a['resumed'], a['status']) for a in rec('yi_linreg_long_run')['attempts']] == [(False, 'stopped'), (True, 'ok')]
    before = {e: rec(e) for e in runs}
    r = cli(*base, '--resume')
    assert r.returncode == 0 and r.stdout.count(', kept') == 2 and {e: rec(e) for e in runs} == before, r.stdout
    assert re.search(r'^yi_linreg_long_run +ok ', r.stdout, re.M), r.stdout                # still in the summary table
    r = cli(*base, '--resume', '--executor', 'local')
    assert r.returncode == 2 and 'figures --resume continues in-process runs' in r.stderr, r.stderr

# --- issue: resume never mixes runs, values are checked before compute, runs never overwrite committed figures

def test_resume_onto_another_experiment_is_refused(demo_env):
    out = demo_env / 'd'
    assert cli('run', 'demo', '--profile', 'smoke', '--out', out, '--no-progress').returncode == 0
    files = lambda: {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.name != 'run.lock'}
    before = files()                                           # run.lock names the last process that claimed the folder
    r = cli('run', 'demo_broken', '--profile', 'smoke', '--out', out, '--resume', '--no-progress')
    assert r.returncode == 2 and 'experiment demo (asked: demo_broken)' in r.stderr, r.stderr
    assert files() == before                                                                  # nothing touched

def test_resume_with_changed_parameters_or_profile_is_refused(demo_env):
    out = demo_env / 'd'
    assert cli('run', 'demo', '--profile', 'smoke', '--out', out, '--no-progress').returncode == 0
    r = cli_here('run', 'demo', '--profile', 'smoke', '--out', out, '--resume', '-p', 'x', '1000', '--no-progress')
    assert r.returncode == 2 and 'x = 10 (asked: 1000)' in r.stderr, r.stderr
    r = cli_here('run', 'demo', '--profile', 'quick', '--out', out, '--resume', '--no-progress')
    assert r.returncode == 2 and 'profile smoke (asked: quick)' in r.stderr and 'x = 10 (asked: 100)' in r.stderr, r.stderr
    r = cli('run', 'demo', '--profile', 'smoke', '--out', out, '--resume', '-p', 'x', '10', '--no-progress')
    assert r.returncode == 0, r.stderr                                   # the same value, given explicitly, is the same run
    rec = json.loads((out / 'run.json').read_text())
    assert [a['resumed'] for a in rec['attempts']] == [False, True] and all(a['status'] == 'ok' for a in rec['attempts'])

def test_out_of_range_values_are_refused_before_compute():
    "Every experiment's domains (DOMAINS in its parameters cell) are checked with the types: one line, exit 2, no run."
    cases = [('yi_cvae_schedule', 'batch_size', '-3', "'batch_size' must be"), ('yi_cvae_schedule', 'rounds', '-1', "'rounds' must be"),
             ('yi_cvae_schedule', 'seed', '-5', "'seed' must be"), ('yi_cvae_schedule', 'n_fid', '0', "'n_fid' must be"),
             ('feng_phase_transition', 'd', '0', "'d' must be"), ('feng_phase_transition', 'phi', '1.5', "'phi' must be"),
             ('yi_cvae_schedule', 'fixed_sizes', "[100, 'a']", "each value of parameter 'fixed_sizes'")]
    for exp, name, value, expect in cases:
        r = cli_here('run', exp, '--profile', 'smoke', '-p', name, value, '--out', '/nonexistent/never-created')
        assert r.returncode == 2 and expect in r.stderr and len(r.stderr.strip().split('\n')) == 1, (exp, name, r.stderr)

def test_run_with_changed_parameters_never_publishes(demo_env):
    r = cli('run', 'demo', '--profile', 'smoke', '-p', 'x', '20', '--no-progress')
    assert r.returncode == 0 and not (demo_env / 'figures').exists(), r.stderr              # run alone publishes nothing
    r = cli_here('run', 'demo', '--profile', 'smoke', '-p', 'x', '20', '--publish', '--no-progress')
    assert r.returncode == 2 and 'not publishing' in r.stderr and not (demo_env / 'figures').exists()
    assert cli('run', 'demo', '--profile', 'smoke', '--publish', '--no-progress').returncode == 0
    side = json.loads((demo_env / 'figures/smoke/demo_hist.json').read_text())
    assert side['params']['x'] == 10 and side['attempts'][0]['status'] == 'ok'

def test_figures_dir_that_is_a_file_is_refused_before_compute(demo_env):
    f = demo_env / 'afile'; f.write_text('x')
    _bad(demo_env, 'run', 'demo', '--profile', 'smoke', '--publish', '--figures-dir', f, expect=['is not a folder'])

def test_failure_reports_the_line_that_raised(demo_env):
    r = cli('run', 'demo_broken', '--profile', 'smoke', '--no-progress')
    assert r.returncode == 1 and 'result = 1 / 0' in r.stderr and 'ZeroDivisionError' in r.stderr, r.stderr

def test_every_profile_value_lies_in_its_domain():
    "The DOMAINS tables agree with the PROFILES tables and defaults of every experiment."
    from collapse_repro.runner import check_domain
    for e in list_experiments(ROOT / 'nbs' / 'experiments'):
        for p in e.params.values():
            for v in [p.default, *p.by_profile.values()]: check_domain(p, v)

def test_no_mention_of_private_paper_notes():
    "Notebooks, modules and README cite the papers themselves, never the developers' private notes paperA.md / paperB.md."
    files = [*ROOT.glob('nbs/**/*.ipynb'), *ROOT.glob('collapse_repro/**/*.py'), ROOT / 'README.md']
    assert len(files) > 10, files
    bad = [str(f.relative_to(ROOT)) for f in files
           if f.is_file() and any(n in f.read_text(encoding='utf-8') for n in ('paperA.md', 'paperB.md'))]
    assert not bad, f'mentions of paperA.md / paperB.md in {bad}'

@pytest.fixture
def shipped_and_yours(tmp_path, monkeypatch):
    """An installed package's view: the committed results stand in for the ones the package ships, and the user's
    folder ($COLLAPSE_REPRO_FIGURES) holds a quick run of feng_scaling (its measured wall time changed, to tell it
    apart) and a smoke run of feng_phase_transition (the quick results relabelled: same structure)."""
    from collapse_repro import publish                  # where `published_results` finds the package's data
    real = publish.package_data
    monkeypatch.setattr(publish, 'package_data', lambda name: ROOT / 'figures' if name == 'published' else real(name))
    mine = tmp_path / 'figures'
    for prof, exp, src in (('quick', 'feng_scaling', 'quick'), ('smoke', 'feng_phase_transition', 'quick')):
        (mine / prof).mkdir(parents=True, exist_ok=True)
        doc = json.loads((ROOT / 'figures' / src / f'{exp}_results.json').read_text())
        doc['runner']['run_wall_time_s'] = 4321.0
        (mine / prof / f'{exp}_results.json').write_text(json.dumps(doc))
    monkeypatch.setenv('COLLAPSE_REPRO_FIGURES', str(mine))
    return mine

def test_list_lays_your_runs_over_the_shipped_ones(shipped_and_yours):
    "Item 1 of issue 29: `list` shows the package's results with the user's own published runs over them, marked."
    r = cli_here('list')
    assert r.returncode == 0, r.stderr
    assert f"with yours from {shipped_and_yours} laid over them (marked 'yours')" in r.stdout, r.stdout
    row = lambda exp: next(l for l in r.stdout.split('\n') if l.startswith(exp + ' '))
    assert 'quick 4321s (yours)' in row('feng_scaling') and 'paper ' in row('feng_scaling'), row('feng_scaling')
    assert 'paper 4321s' not in row('feng_scaling')
    assert 'smoke 4321s (yours)' in row('feng_phase_transition') and 'quick' in row('feng_phase_transition')
    assert '(yours)' not in row('yi_linreg_one_round') and 'reproduced' in row('yi_linreg_one_round')

def test_report_markdown_marks_whose_run_each_cell_is(shipped_and_yours, tmp_path):
    "`report --markdown` marks each profile's cell 'yours' or 'shipped', as the terminal report's `run` column does."
    r = cli_here('report', '--markdown', str(tmp_path / 'claims.md'))
    assert r.returncode == 0, r.stderr
    md = (tmp_path / 'claims.md').read_text(encoding='utf-8')
    assert 'each profile\'s cell ends with whose run it is, `yours` or `shipped`' in md
    row = next(l for l in md.splitlines() if l.startswith('| `feng.scaling.verified`'))
    cells = row.split(' | ')[-4:-1]                              # quick, gpu, paper (the columns of REPORT_PROFILES)
    assert cells[0].endswith(' · yours') and cells[2].endswith(' · shipped'), cells
    row = next(l for l in md.splitlines() if l.startswith('| `feng.phase.step`'))
    assert row.split(' | ')[-4].endswith(' · shipped') and ' · yours' not in row, row

def test_report_marks_whose_run_each_row_is_and_reads_smoke(shipped_and_yours):
    "`report` marks each row's run 'yours' or 'shipped'; `--profile smoke` shows a smoke-only ledger, labelled."
    r = cli_here('report')
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split('\n')
    head = next(l for l in lines if l.startswith('claim '))
    assert head.split()[:6] == ['claim', 'in', 'short', 'paper', 'profile', 'run'], head
    whose, claim = set(), None
    for l in lines[lines.index(head) + 2:]:
        if not l.strip(): break
        if not l.startswith(' '): claim = l.split()[0]            # a claim's first row names it; the next rows don't
        prof, run = l[head.index('profile'):].split()[:2]
        whose.add((claim, prof, run))
    assert {('feng.scaling.verified', 'quick', 'yours'), ('feng.scaling.verified', 'paper', 'shipped'),
            ('feng.phase.step', 'quick', 'shipped')} <= whose, r.stdout[:2000]
    assert 'smoke' not in r.stdout                  # read only when asked for
    r = cli_here('report', '--profile', 'smoke')
    assert r.returncode == 0, r.stderr
    assert 'smoke: every experiment at toy sizes' in r.stdout and 'largest of smoke that ran' in r.stdout
    (step,) = [l for l in r.stdout.split('\n') if l.startswith('feng.phase.step ')]
    assert ' smoke ' in step and ' yours ' in step and 'not run' not in step, step
    assert 'no smoke results' in r.stdout        # every other claim: not run at smoke

def test_report_in_a_checkout_reads_its_figures_alone():
    "In a checkout nothing is laid over anything: no 'run' column, no word of shipped results; smoke is accepted."
    r = cli_here('report', '--profile', 'paper')
    assert r.returncode == 0 and 'shipped' not in r.stdout, r.stdout[:500]
    assert next(l for l in r.stdout.split('\n') if l.startswith('claim ')).split()[4] == 'profile'
    r = cli_here('report', '--profile', 'smoke')
    assert r.returncode == 0 and r.stdout.startswith('smoke: every experiment at toy sizes'), r.stdout[:300]

def test_startup_imports_stay_lean():
    """The command line imports jsonschema without rfc3987-syntax's grammar (seconds per command), and a run's kernel
    (`collapse_repro.core`) imports no nbformat; rfc3987-syntax stays importable (bench/cli_startup.py times both)."""
    code = ('import sys, collapse_repro.cli; lean = "rfc3987_syntax" not in sys.modules; '
            'import collapse_repro.core, rfc3987_syntax; print(lean)')
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == 'True', r.stderr
    r = subprocess.run([sys.executable, '-c', 'import sys, collapse_repro.core; print("nbformat" in sys.modules)'],
                       capture_output=True, text=True)
    assert r.stdout.strip() == 'False', r.stderr

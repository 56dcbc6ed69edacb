"""Issue 26: no run loses another's results, records a crash as ok, mixes parameters on resume, writes into the source
tree, or publishes a half-written set; typed parameters are parsed to their type. Collision and crash cases use real
subprocesses (and `kill -9`); the refusals run the CLI in-process."""
import ast, json, os, signal, subprocess, sys, time
from pathlib import Path
import nbformat, pytest
from conftest import cli, cli_here, ROOT
from collapse_repro.runner import list_experiments, check_request, get_experiment, publish_figures

def _slow_demo(exps: Path, name='demo', wait=30):
    "Make experiment `name` wait `wait` s in a cell after start_run, having written `started.flag` in its run folder."
    nb = nbformat.read(exps / f'{name}.ipynb', as_version=4)
    src = nb.cells[2].source.split('\n')
    src.insert(3, f"import time; open('started.flag', 'w').close(); time.sleep({wait})")
    nb.cells[2].source = '\n'.join(src)
    nbformat.write(nb, exps / f'{name}.ipynb')

def _start(*args):
    cmd = [sys.executable, '-c', 'import sys; from collapse_repro.cli import main; sys.exit(main())', *map(str, args)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

def _wait_for(path: Path, proc, timeout=120):
    t0 = time.time()
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() - t0 < timeout, f'{path} never appeared'
        time.sleep(0.2)

def _children(pid: int) -> list[int]:
    out = []
    for p in Path('/proc').iterdir():
        if not p.name.isdigit(): continue
        try: stat = (p / 'stat').read_text()
        except OSError: continue
        if int(stat.rsplit(')', 1)[1].split()[1]) == pid: out.append(int(p.name))
    return out

def test_two_fresh_runs_on_one_out_never_collide(demo_env):
    "A run folder is claimed for the whole attempt: a second fresh run (or --resume) is refused, naming the holder."
    _slow_demo(demo_env / 'exps', wait=3)
    out = demo_env / 'c'
    a = _start('run', 'demo', '--profile', 'smoke', '--out', out, '--no-progress')
    _wait_for(out / 'started.flag', a)
    for extra in ([], ['--resume']):
        r = cli_here('run', 'demo', '--profile', 'smoke', '-p', 'seed', '2', '--out', out, '--no-progress', *extra)
        assert r.returncode == 2 and f'pid {a.pid}' in r.stderr and len(r.stderr.strip().split('\n')) == 1, r.stderr
    assert a.wait(timeout=120) == 0, a.communicate()
    res = json.loads((out / 'results.json').read_text())
    assert res['provenance']['params']['seed'] == 0
    rec = json.loads((out / 'run.json').read_text())
    assert rec['params']['seed'] == 0 and [x['status'] for x in rec['attempts']] == ['ok']

def _finished_run(demo_env, out: Path) -> Path:
    "A folder holding what a finished smoke run of the demo leaves (its record, notebook and results), without a run."
    from collapse_repro.runner import resolve_request, write_json, RUN_RECORD
    out.mkdir()
    params = resolve_request(get_experiment('demo'), 'smoke', {})
    write_json(out / RUN_RECORD, dict(experiment='demo', profile='smoke', params=params, requested={},
                                      attempts=[dict(started='2026-01-01T00:00:00', status='ok', wall_s=1.0)]))
    (out / 'demo.ipynb').write_text('{"the good notebook": 1}')
    (out / 'results.json').write_text('{"experiment": "demo", "results": {"mean": 0.5}}')
    return out

def test_a_killed_kernel_is_a_failed_attempt_and_keeps_the_good_notebook(demo_env):
    "kill -9 of the kernel while resuming a finished run: the attempt is recorded failed, the good notebook stays."
    out = _finished_run(demo_env, demo_env / 'd')
    good, good_res = (out / 'demo.ipynb').read_bytes(), (out / 'results.json').read_bytes()
    _slow_demo(demo_env / 'exps', wait=60)
    a = _start('run', 'demo', '--profile', 'smoke', '--out', out, '--resume', '--no-progress')
    _wait_for(out / 'started.flag', a)
    kids = _children(a.pid)
    assert kids, 'no kernel process found'
    for k in kids: os.kill(k, signal.SIGKILL)
    stdout, stderr = a.communicate(timeout=120)
    assert a.returncode == 1, (a.returncode, stderr[-3000:])
    assert 'Traceback' not in stderr and 'FAILED' in stderr, stderr[-3000:]
    assert (out / 'demo.ipynb').read_bytes() == good and (out / 'results.json').read_bytes() == good_res
    rec = json.loads((out / 'run.json').read_text())
    assert [x['status'] for x in rec['attempts']] == ['ok', 'failed'], rec['attempts']

def test_resume_needs_a_run_record(demo_env):
    "Without run.json (or with one that is not a run record) a resume cannot prove what it continues: refused."
    out = _finished_run(demo_env, demo_env / 'd')
    (out / 'run.json').unlink()
    r = cli_here('run', 'demo', '--profile', 'smoke', '--out', out, '--resume', '--no-progress')
    assert r.returncode == 2 and 'run.json' in r.stderr and len(r.stderr.strip().split('\n')) == 1, r.stderr
    (out / 'run.json').write_text('[1, 2]')
    r = cli_here('run', 'demo', '--profile', 'smoke', '--out', out, '--resume', '--no-progress')
    assert r.returncode == 2 and 'run.json' in r.stderr and len(r.stderr.strip().split('\n')) == 1, r.stderr
    r = cli_here('run', 'demo', '--profile', 'smoke', '--out', demo_env / 'nowhere', '--resume', '--no-progress')
    assert r.returncode == 2 and 'does not exist' in r.stderr and not (demo_env / 'nowhere').exists(), r.stderr
    assert not (out / 'started.flag').exists() and (out / 'demo.ipynb').read_text() == '{"the good notebook": 1}'

def test_out_inside_the_source_tree_or_a_foreign_folder_is_refused(demo_env):
    "The experiments' own folder, figures/, the package, or a folder with files no run made: never a run folder."
    exps = demo_env / 'exps'
    before = (exps / 'demo.ipynb').read_bytes()
    for out in (exps, demo_env / 'figures' / 'smoke', ROOT / 'nbs', ROOT / 'collapse_repro' / 'x'):
        r = cli_here('run', 'demo', '--profile', 'smoke', '--out', out, '--no-progress')
        assert r.returncode == 2 and len(r.stderr.strip().split('\n')) == 1, (out, r.stderr)
    assert (exps / 'demo.ipynb').read_bytes() == before and not (ROOT / 'collapse_repro' / 'x').exists()
    mine = demo_env / 'mine'; mine.mkdir(); (mine / 'notes.ipynb').write_text('{}')
    r = cli_here('run', 'demo', '--profile', 'smoke', '--out', mine, '--no-progress')
    assert r.returncode == 2 and 'notes.ipynb' in r.stderr, r.stderr
    assert sorted(p.name for p in mine.iterdir()) == ['notes.ipynb']

def _fake_run(d: Path, tag: str) -> Path:
    d.mkdir(parents=True)
    for name in ('a', 'b'):
        (d / f'{name}.png').write_bytes(f'png {tag}'.encode())
        (d / f'{name}.json').write_text(json.dumps(dict(figure=name, tag=tag)))
    (d / 'results.json').write_text(json.dumps(dict(experiment='demo', tag=tag)))
    return d

def test_publishing_is_all_or_nothing(tmp_path, monkeypatch):
    "A publication that dies half-way leaves the previous set whole: never one run's figure beside another's results."
    import collapse_repro.runner as runner
    fig = tmp_path / 'figures'
    publish_figures(_fake_run(tmp_path / 'r1', 'one'), 'demo', 'smoke', fig, {})
    before = {p.name: p.read_bytes() for p in (fig / 'smoke').iterdir()}
    real, calls = runner.shutil.copy2, []
    def dying(*a, **k):
        calls.append(a)
        if len(calls) == 2: raise OSError(28, 'No space left on device')
        return real(*a, **k)
    monkeypatch.setattr(runner.shutil, 'copy2', dying)
    with pytest.raises(OSError): publish_figures(_fake_run(tmp_path / 'r2', 'two'), 'demo', 'smoke', fig, {})
    assert {p.name: p.read_bytes() for p in (fig / 'smoke').iterdir()} == before
    monkeypatch.setattr(runner.shutil, 'copy2', real)
    publish_figures(tmp_path / 'r2', 'demo', 'smoke', fig, {})
    assert all(b'two' in p.read_bytes() for p in (fig / 'smoke').iterdir()), list((fig / 'smoke').iterdir())

def test_typed_parameters_are_parsed_to_their_type():
    "`-p together false` is False, not the truthy string 'false'; `workers` is an int; a value that does not parse fails."
    from collapse_repro.runner import ExperimentError
    assert check_request(get_experiment('yi_cvae_schedule'), {'together': 'false'}) == {'together': False}
    assert check_request(get_experiment('yi_cvae_schedule'), {'together': 'None'}) == {'together': None}
    for exp in ('yi_xsum_rounds', 'feng_summarization_verifiers'):
        assert check_request(get_experiment(exp), {'workers': '4'}) == {'workers': 4}
        with pytest.raises(ExperimentError): check_request(get_experiment(exp), {'workers': 'many'})
    with pytest.raises(ExperimentError): check_request(get_experiment('yi_cvae_schedule'), {'together': 'maybe'})

def test_every_parameter_has_a_declared_type():
    "No parameter of a real experiment falls back to 'str' for want of a value to infer its type from."
    from collapse_repro.params import _NAMED_TYPES
    for e in list_experiments(ROOT / 'nbs' / 'experiments'):
        for p in e.user_params.values():
            inferred = [v for v in [p.default, *p.by_profile.values()] if v is not None]
            assert inferred or p.name in _NAMED_TYPES, (e.name, p.name)

def test_sigterm_is_recorded_and_status_tells_running_from_killed(demo_env):
    "SIGTERM: one line, exit 143, attempt `terminated`. `status`: `running` (pid, seconds) while held, `killed` after -9."
    out = _finished_run(demo_env, demo_env / 'd')
    _slow_demo(demo_env / 'exps', wait=60)
    a = _start('run', 'demo', '--profile', 'smoke', '--out', out, '--resume', '--no-progress')
    _wait_for(out / 'started.flag', a)
    r = cli_here('status', out)
    assert f'running (pid {a.pid} ' in r.stdout, r.stdout + r.stderr
    a.send_signal(signal.SIGTERM)
    _, stderr = a.communicate(timeout=120)
    lines = [l for l in stderr.strip().split('\n') if l]
    assert a.returncode == 143 and len(lines) == 1 and "terminated" in lines[0], stderr
    assert [x['status'] for x in json.loads((out / 'run.json').read_text())['attempts']] == ['ok', 'terminated']
    (out / 'started.flag').unlink()
    b = _start('run', 'demo', '--profile', 'smoke', '--out', out, '--resume', '--no-progress')
    _wait_for(out / 'started.flag', b)
    kids = _children(b.pid)
    b.kill(); b.wait()
    for k in kids: os.kill(k, signal.SIGKILL)
    r = cli_here('status', out)
    assert 'ok 1.0s, terminated' in r.stdout and r.stdout.rstrip().endswith('killed 0s'), r.stdout + r.stderr

def test_one_line_refusals_before_compute(demo_env, monkeypatch):
    "Values the notebook cannot take, bad options and bad settings: one line naming the problem, exit 2, no run."
    afile = demo_env / 'afile'; afile.write_text('x')
    cases = [(['-p', 'scale', 'inf'], 'finite float'), (['-p', 'scale', '1e400'], 'finite float'),
             (['-p', 'scale', 'nan'], 'finite float'), (['-p', 'scale', 'None'], "'scale' cannot be None"),
             (['-p', 'seed', str(2**32)], "'seed' must be"), (['-p', 'x', '3', '-p', 'x', '4'], '-p x given twice'),
             (['--time-limit', '-5'], '--time-limit'), (['--time-limit', 'nan'], '--time-limit'),
             (['--out', afile / 'sub'], 'is not a folder'), (['--figures-dir', afile, '--publish'], 'is not a folder')]
    for args, expect in cases:
        r = cli_here('run', 'demo', '--profile', 'smoke', '--no-progress', *args)
        lines = [l for l in r.stderr.strip().split('\n') if l]
        assert r.returncode == 2 and len(lines) == 1 and expect in lines[0], (args, r.returncode, r.stderr)
    for var, value in [('COLLAPSE_REPRO_PROFILE', 'fast'), ('COLLAPSE_REPRO_DEVICE', 'warp9')]:
        monkeypatch.setenv(var, value)
        r = cli_here('run', 'demo', '--no-progress')
        assert r.returncode == 2 and var in r.stderr and len(r.stderr.strip().split('\n')) == 1, (var, r.stderr)
        monkeypatch.delenv(var)
    assert not (demo_env / 'runs').exists()

def test_list_carries_on_past_a_damaged_experiment(demo_env):
    "A truncated experiment notebook or published results file: `list` names it and shows the others."
    exps = demo_env / 'exps'
    (exps / 'demo_broken.ipynb').write_text((exps / 'demo_broken.ipynb').read_text()[:200])
    (demo_env / 'figures' / 'smoke').mkdir(parents=True)
    (demo_env / 'figures' / 'smoke' / 'demo_results.json').write_text('{"experiment": "de')
    r = cli_here('list')
    assert r.returncode == 0, r.stderr
    assert 'demo_broken' in r.stdout and 'not a readable notebook' in r.stdout, r.stdout
    assert any(l.startswith('demo ') and 'damaged' in l for l in r.stdout.split('\n')), r.stdout
    r = cli_here('run', 'demo_broken', '--profile', 'smoke')
    assert r.returncode == 2 and 'demo_broken.ipynb is not a readable notebook' in r.stderr, r.stderr
    r = cli_here('report', '--figures-dir', demo_env / 'figures')           # carries on: one warning line, the ledger
    assert r.returncode == 0 and 'demo_results.json (JSONDecodeError)' in r.stderr, r.stderr
    assert len(r.stderr.strip().split('\n')) == 1 and 'claims:' in r.stdout, (r.stderr, r.stdout)

def test_ledger_marks_a_claim_whose_results_file_is_damaged(tmp_path):
    "A truncated published results file: its claims are marked 'not run' with the file named; the others are evaluated."
    from collapse_repro import claims as C
    c = next(c for c in C.CLAIMS if 'quick' in c.profiles)
    f = C.results_path(tmp_path, 'quick', c)
    f.parent.mkdir(parents=True)
    f.write_text('{"experiment": "tr')
    (row,) = [r for r in C.evaluate(c, tmp_path, ['quick']) if r.profile == 'quick']
    assert row.verdict == 'not run' and row.error == f'damaged results file {f.name} (JSONDecodeError)', row

def test_papermill_sees_every_parameter_the_notebook_declares():
    """papermill's own reading of each parameters cell finds every parameter the cell assigns itself; those it imports
    from a shared module (`mnist.params`) papermill cannot see, and the runner's filter drops its warning for exactly
    those names, so 'Passed unknown parameter' still means it."""
    import logging
    from papermill.translators import papermill_translators
    from collapse_repro.params import parse_parameters
    from collapse_repro.runner import _Declared
    import collapse_repro.mnist.params as shared_module
    tr = papermill_translators.find_translator('python', 'python')
    shared = set(parse_parameters(Path(shared_module.__file__).read_text()))
    rec = lambda n: logging.LogRecord('papermill', logging.WARNING, '', 0, f'Passed unknown parameter: {n}', None, None)
    for e in list_experiments(ROOT / 'nbs' / 'experiments'):
        cell = next(c for c in nbformat.read(e.path, as_version=4).cells if 'parameters' in c.metadata.get('tags', []))
        seen = {p.name for p in tr.inspect(cell)}
        missing = [k for k in e.params if k not in seen]
        assert set(missing) <= shared, (e.name, missing)
        assert not any(_Declared(e.params).filter(rec(k)) for k in missing) and _Declared(e.params).filter(rec('nope'))

def _edges(spec, typ):
    "(value, inside?) pairs at the edges of a range domain, for a parameter of type `typ` ('int' or 'float')."
    import re
    from collapse_repro.params import _split_domain
    t, step = _split_domain(spec)[0], (1 if typ == 'int' else 1e-9)
    num = (lambda x: int(float(x))) if typ == 'int' else float
    if t[:1] in '[(':
        lo, hi = map(num, t[1:-1].split(','))
        return [(lo, t[0] == '['), (hi, t[-1] == ']'), (lo - step, False), (hi + step, False)]
    out = []
    for op, x in re.findall(r'(>=|<=|>|<)(-?[0-9.e]+)', t):
        x = num(x)
        out += [(x, '=' in op), (x - step if '>' in op else x + step, False)]
    return out

def test_domain_edges_pass_or_fail_the_pre_check_in_one_line():
    "Every numeric parameter of every experiment, at its domain's edges: accepted inside, one ExperimentError outside."
    from collapse_repro.params import ExperimentError, _item_type
    n = 0
    for e in list_experiments(ROOT / 'nbs' / 'experiments'):
        for p in e.user_params.values():
            typ = _item_type(p) if p.type == 'list' else p.type
            if typ not in ('int', 'float') or p.domain is None or isinstance(p.domain, (list, tuple)): continue
            for v, inside in _edges(p.domain, typ):
                text = repr([v]) if p.type == 'list' else repr(v)
                if inside: assert check_request(e, {p.name: text})[p.name] in (v, [v]), (e.name, p.name, text)
                else:
                    with pytest.raises(ExperimentError): check_request(e, {p.name: text})
                n += 1
    assert n > 100, n

def test_an_experiment_whose_extra_is_missing_is_refused_before_compute(monkeypatch):
    "An LLM experiment on an install without the llm extra: one line saying what to install, exit 2, nothing run."
    from collapse_repro import runner
    monkeypatch.setitem(runner.EXTRAS, 'llm', ('no_such_module_here',))
    r = cli_here('run', 'yi_xsum_rounds', '--profile', 'smoke', '--no-progress')
    assert r.returncode == 2 and "yi_xsum_rounds needs: pip install 'collapse_repro[llm]'" in r.stderr, r.stderr
    assert len(r.stderr.strip().split('\n')) == 1, r.stderr

_NOT_EDGED = {'seed', 'workers', 'threads', 'init_seed'}   # what they change is tested elsewhere (speed, the seed's range)

def edge_request(e) -> dict:
    """Every numeric parameter of experiment `e` at its domain's lowest allowed value (a list: that value, or the two
    lowest allowed where the domain says `increasing`), as `-p` texts; a value that would break one of the notebook's
    `CHECKS` goes back to the profile's."""
    from collapse_repro.params import _item_type, _split_domain, ExperimentError
    from collapse_repro.runner import resolve_request
    out = {}
    for p in e.user_params.values():
        typ = _item_type(p) if p.type == 'list' else p.type
        if p.name in _NOT_EDGED or typ not in ('int', 'float') or p.domain is None or isinstance(p.domain, (list, tuple)):
            continue
        lo = next((v for v, inside in _edges(p.domain, typ) if inside), None)
        if lo is None: continue                                         # an open lower bound: no lowest value
        _, step, rising = _split_domain(p.domain)
        out[p.name] = repr([lo, lo + (step or 1)] if rising else [lo]) if p.type == 'list' else repr(lo)
    def ok(req):
        try: return bool(resolve_request(e, 'smoke', check_request(e, req)))
        except ExperimentError: return False
    for expr in e.checks:
        if ok(out): break
        names = [n.id for n in ast.walk(ast.parse(expr, mode='eval')) if isinstance(n, ast.Name) and n.id in out]
        out = next(({k: v for k, v in out.items() if k != n} for n in names if ok({k: v for k, v in out.items() if k != n})),
                   {k: v for k, v in out.items() if k not in names})
    return out

@pytest.mark.parametrize('name', [e.name for e in list_experiments(ROOT / 'nbs' / 'experiments')])
def test_smoke_notebook_runs_at_its_domain_edges(name, tmp_path, monkeypatch):
    """Each experiment's notebook, run end to end at the smoke profile with every numeric parameter at the lowest value
    its domain allows: the domains describe what the code accepts (a value they let through never fails in the kernel)."""
    monkeypatch.setenv('COLLAPSE_REPRO_FIGURES', str(tmp_path / 'figures')); monkeypatch.delenv('IN_TEST', raising=False)
    e = get_experiment(name)
    if e.needs: pytest.importorskip('transformers')
    req = edge_request(e)
    assert req, f'{name} declares no numeric domain to test'
    args = [a for k, v in req.items() for a in ('-p', k, v)]
    r = cli_here('run', name, '--profile', 'smoke', '--no-progress', '--out', tmp_path / 'run', *args)
    assert r.returncode == 0, (name, args, r.stderr[-2000:])

import os, re, sys, subprocess
from pathlib import Path
import pytest

if os.environ.get('PYTEST_XDIST_WORKER'):
    # `make test` runs pytest on two xdist workers: one thread each (torch in-process, and the kernels and commands the
    # tests start, which inherit the variable) so that two workers do not oversubscribe two cores.
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    os.environ.setdefault('MKL_NUM_THREADS', '1')

from collapse_repro.runner import write_demo_experiment

ROOT = Path(__file__).resolve().parents[1]

@pytest.fixture
def demo_env(tmp_path, monkeypatch):
    "A folder of demo experiments (one that works, one that fails) with runs and figures redirected into tmp_path."
    exps = tmp_path / 'exps'; exps.mkdir()
    write_demo_experiment(exps); write_demo_experiment(exps, 'demo_broken', fail=True)
    monkeypatch.setenv('COLLAPSE_REPRO_EXPERIMENTS', str(exps))
    monkeypatch.setenv('COLLAPSE_REPRO_RUNS', str(tmp_path / 'runs'))
    monkeypatch.setenv('COLLAPSE_REPRO_FIGURES', str(tmp_path / 'figures'))
    monkeypatch.delenv('IN_TEST', raising=False)
    return tmp_path

def cli(*args, env=None):
    "Run the console command in a subprocess, as a user would."
    cmd = [sys.executable, '-c', 'import sys; from collapse_repro.cli import main; sys.exit(main())', *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env or os.environ.copy(), timeout=600)

def cli_here(*args):
    """The console command's `main` in this process (exit code, stdout, stderr as `cli` returns them): for the checks
    that refuse before any compute, where a fresh interpreter per call (≈ 2 s of imports) would dominate the test."""
    import contextlib, io
    from collapse_repro.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try: rc = main([str(a) for a in args])
        except SystemExit as e: rc = e.code if isinstance(e.code, int) else 1     # argparse's own errors
    return subprocess.CompletedProcess(args, rc, out.getvalue(), err.getvalue())


_DATA_SKIP = re.compile(r'MNIST|XSUM|data|tokenizer', re.I)

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    "In CI (CI set), where the data are always present, a test skipped for missing data is a failure, not a silent skip."
    outcome = yield
    rep = outcome.get_result()
    if rep.skipped and os.environ.get('CI') and _DATA_SKIP.search(str(rep.longrepr)):
        rep.outcome = 'failed'
        rep.longrepr = f'skipped for missing data in CI, where the data must be present: {rep.longrepr}'

@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """`--dist loadgroup` (make test) keeps each `xdist_group` on one worker by a suffix on the test's id. pytest 9 reads
    a node's id from `_id`, while pytest-xdist 3.8 still writes the suffix to `_nodeid`, so the groups were silently
    ignored and every module fixture meant to be built once (the staged site, the wheel, the LLM stand-in, the device
    bundle) was built on both workers. Add the suffix where pytest reads it, on the workers, when xdist has not."""
    if not getattr(config.option, 'loadgroup', False) or not items or not hasattr(items[0], '_id'): return
    from _pytest.nodes import coerce_node_id
    for item in items:
        names = sorted({str(m.args[0] if m.args else m.kwargs.get('name', 'default')) for m in item.iter_markers('xdist_group')})
        if names and '@' not in item.nodeid: item._id = coerce_node_id(f"{item.nodeid}@{'_'.join(names)}")

"A wheel carries the module, the console command and the experiment notebooks (so `collapse-repro run` works outside a checkout)."
import os, subprocess, sys, zipfile
import pytest
from pathlib import Path
from conftest import ROOT

pytestmark = pytest.mark.xdist_group('test_packaging')   # its module fixture is built once: keep its tests on one xdist worker
@pytest.fixture(scope='module')
def whl(tmp_path_factory):
    "The wheel built from this checkout (once for the module)."
    d = tmp_path_factory.mktemp('wheel')
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', str(ROOT), '-w', str(d)],
                   check=True, capture_output=True, cwd=ROOT)
    (w,) = d.glob('collapse_repro-*.whl')
    return w

def test_wheel_ships_module_command_and_experiments(whl):
    names = zipfile.ZipFile(whl).namelist()
    for mod in ('core', 'params', 'runner', 'cli', 'loop', 'devicecheck', 'claims/__init__', 'claims/rules', 'claims/extract',
                'claims/papers', 'claims/render'): assert f'collapse_repro/{mod}.py' in names
    for sub in ('linreg', 'gmm', 'eigen', 'mnist'): assert f'collapse_repro/{sub}/__init__.py' in names   # the task subpackages
    shipped = {Path(n).name for n in names if n.startswith('collapse_repro/experiments/')}
    assert shipped == {p.name for p in (ROOT / 'nbs' / 'experiments').glob('*.ipynb')}
    studies = {Path(n).name for n in names if n.startswith('collapse_repro/assets/studies/')}   # data.study_results
    assert studies and studies == {p.name for p in (ROOT / 'collapse_repro' / 'assets' / 'studies').glob('*.json')}
    results = {n.split('published/', 1)[1] for n in names if n.startswith('collapse_repro/published/')}
    ledger_inputs = [f for p in ('quick', 'gpu', 'paper') for g in ('*.json', '*/*.json') for f in (ROOT / 'figures' / p).glob(g)]
    assert results == {str(p.relative_to(ROOT / 'figures')) for p in ledger_inputs} | {'CLAIMS.md'}
    entry = next(n for n in names if n.endswith('entry_points.txt'))
    assert 'collapse-repro = collapse_repro.cli:main' in zipfile.ZipFile(whl).read(entry).decode()
    meta = zipfile.ZipFile(whl).read(next(n for n in names if n.endswith('METADATA'))).decode()
    status = dict(l.split(' = ', 1) for l in (ROOT / 'settings.ini').read_text().splitlines() if ' = ' in l)['status']
    assert f'Development Status :: {status} - ' in meta, 'metadata and settings.ini disagree on the development status'
    assert any(n.endswith('/LICENSE') or n.endswith('licenses/LICENSE') for n in names), 'the wheel carries no LICENSE'

def test_no_extra_brings_torchvision(whl):
    """Item 2 of issue 29: no extra may replace an installed torch. PyPI's torchvision pins its own torch (0.29 needs
    2.14) and does not import on a CPU torch, and torch-fidelity / torchmetrics[image] require it, so none of them is in
    any extra (README says how to get Inception-FID)."""
    names = zipfile.ZipFile(whl).namelist()
    meta = zipfile.ZipFile(whl).read(next(n for n in names if n.endswith('METADATA'))).decode()
    reqs = [l.split(':', 1)[1].strip() for l in meta.splitlines() if l.startswith('Requires-Dist:')]
    assert {l.split(':', 1)[1].strip() for l in meta.splitlines() if l.startswith('Provides-Extra:')} == {'llm', 'dev'}
    bad = [r for r in reqs if any(x in r.lower() for x in ('torchvision', 'torch-fidelity', 'torch_fidelity', '[image]'))]
    assert not bad, bad
    assert [r for r in reqs if r.split(';')[0].strip().startswith('torch')] == ['torch>=2.4'], reqs

def test_version_flag(capsys):
    import pytest
    from collapse_repro import __version__
    from collapse_repro.cli import main
    with pytest.raises(SystemExit) as e: main(['--version'])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f'collapse-repro {__version__}'

def test_target_install_lists_reports_and_runs_from_an_empty_folder(whl, tmp_path):
    """`pip install --target` into a folder on PYTHONPATH, used from an empty directory: `list` finds the shipped
    experiments and results, `report` shows the ledger, a smoke run finishes and is published into ./figures, and
    then `list` and `report --profile smoke` show it over the shipped results, marked as the user's. A sitecustomize
    there hides this checkout's editable install (a meta-path finder that would otherwise win), in the kernel too."""
    site, work = tmp_path / 'site', tmp_path / 'empty'
    work.mkdir()
    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps', '--target', str(site), str(whl)],
                   check=True, capture_output=True)
    (site / 'sitecustomize.py').write_text(
        "import sys\nsys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]\n")
    env = {k: v for k, v in os.environ.items() if k not in ('COLLAPSE_REPRO_EXPERIMENTS', 'COLLAPSE_REPRO_FIGURES')}
    env['PYTHONPATH'] = str(site)
    def cr(*args):
        return subprocess.run([sys.executable, '-c', 'import sys; from collapse_repro.cli import main; '
                               'sys.exit(main(sys.argv[1:]))', *args], cwd=work, env=env, capture_output=True, text=True)
    where = subprocess.run([sys.executable, '-c', 'import collapse_repro; print(collapse_repro.__file__)'], cwd=work,
                           env=env, capture_output=True, text=True).stdout
    assert where.startswith(str(site)), where
    study = subprocess.run([sys.executable, '-c', "from collapse_repro.data import study_results; "
                            "print(sorted(study_results('cvae_rule_study_20261206')['points']))"],
                           cwd=work, env=env, capture_output=True, text=True)       # a study's results, from the wheel
    assert study.returncode == 0 and 'e60|filtered' in study.stdout, study.stderr[-800:]
    r = cr('list')
    assert r.returncode == 0 and str(site / 'collapse_repro' / 'experiments') in r.stdout, (r.stdout, r.stderr)
    assert 'shipped with the package' in r.stdout and 'feng_phase_transition' in r.stdout, r.stdout
    r = cr('report')
    assert r.returncode == 0 and 'claims:' in r.stdout and 'reproduced' in r.stdout, (r.stdout[-500:], r.stderr)
    r = cr('run', 'feng_phase_transition', '--profile', 'smoke', '--no-progress', '--out', 'runs/fpt', '--publish')
    assert r.returncode == 0 and (work / 'runs' / 'fpt' / 'results.json').exists(), (r.stdout[-800:], r.stderr[-800:])
    assert (work / 'figures' / 'smoke' / 'feng_phase_transition_results.json').exists()    # published into ./figures
    r = cr('list')                                  # the user's run laid over the shipped ones, marked as theirs
    (row,) = [l for l in r.stdout.split('\n') if l.startswith('feng_phase_transition ')]
    assert r.returncode == 0 and 'laid over them' in r.stdout and 'smoke' in row and '(yours)' in row, r.stdout
    r = cr('report', '--profile', 'smoke')          # a smoke-only ledger, labelled as smoke
    (step,) = [l for l in r.stdout.split('\n') if l.startswith('feng.phase.step ')]
    assert r.returncode == 0 and 'smoke: every experiment at toy sizes' in r.stdout, (r.stdout[-500:], r.stderr)
    assert ' smoke ' in step and ' yours ' in step, step

"""The studies (issue 27): their outputs that experiment notebooks show ship with the package and are read through it
(`data.study_results`), `data.STUDIES`, the package data and `studies/README.md` agree, and the scripts' command lines
still parse from their new home."""
import json, os, subprocess, sys
import pytest
from collapse_repro import data
from conftest import ROOT

ASSETS = ROOT / 'collapse_repro' / 'assets' / 'studies'
README = (ROOT / 'studies' / 'README.md').read_text(encoding='utf-8')

def test_shipped_study_files_are_the_known_studies():
    "Every file in assets/studies is a study of `STUDIES` and the other way round; each is small JSON the README names."
    assert {f.stem for f in ASSETS.glob('*.json')} == set(data.STUDIES)
    for f in ASSETS.glob('*.json'):
        assert f.stat().st_size < 200_000, f'{f.name}: package data must stay small'
        assert f'collapse_repro/assets/studies/{f.name}' in README, f'studies/README.md does not name {f.name}'
        assert isinstance(json.loads(f.read_text(encoding='utf-8')), dict)

def test_study_results_reads_each_through_the_package():
    for name in data.STUDIES:
        assert data.study_results(name) == json.loads((ASSETS / f'{name}.json').read_text(encoding='utf-8'))
    assert 'e60|filtered' in data.study_results('cvae_rule_study_20261206')['points']
    from collapse_repro.core import study_results
    assert study_results is data.study_results                 # core re-exports data's public names

def test_missing_or_unknown_study_names_it_and_its_command(monkeypatch):
    monkeypatch.setitem(data.STUDIES, 'demo_19990101', 'python studies/demo.py --out X')
    with pytest.raises(data.DataError, match=r"study 'demo_19990101'.*`python studies/demo\.py --out X`"):
        data.study_results('demo_19990101')
    with pytest.raises(FileNotFoundError, match="unknown study 'nope'"): data.study_results('nope')

def test_each_study_command_names_a_script_that_exists_and_the_readme_lists():
    for f in (ROOT / 'studies').glob('*.py'): assert f'python studies/{f.name}' in README, f.name
    for name, cmd in data.STUDIES.items():
        if cmd.startswith('python '): assert (ROOT / cmd.split()[1]).is_file(), (name, cmd)
        assert f'collapse_repro/assets/studies/{name}.json' in cmd or 'copy' in cmd, (name, cmd)

@pytest.mark.parametrize('script', ['cvae_quick_search.py', 'eigen_seeds.py', 'eigen_student_spread.py'])
def test_study_scripts_parse_their_command_line(script):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    r = subprocess.run([sys.executable, ROOT / 'studies' / script, '--help'], capture_output=True, text=True, env=env,
                       cwd=ROOT, timeout=300)
    assert r.returncode == 0 and 'usage:' in r.stdout, r.stderr[-800:]

def test_experiment_notebooks_read_no_repository_path():
    "The figure notebooks read a study's output through the package, never by a path from the package's file."
    for nb in (ROOT / 'nbs' / 'experiments').glob('*.ipynb'):
        for c in json.loads(nb.read_text(encoding='utf-8'))['cells']:
            if c['cell_type'] != 'code': continue
            src = ''.join(c['source'])
            assert '__file__' not in src and 'parents[' not in src, (nb.name, src[:200])
            assert 'studies/' not in src and "'studies'" not in src, (nb.name, src[:200])

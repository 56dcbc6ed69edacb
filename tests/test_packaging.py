"A wheel carries the module, the console command and the experiment notebooks (so `collapse-repro run` works outside a checkout)."
import subprocess, sys, zipfile
from pathlib import Path
from conftest import ROOT

def test_wheel_ships_module_command_and_experiments(tmp_path):
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', str(ROOT), '-w', str(tmp_path)],
                   check=True, capture_output=True, cwd=ROOT)
    (whl,) = tmp_path.glob('collapse_repro-*.whl')
    names = zipfile.ZipFile(whl).namelist()
    for mod in ('core', 'runner', 'cli', 'loop', 'claims'): assert f'collapse_repro/{mod}.py' in names
    shipped = {Path(n).name for n in names if '/share/collapse_repro/experiments/' in n}
    assert shipped == {p.name for p in (ROOT / 'nbs' / 'experiments').glob('*.ipynb')}
    entry = next(n for n in names if n.endswith('entry_points.txt'))
    assert 'collapse-repro = collapse_repro.cli:main' in zipfile.ZipFile(whl).read(entry).decode()
    meta = zipfile.ZipFile(whl).read(next(n for n in names if n.endswith('METADATA'))).decode()
    status = dict(l.split(' = ', 1) for l in (ROOT / 'settings.ini').read_text().splitlines() if ' = ' in l)['status']
    assert f'Development Status :: {status} - ' in meta, 'metadata and settings.ini disagree on the development status'
    assert any(n.endswith('/LICENSE') or n.endswith('licenses/LICENSE') for n in names), 'the wheel carries no LICENSE'

def test_version_flag(capsys):
    import pytest
    from collapse_repro import __version__
    from collapse_repro.cli import main
    with pytest.raises(SystemExit) as e: main(['--version'])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f'collapse-repro {__version__}'

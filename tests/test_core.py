"Core behaviour: same seed, same results (on CPU); provenance; data directory errors."
import json, os
from conftest import cli
from collapse_repro import core

def test_same_seed_gives_identical_results(demo_env):
    outs = []
    for name in ('a', 'b', 'c'):
        seed = '1' if name != 'c' else '2'
        assert cli('run', 'demo', '--profile', 'smoke', '-p', 'seed', seed, '--out', demo_env / name, '--no-progress').returncode == 0
        outs.append(json.loads((demo_env / name / 'results.json').read_text())['results'])
    assert outs[0] == outs[1] and outs[0] != outs[2]

def test_missing_data_file_error_names_file_dir_and_remedy(tmp_path, monkeypatch):
    monkeypatch.setenv('COLLAPSE_REPRO_DATA', str(tmp_path))
    monkeypatch.setenv('COLLAPSE_REPRO_OFFLINE', '1')
    try: core.data_file('mnist/train-images-idx3-ubyte.gz', urls=['https://example.org/x.gz']); raise AssertionError('no error')
    except core.DataError as e:
        msg = str(e)
    assert 'train-images-idx3-ubyte.gz' in msg and str(tmp_path) in msg and 'COLLAPSE_REPRO_DATA' in msg and 'downloads are off' in msg

def test_data_dir_defaults_to_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv('COLLAPSE_REPRO_DATA', raising=False); monkeypatch.delenv('COLLAPSE_REPRO_CACHE', raising=False)
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path))
    assert core.data_dir() == tmp_path / 'collapse_repro' / 'data'

def test_device_override(monkeypatch):
    "$COLLAPSE_REPRO_DEVICE wins over the automatic choice (the meta device is one the automatic choice never makes)."
    monkeypatch.setenv('COLLAPSE_REPRO_DEVICE', 'meta')
    assert core.get_device().type == 'meta'
    monkeypatch.setenv('COLLAPSE_REPRO_DEVICE', 'cpu')
    assert core.get_device().type == 'cpu'

def test_profile_resolution(monkeypatch):
    monkeypatch.delenv('IN_TEST', raising=False); monkeypatch.delenv('COLLAPSE_REPRO_PROFILE', raising=False)
    assert core.default_profile() == 'quick'
    monkeypatch.setenv('IN_TEST', '1'); assert core.default_profile() == 'smoke'

def _write_many(path, n=200):
    from collapse_repro.core import write_json
    for i in range(n): write_json(path, dict(writer=os.getpid(), i=i))

def test_write_json_survives_concurrent_writers(tmp_path):
    "Two runs started together both write the shared kernel spec: neither may crash, the file must stay whole."
    from concurrent.futures import ProcessPoolExecutor
    path = tmp_path / 'shared.json'
    with ProcessPoolExecutor(4) as ex: list(ex.map(_write_many, [path] * 4))
    assert json.loads(path.read_text())['i'] == 199 and not list(tmp_path.glob('*.tmp'))

def test_a_changed_paper_profile_is_not_labelled_paper_scale(demo_env):
    "Shrinking a paper-profile parameter must not yield results or figures that claim paper scale."
    for name, extra in (('full', []), ('small', ['-p', 'x', '50'])):
        assert cli('run', 'demo', '--profile', 'paper', *extra, '--out', demo_env / name, '--no-progress').returncode == 0
    full, small = (json.loads((demo_env / n / 'results.json').read_text())['provenance'] for n in ('full', 'small'))
    assert full['scale'] == 'paper scale' and full['overrides'] == []
    assert small['overrides'] == ['x'] and 'not the paper configuration' in small['scale']
    sidecars = [json.loads(p.read_text()) for p in (demo_env / 'small').glob('*.json') if p.name not in ('results.json', 'run.json')]
    assert sidecars and all(s['scale'] == small['scale'] for s in sidecars)

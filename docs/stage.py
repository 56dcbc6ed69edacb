"""Stage the tutorial site's pages into a Sphinx source folder (`make docs` runs this, then sphinx-build -c docs).

    python docs/stage.py _docs/src

Pages, in the tutorial's reading order (the toctrees appended to the landing page):
- `index`: nbs/index.ipynb, the landing page;
- `lib/NN_name`: the library notebooks nbs/NN_*.ipynb, with the outputs `make test` kept for them
  (tools/nbdev_test_keep.py, while their code is unchanged), else executed by myst-nb during the build (IN_TEST: smoke);
- `experiments/EXP-PROFILE` (experiments in READING_ORDER): the notebook as executed by the committed PROFILE run, figures/PROFILE/EXP.ipynb (never
  re-run); `experiments/EXP`: the cleaned source notebook plus its published figures, for an experiment that has
  published runs without a kept executed notebook (or no published run at all), saying so;
- `claims`: the claims ledger, figures/CLAIMS.md;
- `api/MODULE`: the API reference of each exported module (sphinx autodoc), in notebook order.

Files are written only when their content changed, so that Sphinx rebuilds only what changed."""
import json, os, re, sys
from pathlib import Path
import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / 'tools')]   # the package (`stage`) and tools/ (`kept_outputs`), from a checkout
from nbdev_test_keep import EXECUTED, code_hash   # where `make test` keeps the library notebooks' outputs, and their key
NBS = ROOT / 'nbs'
FIGURES = Path(os.environ.get('COLLAPSE_REPRO_FIGURES') or ROOT / 'figures')   # as the runner publishes into
PROFILE_ORDER = ('smoke', 'quick', 'gpu', 'paper')
# The experiments in the tutorial's reading order: by paper (Yi et al., then Feng et al.), within a paper in the order
# of README's experiments table (theory, then the neural experiments). An experiment missing here comes last.
READING_ORDER = ('yi_linreg_one_round', 'yi_linreg_long_run', 'yi_gaussian_toolkit', 'yi_cvae_schedule',
                 'yi_cvae_verifier_quality', 'yi_cvae_initial_size', 'yi_xsum_rounds',
                 'feng_phase_transition', 'feng_scaling', 'feng_p_star_proxy', 'feng_eigen', 'feng_summarization_verifiers')

def write_if_changed(path: Path, data) -> Path:
    data = data.encode() if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_bytes() != data: path.write_bytes(data)
    return path

def write_nb(nb, path: Path) -> Path: return write_if_changed(path, nbformat.writes(nb) + '\n')

def copy_if_changed(src: Path, dest: Path) -> Path: return write_if_changed(dest, src.read_bytes())

def md(text: str): return nbformat.v4.new_markdown_cell(text)

def library_notebooks() -> list[Path]:
    "nbs/NN_*.ipynb in their numbered (reading) order."
    return sorted(p for p in NBS.glob('*.ipynb') if re.match(r'\d\d_', p.name))

def module_of(nb_path: Path) -> str | None:
    "The module a library notebook exports (its `#| default_exp`), or None."
    m = re.search(r'#\|\s*default_exp\s+([\w.]+)', nb_path.read_text())
    return m.group(1) if m else None

def prepare_library(nb):
    "nbdev directives become myst-nb tags: the `default_exp` cell is removed, `#|` lines are dropped from the code shown."
    for c in nb.cells:
        if c.cell_type != 'code': continue
        lines = c.source.split('\n')
        if any(re.match(r'#\|\s*default_exp', l) for l in lines): c.metadata.setdefault('tags', []).append('remove-cell')
        c.source = '\n'.join(l for l in lines if not l.startswith('#|')).strip('\n')
        c.outputs, c.execution_count = [], None
    return nb

def kept_outputs(nb, src: Path) -> bool:
    """Give `nb` (staged from `src`) the outputs `make test` kept for `src`, if its code is unchanged since, and mark it
    not to be executed again; False (nb untouched: myst-nb executes it) when there are none or they are stale."""
    kept = EXECUTED / src.name
    if not kept.exists(): return False
    k = json.loads(kept.read_text())
    if k['metadata'].get('collapse_repro_code_hash') != code_hash(json.loads(src.read_text())['cells']): return False
    outs = {c.get('id'): c for c in k['cells'] if c['cell_type'] == 'code'}
    for c in nb.cells:
        if c.cell_type == 'code' and c.get('id') in outs:
            c.outputs = [nbformat.from_dict(o) for o in outs[c['id']].get('outputs', [])]
            c.execution_count = outs[c['id']].get('execution_count')
    nb.metadata['mystnb'] = dict(execution_mode='off')
    return True

def title_cell(nb) -> int:
    "Index of the first markdown cell (the notebook's `# Title` / `> description`)."
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == 'markdown')

def tidy_frontmatter(nb):
    "The `- key: \"value\"` lines under an experiment's title (nbdev's YAML frontmatter) shown as `key: value`."
    i = title_cell(nb)
    nb.cells[i].source = re.sub(r'^- (\w+): "(.*)"\s*$', lambda m: f'- **{m.group(1)}:** ' + m.group(2).replace('\\"', '"'),
                                nb.cells[i].source, flags=re.M)

def retitle(nb, suffix: str):
    i = title_cell(nb)
    nb.cells[i].source = re.sub(r'^(#\s+.*)$', lambda m: m.group(1) + suffix, nb.cells[i].source, count=1, flags=re.M)

def published_files(exp: str, names: list[str]) -> dict[str, list[Path]]:
    "profile -> the top-level files figures/<profile>/ publishes for `exp` (not those of a longer experiment name)."
    longer = [n for n in names if n != exp and n.startswith(exp + '_')]
    out = {}
    for prof in sorted((p for p in FIGURES.iterdir() if p.is_dir()), key=lambda p: (PROFILE_ORDER + (p.name,)).index(p.name)):
        files = [f for f in sorted(prof.iterdir()) if f.is_file() and (f.name == f'{exp}.ipynb' or f.name.startswith(exp + '_'))
                 and not any(f.name.startswith(n + '_') or f.name == f'{n}.ipynb' for n in longer)]
        if files: out[prof.name] = files
    return out

def provenance_line(results: Path) -> str:
    "Commit, device and wall time of a published run, from its results.json (empty if unknown)."
    if not results.exists(): return ''
    res = json.loads(results.read_text()); prov = res.get('provenance') or {}; run = res.get('runner') or {}
    bits = []
    if prov.get('git_commit'): bits.append(f"commit `{prov['git_commit'][:10]}`")
    dev = prov.get('device')
    if isinstance(dev, dict): dev = dev.get('gpu') or dev.get('device')
    if dev: bits.append(f'device {dev}')
    wall = run.get('run_wall_time_s', prov.get('wall_time_s'))
    if wall is not None: bits.append(f'{wall:.0f} s of wall time')
    return ', '.join(bits)

def stage_experiment(exp, names, dest: Path) -> list[str]:
    "The pages of one experiment (their docnames): one per profile with an executed notebook, else/also the source page."
    pub = published_files(exp.name, names); pages = []
    missing = [p for p, files in pub.items() if not any(f.suffix == '.ipynb' for f in files)]
    for prof, files in pub.items():
        executed = FIGURES / prof / f'{exp.name}.ipynb'
        if not executed.exists(): continue
        nb = nbformat.read(executed, as_version=4)
        retitle(nb, f' ({prof} run)'); tidy_frontmatter(nb)
        prov = provenance_line(FIGURES / prof / f'{exp.name}_results.json')
        nb.cells.insert(title_cell(nb) + 1, md(
            f'```{{note}}\nThis page is the notebook as executed by the committed `{prof}` run '
            f'(`figures/{prof}/{exp.name}.ipynb`{"; " + prov if prov else ""}); it is not re-run to build the site. '
            f'Rerun it with `collapse-repro run {exp.name} --profile {prof}`.\n```'))
        write_nb(nb, dest / f'{exp.name}-{prof}.ipynb'); pages.append(f'experiments/{exp.name}-{prof}')
    if missing or not pub:
        nb = nbformat.read(exp.path, as_version=4)
        tidy_frontmatter(nb)
        for c in nb.cells:
            if c.cell_type == 'code': c.outputs, c.execution_count = [], None
        if pub:
            which = ', '.join(f'`{p}`' for p in missing)
            note = (f'The executed notebook of the published {which} run{"s" if len(missing) > 1 else ""} of this experiment is '
                    f'absent (`figures/<profile>/{exp.name}.ipynb`: published before the runner kept it). Below is the '
                    f'source notebook, not executed, and at the end the figures that run published.')
        else: note = 'No run of this experiment is published yet. Below is the source notebook, not executed.'
        nb.cells.insert(title_cell(nb) + 1, md(f'```{{warning}}\n{note}\n```'))
        if missing:
            nb.cells.append(md('## Published figures\n\nThe figures of the published runs (`figures/<profile>/`), '
                               'with their provenance sidecars beside them in the repository.'))
            for prof in missing:
                imgs = [f for f in pub[prof] if f.suffix == '.png']
                prov = provenance_line(FIGURES / prof / f'{exp.name}_results.json')
                text = [f'### Profile `{prof}`' + (f'\n\n{prov}.' if prov else '')]
                for f in imgs:
                    copy_if_changed(f, dest / 'figures' / prof / f.name)
                    text.append(f'![{f.stem}](figures/{prof}/{f.name})\n\n`figures/{prof}/{f.name}`')
                if not imgs: text.append('(no figure)')
                nb.cells.append(md('\n\n'.join(text)))
        write_nb(nb, dest / f'{exp.name}.ipynb'); pages.append(f'experiments/{exp.name}')
    return pages

def api_page(module: str, nb_page: str) -> str:
    head = f'``collapse_repro.{module}``'
    return (f'{head}\n{"=" * len(head)}\n\nExported by :doc:`../{nb_page}`, where each function is derived and tested.\n\n'
            f'.. automodule:: collapse_repro.{module}\n   :members:\n   :undoc-members:\n   :show-inheritance:\n')

def reading_order(exps):
    "`exps` (anything with a `.name`) in READING_ORDER; those it does not name after them, alphabetically."
    return sorted(exps, key=lambda e: (READING_ORDER.index(e.name) if e.name in READING_ORDER else len(READING_ORDER), e.name))

def toctree(caption: str, pages: list[str]) -> str:
    return f'```{{toctree}}\n:caption: {caption}\n:maxdepth: 1\n\n' + '\n'.join(pages) + '\n```'

def stage(dest: Path) -> dict[str, list[str]]:
    from collapse_repro.runner import list_experiments
    dest = Path(dest); dest.mkdir(parents=True, exist_ok=True)
    lib, api = [], []
    for p in library_notebooks():
        nb = prepare_library(nbformat.read(p, as_version=4))
        kept_outputs(nb, p)
        write_nb(nb, dest / 'lib' / p.name)
        lib.append(f'lib/{p.stem}')
        if (mod := module_of(p)):
            write_if_changed(dest / 'api' / f'{mod}.rst', api_page(mod, f'lib/{p.stem}')); api.append(f'api/{mod}')
    exps = reading_order(list_experiments())
    names, exp_pages = [e.name for e in exps], []
    for e in exps: exp_pages += stage_experiment(e, names, dest / 'experiments')
    copy_if_changed(FIGURES / 'CLAIMS.md', dest / 'claims.md')
    toc = dict(lib=lib, experiments=exp_pages, results=['claims'], api=api)
    index = prepare_library(nbformat.read(NBS / 'index.ipynb', as_version=4))
    index.cells.append(md('## Contents\n\n' + '\n\n'.join([
        toctree('Library notebooks', lib), toctree('Experiments', exp_pages),
        toctree('Does it reproduce?', ['claims']), toctree('API reference', api)])))
    write_nb(index, dest / 'index.ipynb')
    # whatever an earlier staging left that is no longer a page (a renamed notebook, an experiment now executed)
    keep = {dest / f'{d}{s}' for d in ['index'] + sum(toc.values(), []) for s in ('.ipynb', '.md', '.rst')}
    for f in list(dest.rglob('*')):
        if f.is_file() and f.suffix in ('.ipynb', '.md', '.rst') and f not in keep: f.unlink()
    write_if_changed(dest / 'toc.json', json.dumps(toc, indent=1))
    return toc

if __name__ == '__main__':
    toc = stage(Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / '_docs' / 'src'))
    print(f"staged {sum(map(len, toc.values())) + 1} pages: " + ', '.join(f'{k} {len(v)}' for k, v in toc.items()))

"""Stage the tutorial site's pages into a Sphinx source folder (`make docs` runs this, then sphinx-build -c docs).

    python docs/stage.py _docs/src

Pages, in the tutorial's reading order (the toctrees appended to the landing page, PARTS): each paper's theory chapter
followed by its experiments, then the neural experiments each beside its library chapter, the ledger, and last "How the
package works" (in the layers' order: params, data, provenance, plotting, core, publish, run folders, runner, command
line, selection, loop, job state, jobs, claims) and the API reference:
- `index`: nbs/index.ipynb, the landing page, with the experiment table generated from the ledger (`landing_table`);
- `lib/NN_name`: the library notebooks nbs/NN_*.ipynb, with the outputs `make test` kept for them
  (tools/nbdev_test_keep.py, while their code is unchanged), else executed by myst-nb during the build (IN_TEST: smoke);
- `experiments/EXP` (experiments in READING_ORDER), one page per experiment: its title, the paper's claims and their
  verdicts (`verdict_box`, from the claims ledger), the figures of every profile that ran, each with one provenance
  line (`figures_section`; figures/superseded/ is not read), then the notebook as executed by the largest committed
  run that kept it, figures/PROFILE/EXP.ipynb (never re-run, except its cells tagged `study`, which read only the
  package's shipped studies and are executed afresh, `refresh_studies`; parameters collapsed, no machine path in its outputs), and
  at the end what the other executed runs printed (`run_numbers`); without any kept executed notebook, the cleaned
  source notebook, saying so;
- `claims`: the claims ledger, grouped by experiment (`claims_page`; figures/CLAIMS.md has the full table);
- `api/MODULE`: the API reference of each exported module (sphinx autodoc), in notebook order.

Files are written only when their content changed, so that Sphinx rebuilds only what changed."""
import dataclasses, html, json, os, re, sys
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

# The landing page's reading order: a paper's theory chapter, then its experiments; the neural experiments each after
# their library chapter; last, how the package works. A library notebook missing here goes under "How the package
# works".
PARTS = (('Yi et al.: verification escapes collapse (theory)',
          ('10_linreg', '11_linreg_truncnorm', '12_linreg_theory', '13_linreg_simulate', '14_linreg_toolkit',
           'yi_linreg_one_round', 'yi_linreg_long_run', 'yi_gaussian_toolkit')),
         ('Feng et al.: the breakdown point (theory)',
          ('20_gmm', '21_gmm_mixture', '22_gmm_verifiers', '23_gmm_learner', '24_gmm_breakdown', '25_gmm_simulate',
           'feng_phase_transition', 'feng_scaling', 'feng_p_star_proxy', '70_own_verifier')),
         ('Neural experiments', ('30_mnist', '31_mnist_data', '32_mnist_cvae', '33_mnist_discriminator',
                                 '34_mnist_together', '35_mnist_filtering', '36_mnist_metrics', '37_mnist_stages',
                                 '38_mnist_conditions', '39_mnist_params', 'yi_cvae_schedule', 'yi_cvae_verifier_quality',
                                 'yi_cvae_initial_size', '40_eigen', '41_eigen_encoding', '42_eigen_model',
                                 '43_eigen_train', '44_eigen_inference', '45_eigen_verify', '46_eigen_pipeline',
                                 '47_eigen_seeds', 'feng_eigen', '50_llm', '51_llm_model', '52_llm_data',
                                 '53_llm_train', '54_llm_generation', '55_llm_score', '56_llm_task', '57_llm_stages',
                                 '58_llm_main', 'yi_xsum_rounds', 'feng_summarization_verifiers')),
         ('Does it reproduce?', ('claims',)),
         ('How the package works', ('01_params', '01_data', '01_provenance', '01_plotting', '00_core', '01_publish',
                                    '01_rundir', '01_runner', '02_cli', '03_selection', '03_loop', '04_jobstate',
                                    '04_jobs', '05_devicecheck',
                                    '60_claims', '61_claims_rules', '62_claims_extract', '63_claims_papers',
                                    '64_claims_render', '65_claims_reports')))
# [V]/[R]/[M]/[?] mark how sure a statement about a paper is; a page that uses them gets this legend
MARKERS = re.compile(r'\[(?:V|R|M|\?)\]')
MARKER_LEGEND = ('<div class="marker-legend"><b>Markers:</b> <b>[V]</b> verified: read from the paper or a cited '
                 'source; <b>[R]</b> reconstructed: derived here and checked numerically; <b>[M]</b> recalled, not '
                 're-read; <b>[?]</b> unknown.</div>')

def write_if_changed(path: Path, data) -> Path:
    data = data.encode() if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_bytes() != data: path.write_bytes(data)
    return path

def write_nb(nb, path: Path) -> Path: return write_if_changed(path, nbformat.writes(nb) + '\n')

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
    """Give `nb` (staged from `src`) the outputs `make test` kept for `src` (without the machine's paths), if its code is
    unchanged since, and mark it not to be executed again; False (nb untouched: myst-nb executes it) when there are none or they are stale."""
    kept = EXECUTED / src.name
    if not kept.exists(): return False
    k = json.loads(kept.read_text())
    if k['metadata'].get('collapse_repro_code_hash') != code_hash(json.loads(src.read_text())['cells']): return False
    outs = {c.get('id'): c for c in k['cells'] if c['cell_type'] == 'code'}
    for c in nb.cells:
        if c.cell_type == 'code' and c.get('id') in outs:
            c.outputs = [nbformat.from_dict(o) for o in outs[c['id']].get('outputs', [])]
            c.execution_count = outs[c['id']].get('execution_count')
            outputs_without_machine_paths(c.outputs)   # what `make test` printed of its temporary folders and caches
    palette_outputs(nb)
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

def published_files(exp: str, names: list[str]) -> dict[str, list[Path]]:
    "profile -> the top-level files figures/<profile>/ publishes for `exp` (not those of a longer experiment name)."
    longer = [n for n in names if n != exp and n.startswith(exp + '_')]
    out = {}
    for prof in sorted((p for p in FIGURES.iterdir() if p.is_dir() and p.name != 'superseded'),   # figures/superseded: kept, not shown
                       key=lambda p: (PROFILE_ORDER + (p.name,)).index(p.name)):
        files = [f for f in sorted(prof.iterdir()) if f.is_file() and (f.name == f'{exp}.ipynb' or f.name.startswith(exp + '_'))
                 and not any(f.name.startswith(n + '_') or f.name == f'{n}.ipynb' for n in longer)]
        if files: out[prof.name] = files
    return out

def _results(exp: str, prof: str) -> dict:
    f = FIGURES / prof / f'{exp}_results.json'
    return json.loads(f.read_text()) if f.exists() else {}

def dirty_files(res: dict) -> list[str]:
    "The files a run's working tree had uncommitted (`git_dirty_files`; empty for a clean commit)."
    return list((res.get('provenance') or {}).get('git_dirty_files') or [])

DIRTY_LINK = '<a class="dirty-link" href="{up}claims.html#dirty-commits">+dirty</a>'

def provenance_line(results: Path, up: str = '../') -> str:
    "Commit, device and wall time of a published run, from its results.json (empty if unknown); +dirty links to why."
    if not results.exists(): return ''
    res = json.loads(results.read_text()); prov = res.get('provenance') or {}; run = res.get('runner') or {}
    bits = []
    if prov.get('git_commit'):
        c = prov['git_commit']
        bits.append(f"commit <code>{html.escape(c.removesuffix('-dirty')[:10])}</code>"
                    + (DIRTY_LINK.format(up=up) if c.endswith('-dirty') else ''))
    dev = prov.get('device')
    if isinstance(dev, dict): dev = dev.get('gpu') or dev.get('device')
    if dev: bits.append(f'device {html.escape(str(dev))}')
    wall = run.get('run_wall_time_s', prov.get('wall_time_s'))
    if wall is not None: bits.append(f'{wall:,.0f} s of wall time')
    return ', '.join(bits)

MACHINE_PATH = re.compile(r"(?:/(?:tmp|work|home|root|var|private|Users|scratch)/|[A-Za-z]:\\)[^\s'\"<>)]*")

def machine_paths_removed(text: str) -> str:
    "Absolute paths of the machine a run was made on, reduced to the part a reader can use (`runs/…`, else the name)."
    def short(m):
        p = m.group(0)
        return p[p.index('runs/'):] if 'runs/' in p else '…/' + p.rstrip('/').rsplit('/', 1)[-1]
    return MACHINE_PATH.sub(short, text)

def outputs_without_machine_paths(outputs):
    """Each text of `outputs` (a stream's `text`, a `text/*` datum) without the machine's paths, in place; a text kept as
    a list of lines (as nbformat's JSON may hold it) becomes one string."""
    joined = lambda v: ''.join(v) if isinstance(v, list) else v
    for o in outputs:
        if 'text' in o: o['text'] = machine_paths_removed(joined(o['text']))
        for k, v in (o.get('data') or {}).items():
            if k.startswith('text/'): o['data'][k] = machine_paths_removed(joined(v))
    return outputs

def slim_notebook(nb):
    from collapse_repro.runner import slim_notebook
    return slim_notebook(nb)

def clean_outputs(nb, alt: str):
    """An executed notebook as a reader should see it: progress bars at their last state (the runner's `slim_notebook`),
    no machine paths in text outputs, Markdown outputs' tables rendered (conf: gfm), each image output with alt text."""
    slim_notebook(nb)
    palette_outputs(nb)
    for c in nb.cells:
        if c.cell_type != 'code': continue
        outputs_without_machine_paths(c.outputs)
        if any('image/png' in (o.get('data') or {}) for o in c.outputs):
            names = re.findall(r"savefig\(\s*\w+\s*,\s*['\"]([\w.-]+)['\"]", c.source)
            what = ', '.join(n.replace('_', ' ') for n in names) or 'the result of the cell above'
            c.metadata.setdefault('mystnb', {})['image'] = dict(alt=f'{alt}: figure {what}')
    return nb

def _plain(markdown: str) -> str:
    "Markdown as plain words for alt text: no headings' #, emphasis, code ticks, maths dollars or link targets."
    t = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', markdown).replace('p_*', '\0')
    t = re.sub(r'[`*$]|^#+\s*|\\(?=[a-zA-Z])', '', t, flags=re.M)
    return ' '.join(t.replace('\0', 'p*').split())

def figure_alts(nb):
    """Library pages: every figure a code cell draws gets alt text saying what it shows, taken from the prose just
    above the cell (its first sentence), under the chapter's title (myst-nb's `mystnb.image.alt` cell metadata)."""
    title = _plain(next((l for l in nb.cells[title_cell(nb)].source.split('\n') if l.startswith('# ')), ''))
    above = ''
    for c in nb.cells:
        if c.cell_type == 'markdown':
            body = [l for l in c.source.split('\n') if l.strip() and not l.startswith('#')]
            above = _plain(' '.join(body)) or _plain(c.source)
        elif c.cell_type == 'code' and 'alt' not in c.metadata.get('mystnb', {}).get('image', {}):
            first = re.split(r'(?<=[.:;])\s', above, maxsplit=1)[0].rstrip(':;')[:200] if above else ''
            c.metadata.setdefault('mystnb', {}).setdefault('image', {})['alt'] = (
                f'{title}: figure: {first}' if first else f'{title}: figure drawn by this cell')
    return nb

def collapse_parameters(nb):
    """The parameters cell (tag `parameters`) and papermill's injected one collapsed behind a toggle: a reader starts
    with the claims, not 40 lines; the injected `run_dir` without the machine's folders (`machine_paths_removed`)."""
    for c in nb.cells:
        tags = c.metadata.get('tags', [])
        if c.cell_type == 'code' and ('parameters' in tags or 'injected-parameters' in tags):
            c.metadata['tags'] = list(dict.fromkeys(tags + ['hide-input']))
            if 'injected-parameters' in tags: c.source = machine_paths_removed(c.source)
    return nb

P_STAR = re.compile(r'(?<![\w\\$])p_\*')
_NOT_PROSE = re.compile(r'(```.*?```|`[^`\n]*`|\$\$.*?\$\$|\$[^$\n]+\$)', re.S)

def mathify(text: str) -> str:
    "`p_*` in prose written as maths, `$p_*$` (else Markdown reads `_*` as the start of emphasis); code and maths kept."
    prose = lambda t: '\n'.join(l if l.startswith('#') else P_STAR.sub('$p_*$', l)     # titles are kept as they are
                                 for l in t.split('\n'))
    return ''.join(part if i % 2 else prose(part) for i, part in enumerate(_NOT_PROSE.split(text)))

def one_notation(nb, maths: bool = True):
    """Every markdown cell and Markdown output through `mathify`; with `maths=False` (the landing page, kept free of
    MathJax's megabyte) `p_*` is escaped as text instead."""
    for c in nb.cells:
        if c.cell_type == 'markdown':
            c.source = mathify(c.source) if maths else re.sub(r'\$?(?<![\w\\])p_\*\$?', r'p\\_\\*', c.source)
        for o in c.get('outputs', []):
            d = o.get('data') or {}
            if isinstance(d.get('text/markdown'), str): d['text/markdown'] = mathify(d['text/markdown'])
    return nb

def current_prose(nb, src: Path):
    "An executed notebook's markdown cells as the source notebook has them now (matched by cell id; outputs untouched)."
    now = {c.get('id'): c.source for c in nbformat.read(src, as_version=4).cells if c.cell_type == 'markdown'}
    for c in nb.cells:
        if c.cell_type == 'markdown' and c.get('id') in now: c.source = now[c['id']]
    return nb

STUDY_TAG = 'study'
STUDY_NOTE = ('<p class="study-note">This cell reads only the study results the package ships (<code>data.study_results</code>), '
              "not this page's run: the site re-executed it when it was built, so it shows the studies of this version "
              '(the executed notebook shows them as they were at its run).</p>')

def study_cells(src: Path) -> list:
    "The code cells of the source notebook `src` tagged `study`."
    return [c for c in nbformat.read(src, as_version=4).cells if c.cell_type == 'code' and STUDY_TAG in c.metadata.get('tags', [])]

def refresh_studies(nb, cells: list):
    """The executed notebook `nb` with its cells that are `study` cells of its source notebook (`cells`, from
    `study_cells`: they read only the studies the package ships, nothing of the run) executed again from the source, so
    the page shows the studies as they are now: a study can grow after the run that published the notebook. Each such
    cell says so under its output."""
    if not cells: return nb
    from nbclient import NotebookClient
    from collapse_repro.runner import ensure_kernel
    mini = nbformat.v4.new_notebook(cells=[nbformat.from_dict(dict(c, outputs=[], execution_count=None)) for c in cells])
    NotebookClient(mini, timeout=600, kernel_name=ensure_kernel(), resources=dict(metadata=dict(path=str(ROOT)))).execute()
    fresh = {c.get('id'): c for c in mini.cells}
    for c in nb.cells:
        if c.cell_type == 'code' and c.get('id') in fresh:
            c.source, c.outputs = fresh[c['id']].source, fresh[c['id']].outputs + [
                nbformat.v4.new_output('display_data', data={'text/html': STUDY_NOTE})]
    return nb

def legend_markers(nb):
    "A page whose prose uses the [V]/[R]/[M]/[?] markers explains them under its title."
    if any(c.cell_type == 'markdown' and MARKERS.search(c.source) for c in nb.cells):
        nb.cells.insert(title_cell(nb) + 1, md(MARKER_LEGEND))
    return nb

# ---- from the claims ledger (collapse_repro.claims, what `collapse-repro report` prints) ----------------------------
def ledger_table():
    from collapse_repro import claims
    return claims.ledger(FIGURES)

def _slug(v: str) -> str: return re.sub(r'\W+', '-', str(v).strip().lower()).strip('-')

def _extra_fields(obj, skip) -> str:
    "Fields of a ledger dataclass beyond those shown (an uncertainty interval, say): `name: value`, so they show too."
    if not dataclasses.is_dataclass(obj): return ''
    from collapse_repro.claims import format_value
    out = [f'{f.name.replace("_", " ")}: {format_value(getattr(obj, f.name))}' for f in dataclasses.fields(obj)
           if f.name not in skip and getattr(obj, f.name) not in (None, '', (), [], {})]
    return '; '.join(out)

def verdict_badge(v: str) -> str: return f'<span class="verdict verdict-{_slug(v)}">{html.escape(v)}</span>'

def _ours_cell(r, up: str) -> str:
    from collapse_repro.claims import format_value
    if r.profile is None: return f'<i>{html.escape(r.missing or "not run")}</i>'
    if r.error or r.ours is None: return f'<b>{r.profile}</b>: not run ({html.escape(r.error.split(":")[0])})'
    extra = ', '.join(x for x in (_extra_fields(r.ours, {'value', 'text'}),
                                  _extra_fields(r, {'claim', 'profile', 'ours', 'verdict', 'commit', 'device', 'error',
                                                    'missing'})) if x)
    commit = html.escape(r.commit.replace('+dirty', '')) + (DIRTY_LINK.format(up=up) if '+dirty' in r.commit else '')
    return (f'<b>{r.profile}</b>: {html.escape(format_value(r.ours.value))}'
            + (f' ({html.escape(extra)})' if extra else '') + f' {verdict_badge(r.verdict)}'
            + f'<br><small>{commit}, {html.escape(r.device)}</small>')

def claim_rows_html(rows_list, up: str = '../') -> str:
    "One row per claim: the claim and the paper's value beside our value per profile and the verdict; why, folded."
    from collapse_repro.claims import headline, describe_rule
    out = []
    for rows in rows_list:
        c, v = rows[0].claim, headline(rows)
        why = ' '.join(x for x in [rows[0].ours.text if rows[0].ours else '', c.note] if x)
        out.append(f'<tr data-claim="{html.escape(c.id)}" data-verdict="{html.escape(v)}">'
                   f'<td><b>{html.escape(c.short)}</b><br><small>{html.escape(c.claim)}</small>'
                   f'<details><summary>source, rule, why</summary><small><b>{html.escape(c.where)}</b>. Paper value '
                   f'from: {html.escape(c.source)}. Rule: {html.escape(describe_rule(c.rule))}. {html.escape(why)} '
                   f'(<code>{html.escape(c.id)}</code>: <code>{html.escape(c.how())}</code>)</small></details></td>'
                   f'<td>{html.escape(c.paper_value)}</td>'
                   f'<td>{"<br>".join(_ours_cell(r, up) for r in rows)}</td><td>{verdict_badge(v)}</td></tr>')
    return ('<table class="claims-table"><thead><tr><th>claim</th><th>paper</th><th>ours, per profile</th>'
            '<th>verdict</th></tr></thead><tbody>' + ''.join(out) + '</tbody></table>')

def verdict_box(exp: str, table) -> str:
    "An experiment's claims and their verdicts, from the ledger (an empty string if the ledger has none)."
    rows = [r for r in table if r[0].claim.experiment == exp]
    if not rows: return ''
    return ('<div class="verdict-box"><p class="verdict-box-title">What the paper claims, and whether it reproduces '
            '(from the <a href="../claims.html">claims ledger</a>; the verdict is the one at the largest profile '
            'that ran)</p>' + claim_rows_html(rows) + '</div>')

def verdict_counts(exp: str, table) -> str:
    from collapse_repro.claims import headline
    vs = [headline(r) for r in table if r[0].claim.experiment == exp]
    return ', '.join(f'{vs.count(v)} {verdict_badge(v)}' for v in dict.fromkeys(vs)) or 'no claim in the ledger'


def palette_outputs(nb):
    "Every PNG a notebook's cells drew, served as `site_png` makes it when that is smaller (outputs hold base64)."
    import base64
    for c in nb.cells:
        for o in c.get('outputs', []) if c.cell_type == 'code' else []:
            d = o.get('data') or {}
            if isinstance(d.get('image/png'), (str, list)):
                raw = base64.b64decode(''.join(d['image/png']))
                small = site_png(raw)
                if len(small) < len(raw): d['image/png'] = base64.b64encode(small).decode()
    return nb

def figure_alt(exp: str, prof: str, f: Path) -> str:
    "A published figure's alt text: the experiment, the run and what the figure's file name says it shows."
    return f'{exp}, {prof} run: figure {f.stem.removeprefix(exp + "_").replace("_", " ")}'

def site_png(src) -> bytes:
    """A published figure (a path, or a PNG's bytes) as the site serves it: full size, on white, in a 256-colour palette
    without dithering (a matplotlib plot has few colours: it looks the same at ~40 % of the bytes; the repository keeps
    the original)."""
    from PIL import Image
    import io
    im = Image.open(io.BytesIO(src) if isinstance(src, bytes) else src).convert('RGBA')
    im = Image.alpha_composite(Image.new('RGBA', im.size, 'white'), im).convert('RGB')
    buf = io.BytesIO()
    im.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(buf, 'PNG', optimize=True)
    return buf.getvalue()

def figures_section(exp: str, pub: dict, dest: Path, main: str | None) -> str:
    """'Our figures': for every profile that ran (largest first), its provenance line, how to rerun it and the PNGs it
    published (copied beside the page; click to enlarge). `main` is the run whose notebook the page shows below."""
    out = ['## Our figures\n\nEvery published run of this experiment, the largest profile first (click a figure to see '
           'it at full size).' + (f' The notebook below is the one the <code>{main}</code> run executed.' if main else '')]
    for prof in sorted(pub, key=lambda p: -PROFILE_ORDER.index(p) if p in PROFILE_ORDER else 0):
        prov = provenance_line(FIGURES / prof / f'{exp}_results.json')
        executed = (FIGURES / prof / f'{exp}.ipynb').exists()
        text = [f'### The {prof} run', f'<p class="provenance">{prov + "; " if prov else ""}rerun: '
                f'<code>collapse-repro run {exp} --profile {prof}</code>'
                + ('' if executed else '; its executed notebook was not kept (published before the runner kept it)')
                + (f'; its printed numbers are <a href="#the-{prof}-run-s-numbers">at the end of this page</a>'
                   if executed and main and prof != main else '') + '.</p>']
        imgs = [f for f in pub[prof] if f.suffix == '.png']
        for f in imgs:
            write_if_changed(dest / 'figures' / prof / f.name, site_png(f))
            text.append(f'![{figure_alt(exp, prof, f)}](figures/{prof}/{f.name})')
        if not imgs: text.append('(this run published no figure)')
        out.append('\n\n'.join(text))
    return '\n\n'.join(out)

def run_numbers(nb, prof: str) -> list:
    """Another profile's executed notebook reduced to what it printed (Markdown statements and stdout), without its
    code, figures (shown under 'Our figures') or logs: the cells of a section at the end of the page."""
    cells = [md(f"## The {prof} run's numbers\n\nWhat the same notebook printed when the committed <code>{prof}</code> "
                'run executed it (the code is the code above; its figures are under "Our figures").')]
    for c in nb.cells:
        if c.cell_type != 'code': continue
        outs = [o for o in c.outputs if 'text/markdown' in (o.get('data') or {})
                or (o.output_type == 'stream' and o.get('name') == 'stdout')]
        if outs:
            c.outputs = outs
            c.metadata['tags'] = [t for t in c.metadata.get('tags', []) if t not in ('parameters', 'hide-input')] + ['remove-input']
            c['id'] = f"{c.get('id') or len(cells)}-{prof}"[:64]                 # unique beside the main run's cells
            cells.append(c)
    return cells if len(cells) > 1 else []

def stage_experiment(exp, names, dest: Path, table=()) -> list[str]:
    """One page per experiment, `experiments/EXP`: its title, the paper's claims and their verdicts (`verdict_box`),
    the figures of every profile that ran (`figures_section`), then the notebook as executed by the largest profile
    whose executed notebook was kept (never re-run but for its `study` cells: `refresh_studies`), and at the end what the other executed runs printed. An experiment
    without any kept executed notebook shows its source notebook, not executed, and says so."""
    pub = published_files(exp.name, names)
    executed = [p for p in pub if (FIGURES / p / f'{exp.name}.ipynb').exists()]
    main = max(executed, key=lambda p: PROFILE_ORDER.index(p) if p in PROFILE_ORDER else -1, default=None)
    box = verdict_box(exp.name, table)
    studies = study_cells(exp.path)
    if main:
        nb = current_prose(nbformat.read(FIGURES / main / f'{exp.name}.ipynb', as_version=4), exp.path)
        refresh_studies(nb, studies)
        tidy_frontmatter(nb); one_notation(nb); clean_outputs(nb, f'{exp.name}, {main} run'); collapse_parameters(nb)
        head = []
    else:
        nb = nbformat.read(exp.path, as_version=4)
        tidy_frontmatter(nb); collapse_parameters(nb); one_notation(nb)
        for c in nb.cells:
            if c.cell_type == 'code': c.outputs, c.execution_count = [], None
        note = ('No run of this experiment is published yet. Below is the source notebook, not executed.' if not pub else
                'The executed notebooks of this experiment\'s published runs are absent (`figures/<profile>/'
                f'{exp.name}.ipynb`: published before the runner kept them). Below is the source notebook, not executed; '
                'the figures the runs published are above.')
        head = [md(f'```{{warning}}\n{note}\n```')]
    i = title_cell(nb) + 1
    nb.cells[i:i] = ([md(box)] if box else []) + ([md(figures_section(exp.name, pub, dest, main))] if pub else []) + head
    for prof in executed:
        if prof != main:
            other = current_prose(nbformat.read(FIGURES / prof / f'{exp.name}.ipynb', as_version=4), exp.path)
            other.cells = [c for c in other.cells if c.get('id') not in {s.get('id') for s in studies}]   # shown once, in the main run
            one_notation(other); clean_outputs(other, f'{exp.name}, {prof} run')
            nb.cells += run_numbers(other, prof)
    legend_markers(nb)
    write_nb(nb, dest / f'{exp.name}.ipynb')
    return [f'experiments/{exp.name}']

def api_page(module: str, nb_page: str) -> str:
    head = f'collapse_repro.{module}'             # plain text: it is also the sidebar's label, on every API page
    return (f'{head}\n{"=" * len(head)}\n\nExported by :doc:`../{nb_page}`, where each function is derived and tested.\n\n'
            f'.. automodule:: collapse_repro.{module}\n   :members:\n   :undoc-members:\n   :show-inheritance:\n')

def api_index(api: list[str]) -> str:
    "The API reference's own page: the sidebar shows it as one entry, its module pages only while one is open."
    return ('# API reference\n\nOne page per exported module, in the order of the notebooks that export them; each page '
            'links back to its chapter, where every function is derived and tested.\n\n'
            + toctree('Modules', [p.removeprefix('api/') for p in api]) + '\n')

def reading_order(exps):
    "`exps` (anything with a `.name`) in READING_ORDER; those it does not name after them, alphabetically."
    return sorted(exps, key=lambda e: (READING_ORDER.index(e.name) if e.name in READING_ORDER else len(READING_ORDER), e.name))

def toctree(caption: str, pages: list[str]) -> str:
    return f'```{{toctree}}\n:caption: {caption}\n:maxdepth: 1\n\n' + '\n'.join(pages) + '\n```'

def main_page(exp_pages: list[str], name: str) -> str | None:
    "An experiment's page (one per experiment), or None when it has none."
    return f'experiments/{name}' if f'experiments/{name}' in exp_pages else None

THUMB_PX = 150                                   # the landing page's thumbnails: their width in the table's column

def _thumbnail(name: str, dest: Path) -> str:
    "Our first figure of `name` at its largest published profile, copied beside the landing page (markdown image)."
    for prof in reversed(PROFILE_ORDER):
        pngs = sorted((FIGURES / prof).glob(f'{name}_*.png')) if (FIGURES / prof).exists() else []
        pngs = [p for p in pngs if p.name in {f.name for f in published_files(name, [name]).get(prof, [])}]
        if pngs:
            from PIL import Image
            import io
            im = Image.open(pngs[0]).convert('RGB'); im.thumbnail((THUMB_PX, 10 * THUMB_PX))
            buf = io.BytesIO(); im.quantize(64).save(buf, 'PNG', optimize=True)      # 64 colours: a third of the bytes
            write_if_changed(dest / 'thumbs' / f'{name}.png', buf.getvalue())
            what = pngs[0].stem.removeprefix(name + '_').replace('_', ' ')
            return f'![our figure: {name}, {what} ({prof} run)](thumbs/{name}.png)'
    return '(no figure yet)'

def landing_table(exps, exp_pages, table, dest: Path) -> str:
    "The landing page's table: experiment, paper figure, our figure, verdicts (from the ledger), link."
    rows = ['```{list-table}\n:header-rows: 1\n:class: experiments-table\n:widths: 22 30 22 26\n',
            '* - experiment\n  - paper, figure\n  - our figure\n  - verdicts of its claims']
    for e in exps:
        page = main_page(exp_pages, e.name)
        link = f'{{doc}}`{e.name} <{page}>`' if page else f'`{e.name}`'
        paper = e.paper.split(',')[0].strip('"')
        rows.append(f'* - {link}\n  - {paper}: {e.figure}\n  - {_thumbnail(e.name, dest)}\n'
                    f'  - <span data-experiment="{e.name}">{verdict_counts(e.name, table)}</span>')
    return '\n'.join(rows) + '\n```'

def dirty_section() -> str:
    "Why some commits read `+dirty`: what each published run had uncommitted (from `git_dirty_files`)."
    runs = []
    for prof in PROFILE_ORDER:
        for f in sorted((FIGURES / prof).glob('*_results.json')) if (FIGURES / prof).exists() else []:
            res = json.loads(f.read_text())
            if str((res.get('provenance') or {}).get('git_commit', '')).endswith('-dirty'):
                files = dirty_files(res)
                code = [x for x in files if not x.startswith('figures/')]
                runs.append(f'<li><code>{prof}/{f.name.removesuffix("_results.json")}</code>: {len(files)} '
                            'uncommitted file' + 's' * (len(files) != 1) + (
                                f', code among them: {", ".join(f"<code>{html.escape(x)}</code>" for x in code)}'
                                if code else ', all published results under <code>figures/</code>, no code') + '</li>')
    return ('<div class="dirty-note" id="dirty-commits"><p><b>Commits marked +dirty.</b> A run records the commit it '
            'ran from; <code>+dirty</code> means the working tree also had uncommitted changes then, and the run lists '
            'those files in its <code>results.json</code> (<code>provenance.git_dirty_files</code>). For the published '
            'runs:</p><ul>' + (''.join(runs) or '<li>none</li>') + '</ul></div>')

def claims_page(table, exps) -> str:
    "The ledger as a reader takes it in: per experiment, each claim beside its verdict; the full table is CLAIMS.md."
    from collapse_repro.claims import counts, VERDICTS
    n = counts(table)
    n = {k: n[k] for k in sorted(n, key=lambda k: k == 'all')}       # each paper, then all
    verdicts = list(dict.fromkeys(list(VERDICTS) + [v for k in n for v in n[k]]))
    head = ('# Does it reproduce? The claims ledger\n\nEvery claim of the two papers that an experiment addresses, '
            'with the paper\'s value, ours at each published profile and the verdict, computed by '
            '`collapse-repro report` (the rules in the chapter on claims) from the committed '
            '`figures/<profile>/*_results.json`; nothing here is typed by hand. The full table is '
            '`figures/CLAIMS.md` in '
            'the repository.\n\n'
            '<table class="counts"><thead><tr><th>verdict</th>'
            + ''.join(f'<th>{html.escape(k)}</th>' for k in n)
            + '</tr></thead><tbody>' + ''.join(f'<tr><td>{verdict_badge(v)}</td>' + ''.join(
                f'<td>{n[k].get(v, 0)}</td>' for k in n) + '</tr>' for v in verdicts) + '</tbody></table>\n')
    parts = [head]
    for e in exps:
        rows = [r for r in table if r[0].claim.experiment == e.name]
        if rows: parts.append(f'## {e.name}\n\n{claim_rows_html(rows, up="")}\n')
    parts.append('## Commits marked +dirty\n\n' + dirty_section() + '\n')
    return '\n'.join(parts)

def stage(dest: Path) -> dict[str, list[str]]:
    from collapse_repro.runner import list_experiments
    dest = Path(dest); dest.mkdir(parents=True, exist_ok=True)
    lib, api = [], []
    for p in library_notebooks():
        nb = prepare_library(nbformat.read(p, as_version=4))
        if kept_outputs(nb, p): slim_notebook(nb)
        legend_markers(nb); one_notation(nb); figure_alts(nb)
        write_nb(nb, dest / 'lib' / p.name)
        lib.append(f'lib/{p.stem}')
        if (mod := module_of(p)) and not mod.endswith(('.__init__', '.__main__')):   # a package's re-exports: its modules' pages
            write_if_changed(dest / 'api' / f'{mod}.rst', api_page(mod, f'lib/{p.stem}')); api.append(f'api/{mod}')
    table = ledger_table()
    exps = reading_order(list_experiments())
    names, exp_pages = [e.name for e in exps], []
    for e in exps: exp_pages += stage_experiment(e, names, dest / 'experiments', table)
    write_if_changed(dest / 'claims.md', claims_page(table, exps))
    write_if_changed(dest / 'api' / 'index.md', api_index(api))
    api = ['api/index'] + api
    toc = dict(lib=lib, experiments=exp_pages, results=['claims'], api=api)
    # the reading order: each part's library chapters and experiments
    parts, placed = [], set()
    for caption, items in PARTS:
        pages = []
        for it in items:
            if f'lib/{it}' in lib: pages.append(f'lib/{it}')
            elif it == 'claims': pages.append('claims')
            elif (page := main_page(exp_pages, it)): pages.append(page)
        placed.update(pages); parts.append([caption, pages])
    rest = [p for p in lib + exp_pages if p not in placed]
    parts[-1] = [parts[-1][0], parts[-1][1] + rest]
    toc['parts'] = parts
    index = one_notation(prepare_library(nbformat.read(NBS / 'index.ipynb', as_version=4)), maths=False)
    index.cells.insert(title_cell(index) + 1, md(
        '## Does it reproduce?\n\nEach experiment, the paper figure it reproduces, our figure and the verdicts of the '
        'paper\'s claims it tests (from the claims ledger; click an experiment to read it):\n\n'
        + landing_table(exps, exp_pages, table, dest)))
    index.cells.append(md('## Reading order\n\n' + '\n\n'.join(
        [toctree(c, p) for c, p in parts] + [toctree('Reference', ['api/index'])])))
    write_nb(index, dest / 'index.ipynb')
    # whatever an earlier staging left that is no longer a page (a renamed notebook, an experiment now executed)
    keep = {dest / f'{d}{s}' for d in ['index'] + lib + exp_pages + ['claims'] + api for s in ('.ipynb', '.md', '.rst')}
    for f in list(dest.rglob('*')):
        if f.is_file() and f.suffix in ('.ipynb', '.md', '.rst') and f not in keep: f.unlink()
    write_if_changed(dest / 'toc.json', json.dumps(toc, indent=1))
    return toc

if __name__ == '__main__':
    toc = stage(Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / '_docs' / 'src'))
    print(f"staged {sum(len(v) for k, v in toc.items() if k != 'parts') + 1} pages: "
          + ', '.join(f'{k} {len(v)}' for k, v in toc.items() if k != 'parts'))

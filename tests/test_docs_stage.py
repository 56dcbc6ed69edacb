"docs/stage.py lays out the tutorial site's pages (no Sphinx, no browser: fast)."
import importlib.util, json, shutil
import nbformat, pytest
from conftest import ROOT

pytestmark = pytest.mark.xdist_group('test_docs_stage')   # its module fixture is built once: keep its tests on one xdist worker

def _stage_module(figures, monkeypatch):
    spec = importlib.util.spec_from_file_location('docs_stage', ROOT / 'docs' / 'stage.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    monkeypatch.setattr(mod, 'FIGURES', figures)
    return mod

def test_stage_lays_out_every_page_in_reading_order(tmp_path, monkeypatch):
    figs = tmp_path / 'figures'; shutil.copytree(ROOT / 'figures', figs)
    # a smoke run of feng_scaling that kept its executed notebook (as publish_figures writes it), beside the committed ones
    nb = nbformat.read(ROOT / 'nbs/experiments/feng_scaling.ipynb', as_version=4)
    code = next(c for c in nb.cells if c.cell_type == 'code')
    code.outputs = [nbformat.v4.new_output('stream', name='stdout', text='ran at smoke\n')]
    (figs / 'smoke').mkdir(exist_ok=True); nbformat.write(nb, figs / 'smoke' / 'feng_scaling.ipynb')
    # and runs published before runs kept their notebooks: one beside a kept paper run, one the experiment's only run
    (figs / 'quick' / 'yi_gaussian_toolkit.ipynb').unlink(missing_ok=True)
    (figs / 'quick' / 'feng_eigen.ipynb').unlink(missing_ok=True)
    assert not any((figs / p / 'feng_eigen.ipynb').exists() for p in ('smoke', 'gpu', 'paper'))
    mod = _stage_module(figs, monkeypatch)
    toc = mod.stage(tmp_path / 'src')
    from collapse_repro.runner import list_experiments
    names = [e.name for e in list_experiments()]
    assert toc['lib'][0] == 'lib/00_core' and toc['lib'] == sorted(toc['lib']) and len(toc['api']) >= 12
    claims_md = (tmp_path / 'src/claims.md').read_text()          # the ledger, per experiment, with +dirty explained
    assert toc['results'] == ['claims'] and 'id="dirty-commits"' in claims_md
    assert all(f'## {n}' in claims_md for n in names)
    # one page per experiment, in the reading order (by paper, then as in README's table), which names each once
    assert sorted(mod.READING_ORDER) == sorted(names)
    assert toc['experiments'] == [f'experiments/{n}' for n in mod.READING_ORDER]
    assert not [f for f in (tmp_path / 'src/experiments').glob('*.ipynb') if f.stem not in names]
    # feng_scaling: claims and verdicts, then the figures of every profile that ran (largest first), then the paper
    # run's notebook, and at the end what the smoke run printed
    page = nbformat.read(tmp_path / 'src/experiments/feng_scaling.ipynb', as_version=4)
    text = '\n'.join(c.source for c in page.cells if c.cell_type == 'markdown')
    head = '\n'.join(c.source for c in page.cells[:4])   # title, markers' legend, verdict box, figures
    assert 'class="verdict-box"' in head and '## Our figures' in head and 'the <code>paper</code> run executed' in head
    assert head.index('### The paper run') < head.index('### The quick run') < head.index('### The smoke run')
    assert '(figures/quick/feng_scaling_accuracy_vs_n.png)' in head and '(figures/paper/feng_scaling_accuracy_vs_n.png)' in head
    assert "## The smoke run's numbers" in text and 'href="#the-smoke-run-s-numbers"' in head
    assert any(o.get('text') == 'ran at smoke\n' for c in page.cells for o in c.get('outputs', []))   # outputs kept
    assert 'hide-input' in next(c for c in page.cells if 'parameters' in c.metadata.get('tags', [])).metadata['tags']
    # a quick run published before runs kept their notebooks, beside a kept paper run: its figures, and it says so
    src = nbformat.read(tmp_path / 'src/experiments/yi_gaussian_toolkit.ipynb', as_version=4)
    text = '\n'.join(c.source for c in src.cells if c.cell_type == 'markdown')
    png = sorted((figs / 'quick').glob('yi_gaussian_toolkit_*.png'))[0].name
    assert f'(figures/quick/{png})' in text and 'executed notebook was not kept' in text
    assert (tmp_path / f'src/experiments/figures/quick/{png}').exists()
    # an experiment whose only run kept no notebook: the source, not executed, saying so, and that run's figures
    src = nbformat.read(tmp_path / 'src/experiments/feng_eigen.ipynb', as_version=4)
    text = '\n'.join(c.source for c in src.cells if c.cell_type == 'markdown')
    assert 'are absent' in text and '(figures/quick/feng_eigen_scaling.png)' in text
    assert all(not c.outputs for c in src.cells if c.cell_type == 'code')
    index = nbformat.read(tmp_path / 'src/index.ipynb', as_version=4).cells[-1].source
    # the papers' order: Yi's theory and its experiments, Feng's, the neural ones, the ledger, then the package, the API
    order = ['lib/10_linreg', 'experiments/yi_linreg_one_round', 'lib/20_gmm', 'experiments/feng_phase_transition',
             'lib/30_mnist', 'experiments/yi_cvae_schedule', '\nclaims\n', 'lib/00_core', 'lib/60_claims', 'api/index']
    assert [index.index(x) for x in order] == sorted(index.index(x) for x in order)
    # the API reference is one entry there; its own page lists every module page, in the notebooks' order
    api = (tmp_path / 'src/api/index.md').read_text()
    assert [api.index(f'\n{p.removeprefix("api/")}\n') for p in toc['api'][1:]] == sorted(
        api.index(f'\n{p.removeprefix("api/")}\n') for p in toc['api'][1:]) and 'core' in toc['api'][1]
    assert [c for c, _ in toc['parts']][-1] == 'How the package works'
    assert json.loads((tmp_path / 'src/toc.json').read_text()) == toc

def test_library_outputs_kept_by_make_test_are_shown_while_the_code_is_unchanged(tmp_path, monkeypatch):
    "tools/nbdev_test_keep.py keeps a passing library notebook's outputs; stage.py uses them only for unchanged code."
    import sys
    sys.path.insert(0, str(ROOT / 'tools'))
    from nbdev_test_keep import code_hash
    mod = _stage_module(tmp_path / 'figures', monkeypatch)
    monkeypatch.setattr(mod, 'EXECUTED', tmp_path / 'executed')
    src = ROOT / 'nbs' / '03_loop.ipynb'
    raw = json.loads(src.read_text())
    cell = next(c for c in raw['cells'] if c['cell_type'] == 'code' and 'default_exp' not in ''.join(c['source']))
    cell['outputs'] = [dict(output_type='stream', name='stdout', text='kept by make test\n')]
    raw['metadata']['collapse_repro_code_hash'] = code_hash(raw['cells'])
    (tmp_path / 'executed').mkdir()
    (tmp_path / 'executed' / src.name).write_text(json.dumps(raw))
    nb = mod.prepare_library(nbformat.read(src, as_version=4))
    assert mod.kept_outputs(nb, src) and nb.metadata['mystnb'] == {'execution_mode': 'off'}
    assert next(c for c in nb.cells if c.get('id') == cell['id']).outputs[0]['text'] == 'kept by make test\n'
    raw['metadata']['collapse_repro_code_hash'] = 'stale'          # the notebook's code changed since: execute it again
    (tmp_path / 'executed' / src.name).write_text(json.dumps(raw))
    nb = mod.prepare_library(nbformat.read(src, as_version=4))
    assert not mod.kept_outputs(nb, src) and 'mystnb' not in nb.metadata

def test_study_cells_show_the_shipped_studies_of_this_version_not_those_of_the_run(tmp_path, monkeypatch):
    """A published run's cells tagged `study` (they read only `data.study_results`) are executed afresh on its page, so a
    study that grew after the run shows as it is now, saying so; another profile's numbers do not repeat them."""
    figs = tmp_path / 'figures'; shutil.copytree(ROOT / 'figures', figs)
    name = 'yi_cvae_initial_size'
    src = ROOT / 'nbs' / 'experiments' / f'{name}.ipynb'
    mod = _stage_module(figs, monkeypatch)
    ids = {c['id'] for c in mod.study_cells(src)}
    assert ids, 'the experiment has no study cell to test with'
    for prof in ('quick', 'smoke'):             # the published quick run, and a smoke run beside it, both showing stale text
        nb = nbformat.read(src, as_version=4)
        for c in nb.cells:
            if c.cell_type == 'code':
                c.outputs = [nbformat.v4.new_output('display_data', data={'text/markdown': f'stale {prof} output'})]
        (figs / prof).mkdir(exist_ok=True); nbformat.write(nb, figs / prof / f'{name}.ipynb')
    from collapse_repro.runner import list_experiments
    exp = next(e for e in list_experiments() if e.name == name)
    mod.stage_experiment(exp, [name], tmp_path / 'src', mod.ledger_table())
    page = nbformat.read(tmp_path / 'src' / f'{name}.ipynb', as_version=4)
    text = lambda c: ''.join(str(v) for o in c.get('outputs', []) for v in (o.get('data') or {}).values())
    studies = [c for c in page.cells if c.get('id') in ids]
    assert len(studies) == len(ids)
    for c in studies:
        assert 'stale' not in text(c) and 'study-note' in text(c) and 'text/markdown' in c.outputs[0]['data']
    assert 'stale quick output' in ''.join(text(c) for c in page.cells)                    # the run's other cells: as run
    smoke = [c for c in page.cells if str(c.get('id', '')).endswith('-smoke')]
    assert smoke and not any(c['id'].removesuffix('-smoke') in ids for c in smoke)

def test_one_helper_strips_machine_paths_from_text_kept_as_a_string_or_a_list_of_lines(tmp_path, monkeypatch):
    """`kept_outputs` (library pages) and `clean_outputs` (experiment pages) share `outputs_without_machine_paths`: a
    stream's text and each `text/*` datum lose the machine's paths whether JSON holds them as one string or as lines."""
    import base64, io
    from PIL import Image
    png = io.BytesIO(); Image.new('RGB', (2, 2), 'white').save(png, 'PNG'); png = base64.b64encode(png.getvalue()).decode()
    mod = _stage_module(tmp_path / 'figures', monkeypatch)
    def outputs():
        return [dict(output_type='stream', name='stdout', text=['saved /tmp/abc/runs/x/model.pt\n', 'cache /root/.cache/m.pt\n']),
                dict(output_type='execute_result', execution_count=1, metadata={},
                     data={'text/plain': ["'/work/wt/figures/a.png'"], 'text/markdown': 'see /tmp/q/r.json', 'image/png': png})]
    def check(outs):
        assert outs[0]['text'] == 'saved runs/x/model.pt\ncache …/m.pt\n'
        assert {k: v for k, v in outs[1]['data'].items() if k.startswith('text/')} == {'text/plain': "'…/a.png'",
                                                                                     'text/markdown': 'see …/r.json'}
    check(mod.outputs_without_machine_paths(outputs()))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('x = 1')])
    nb.cells[0].outputs = [nbformat.from_dict(o) for o in outputs()]
    check(mod.clean_outputs(nb, 'demo').cells[0].outputs)                     # an executed experiment notebook

def test_published_notebooks_keep_only_each_progress_bar_s_last_state():
    "figures/<profile>/*.ipynb as GitHub and the site show them: no progress-bar frame (tools/reslim.py re-slims them)."
    import re, sys
    from test_docs import tqdm_frames
    sys.path.insert(0, str(ROOT / 'tools'))
    from reslim import reslim
    frames = {}
    for p in sorted((ROOT / 'figures').glob('*/*.ipynb')):
        nb = json.loads(p.read_text())
        text = '\n'.join(''.join(o.get('text', '')) for c in nb['cells'] for o in c.get('outputs', []))
        if (f := tqdm_frames(re.sub(r'\r(?!\n)', '\n', text))) or reslim(p, write=False): frames[p.name] = f[:2]
    assert not frames, frames

def test_landing_table_and_verdict_boxes_come_from_the_ledger_and_show_new_fields(tmp_path, monkeypatch):
    "A verdict string or a field of the ledger's rows that stage.py has never seen still shows (no code change needed)."
    import dataclasses
    from collapse_repro import claims
    mod = _stage_module(ROOT / 'figures', monkeypatch)
    table = claims.ledger(ROOT / 'figures')
    box = mod.verdict_box('feng_scaling', table)
    for rows in table:
        if rows[0].claim.experiment == 'feng_scaling': assert f'data-claim="{rows[0].claim.id}"' in box
    @dataclasses.dataclass(frozen=True)
    class Wider(claims.Ours): interval: tuple = (0.1, 0.2)
    rows = [dataclasses.replace(r, ours=Wider(r.ours.value, r.ours.text), verdict='not resolved at this profile')
            if r.ours else r for r in table[0]]
    html = mod.claim_rows_html([rows])
    assert 'interval: 0.1 to 0.2' in html and 'verdict-not-resolved-at-this-profile' in html

# ---- what every staged page says, read statically (no Sphinx, no browser): maths notation and machine paths ----------
import re, pytest

@pytest.fixture(scope='module')
def staged(tmp_path_factory):
    "The site's pages as `make docs` stages them from the committed figures/ (once, for the checks below)."
    spec = importlib.util.spec_from_file_location('docs_stage_once', ROOT / 'docs' / 'stage.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    dest = tmp_path_factory.mktemp('site') / 'src'
    mod.stage(dest)
    return dest

def _pages(dest):
    "page -> list of (what, text): each markdown cell, each code cell's source and each output's text on a staged page."
    out = {}
    for f in sorted(dest.rglob('*')):
        if f.suffix in ('.md', '.rst'): out[str(f.relative_to(dest))] = [('markdown' if f.suffix == '.md' else 'rst', f.read_text())]
        elif f.suffix == '.ipynb':
            parts = []
            for c in nbformat.read(f, as_version=4).cells:
                generated = 'injected-parameters' in c.metadata.get('tags', [])   # papermill's, not the author's
                parts.append(('generated' if generated else c.cell_type, c.source))
                for o in c.get('outputs', []):
                    if 'text' in o: parts.append(('output', ''.join(o['text'])))
                    for k, v in (o.get('data') or {}).items():
                        if k.startswith('text/'): parts.append(('markdown' if k == 'text/markdown' else 'output', ''.join(v)))
            out[str(f.relative_to(dest))] = parts
    return out

_CODE_AND_MATHS = re.compile(r'```.*?```|`[^`\n]*`|\$\$.*?\$\$|(?<![\\$])\$[^$]+?\$|<code>.*?</code>', re.S)

def prose(markdown: str) -> str:
    "Markdown without its code (fenced, inline, <code>) and its maths ($…$, $$…$$): the text a reader sees as text."
    return _CODE_AND_MATHS.sub(' ', markdown)

def test_prose_is_stripped_of_code_and_maths_only():
    assert prose('a $\\hat\\theta_{k+1}$ b `x_{1}` c $$\ne^{x}\n$$ d') == 'a   b   c   d'
    assert '_{' in prose('θ̂_{k+1} outside maths') and '^{' in prose('e^{(β²−α²)/2}')

def test_no_tex_fragment_in_plain_text_on_any_staged_page(staged):
    "Every formula is MathJax: no `_{`/`^{` left in the prose or the Markdown outputs of a staged page."
    bad = {p: hits[:3] for p, parts in _pages(staged).items()
           if (hits := [m for w, t in parts if w == 'markdown' for m in re.findall(r'.{0,25}[_^]\{.{0,25}', prose(t))])}
    assert not bad, bad

# Unicode pseudo-maths: a hat (U+0302), sub- or superscript digits and ᵀ, or `x_k`-style subscripts written as text
PSEUDO_MATHS = re.compile(r'.{0,20}(?:\u0302|[₀-₉⁰-⁹ᵀ]|(?<![\w/.-])[A-Za-zα-ωΑ-Ω]_[A-Za-z0-9*](?![\w/.-])).{0,20}')

def test_theory_chapters_and_experiment_notebooks_write_formulas_in_mathjax():
    """The notebooks whose prose is all maths-bearing (Yi et al.'s and Feng et al.'s theory chapters, the notebooks of
    `linreg/` and `gmm/`, and every experiment) write formulas as `$…$`: no Unicode pseudo-maths (θ̂_k, m₂, Xᵀ) in their prose. The title cell is
    exempt: its title and one-line description are what `collapse-repro list` prints, as plain text."""
    nbs = [*sorted((ROOT / 'nbs').glob('1[0-9]_linreg*.ipynb')), *sorted((ROOT / 'nbs').glob('2[0-9]_gmm*.ipynb')),
           *sorted((ROOT / 'nbs/experiments').glob('*.ipynb'))]
    bad = {}
    for p in nbs:
        cells = [c for c in nbformat.read(p, as_version=4).cells if c.cell_type == 'markdown'][1:]
        hits = [h for c in cells for h in PSEUDO_MATHS.findall(prose(c.source))]
        if hits: bad[p.name] = hits[:3]
    assert not bad, bad

# A path of the machine a run or build was made on: /tmp/…, /work/…, a home directory, macOS's /private/var or a
# Windows user folder (a path inside a URL, or `~/.cache`, is not one)
MACHINE_PATH = re.compile(r'(?<![\w.~-])/(?:tmp|work|root|home|Users|scratch|private/var)/[^\s\'"<>)]*|[A-Za-z]:\\Users\\')

def test_no_machine_path_on_any_staged_page(staged):
    """No page shows where a run or the build happened: the staged pages' prose, outputs and papermill's injected
    parameters (`run_dir`), and the built HTML when present. Code the authors wrote (an example command's
    `--out /tmp/x`) is not a machine's path."""
    def shown(what, text): return prose(text) if what in ('markdown', 'rst') else '' if what == 'code' else text
    bad = {p: hits[:3] for p, parts in _pages(staged).items()
           if (hits := [m for w, t in parts for m in MACHINE_PATH.findall(shown(w, t))])}
    bad.update(machine_paths_in_html(ROOT / '_docs' / 'html'))   # `make docs` output, when this checkout has built it
    assert not bad, bad

def machine_paths_in_html(html) -> dict:
    "page -> machine paths in a built site's HTML (outside scripts and the authors' code blocks); {} if not built."
    bad = {}
    for f in sorted(html.rglob('*.html')) if html.exists() else []:
        if str(f.relative_to(html)).startswith('_static'): continue
        page = re.sub(r'<script.*?</script>', '', f.read_text(errors='replace'), flags=re.S)
        page = re.sub(r'<div class="highlight-(?!none|myst-ansi)[^"]*notranslate">.*?</div>', '', page, flags=re.S)  # authors' code
        if hits := MACHINE_PATH.findall(page): bad[f'html/{f.relative_to(html)}'] = hits[:3]
    return bad

def test_library_figures_get_alt_text_from_the_prose_above(staged):
    "A figure drawn in a library chapter gets alt text from the chapter's prose just above it (no `show` helper needed)."
    missing = {}
    for f in sorted((staged / 'lib').glob('*.ipynb')):
        cells = [c for c in nbformat.read(f, as_version=4).cells if c.cell_type == 'code']
        bad = [c.get('id') for c in cells if len(c.metadata.get('mystnb', {}).get('image', {}).get('alt', '').split()) < 4]
        if bad: missing[f.name] = bad[:3]
    assert not missing, missing
    own = nbformat.read(staged / 'lib/70_own_verifier.ipynb', as_version=4)
    plot = next(c for c in own.cells if c.cell_type == 'code' and 'plt.subplots' in c.source)
    assert 'Accuracy per round with your verifier' in plot.metadata['mystnb']['image']['alt']

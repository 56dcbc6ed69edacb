# Sphinx configuration of the tutorial site (`make docs`): sphinx-build -c docs _docs/src _docs/html, after
# docs/stage.py has staged the pages into _docs/src. The Jupyter Book 1 stack: myst-nb renders the notebooks,
# sphinx-book-theme lays them out, autodoc writes the API reference. Everything works offline.
import os, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault('IN_TEST', '1')          # what nbdev_test sets: library notebooks run at the smoke profile
os.environ.setdefault('MPLBACKEND', 'Agg')
os.environ.setdefault('TQDM_DISABLE', '1')     # notebooks executed for the site draw no progress bars (tqdm >= 4.66)
os.environ.setdefault('HF_HUB_DISABLE_PROGRESS_BARS', '1')   # nor Hugging Face's own

project = 'collapse_repro'
author = 'collapse_repro developers'
copyright = '2026 onwards, collapse_repro developers'
html_title = 'collapse_repro'
extensions = ['myst_nb', 'sphinx.ext.autodoc', 'sphinx.ext.napoleon']
root_doc = 'index'
exclude_patterns = ['toc.json', '**/.ipynb_checkpoints']

# myst-nb: library notebooks are executed (cached by code hash in _docs/.jupyter_cache, so a rebuild only re-runs a
# notebook whose code changed); experiment pages are notebooks executed by their committed runs, never re-run.
nb_execution_mode = 'cache'
nb_execution_cache_path = str(ROOT / '_docs' / '.jupyter_cache')
nb_execution_excludepatterns = ['experiments/*']
nb_execution_timeout = 900
nb_execution_raise_on_error = True            # a failing library notebook fails the build
nb_merge_streams = True
# every notebook runs in the kernel the runner uses (runner.ensure_kernel): this interpreter, figures drawn inline even
# under MPLBACKEND=Agg, text progress bars, no kernel start-up chatter
from collapse_repro.runner import ensure_kernel
def _own_kernel() -> str:
    """The runner's kernelspec registered under this checkout's _docs/ (the shared cache's copy is whichever checkout on
    the machine registered last, so a build could run another checkout's package); the kernel's cache is untouched."""
    cache = os.environ.get('COLLAPSE_REPRO_CACHE')
    os.environ['COLLAPSE_REPRO_CACHE'] = str(ROOT / '_docs' / 'kernel')
    try: return ensure_kernel()
    finally:
        if cache is None: del os.environ['COLLAPSE_REPRO_CACHE']
        else: os.environ['COLLAPSE_REPRO_CACHE'] = cache
nb_kernel_rgx_aliases = {'.*': _own_kernel()}
myst_enable_extensions = ['dollarmath', 'amsmath', 'colon_fence']
nb_render_markdown_format = 'gfm'              # Markdown outputs (results tables) with their tables, not raw `| … |`
html_copy_source = False                       # no _sources/ copy of every page: the site stays small
myst_heading_anchors = 3

# API reference: autodoc, one page per exported module (what nbdev's show_doc would give)
autodoc_member_order = 'bysource'
autodoc_default_options = {'no-value': True}
autodoc_typehints = 'signature'
# Public functions document their parameters Google-style (`Args:` / `Returns:`, DEVELOPERS.md); napoleon turns those
# sections into field lists. NumPy-style sections are not parsed, and `:ivar:` fields avoid attribute directives that
# would duplicate the dataclass fields autodoc lists anyway.
napoleon_google_docstring, napoleon_numpy_docstring, napoleon_use_ivar = True, False, True

_FIELD = re.compile(r'^(\s*:(?:param|type|returns|rtype|raises|ivar|vartype)(?: [\w.]+)?:)(.*)$')

_DOLLAR_MATH = re.compile(r'\$(?![A-Z][A-Z0-9_]*\b)([^$\s][^$]*?)\$')

def _docstring_as_text(app, what, name, obj, options, lines):
    """nbdev docstrings are Markdown-ish prose, not reStructuredText: keep their `code` spans as inline literals and
    their `$…$` as maths (a module's docstring is its notebook's summary line), and escape everything else (`|a − b|`
    would otherwise be an RST substitution, `p_*` a reference). The field markers napoleon made of `Args:` / `Returns:`
    sections (it runs first) stay as they are."""
    def esc(t): return re.sub(r'([\\*|_`:<>\[\]])', r'\\\1', t)
    def line(l):
        m = _FIELD.match(l)
        head, rest = (m[1], m[2]) if m else ('', l)
        parts = re.split(r'`([^`]+)`', rest)
        return head + ''.join(prose(p) if i % 2 == 0 else f'\\ ``{p}``\\ ' for i, p in enumerate(parts))
    def prose(t):       # $…$ is maths (MathJax, as in the notebooks); $NAME is an environment variable
        parts = _DOLLAR_MATH.split(t)
        return ''.join(esc(p) if i % 2 == 0 else f'\\ :math:`{p}`\\ ' for i, p in enumerate(parts))
    lines[:] = [line(l) for l in lines]

_BAR = re.compile(r'^(.*?)\s*(\d+)%\|[^|]*\|\s*(\d+)/(\d+)')

def _last_bar_states(text: str) -> str:
    """Output text without the progress-bar states that a later state of the same bar (same description and total,
    further along) redraws; myst-nb shows each `\\r` redraw as a line of its own, nested bars interleaved."""
    lines, keep, later = text.split('\n'), [], {}
    for l in reversed(lines):
        m = _BAR.match(l.strip())
        if m and later.get((m[1], m[4]), -1) > int(m[3]): continue
        if m: later[m[1], m[4]] = max(later.get((m[1], m[4]), -1), int(m[3]))
        keep.append(l)
    return '\n'.join(reversed(keep))

sys.path.insert(0, str(ROOT / 'docs'))
from stage import machine_paths_removed        # /tmp/…/runs/x -> runs/x, as staging does for published runs

def _drop_bar_frames(app, doctree, docname):
    """Outputs of the library notebooks executed for the site (their published runs are slimmed already): a library's
    own bars (transformers' `Writing model shards`) ignore TQDM_DISABLE, so their frames are dropped here; and the
    temporary folders and caches of the machine that built the site are not shown (`machine_paths_removed`)."""
    from docutils import nodes
    for n in doctree.findall(nodes.literal_block):
        if 'output' not in n.get('classes', []): continue
        text = n.astext(); new = machine_paths_removed(_last_bar_states(text))
        if new != text: n.children = [nodes.Text(new)]; n.rawsource = new

DIRTY_NOTE = ('<p class="provenance">A commit marked +dirty had uncommitted changes: see '
              '<a href="{up}claims.html#dirty-commits">which</a>.</p>')

def _explain_dirty(app, doctree, docname):
    """A page that shows a `+dirty` commit (in its prose or in outputs, whether kept from `make test` or executed for
    the site) links under its title to the ledger's section saying what was uncommitted."""
    from docutils import nodes
    if docname == 'claims' or '+dirty' not in doctree.astext(): return
    sec = next(iter(doctree.findall(nodes.section)), None)
    if sec is None or not sec.children or not isinstance(sec[0], nodes.title): return
    note = DIRTY_NOTE.format(up='../' * docname.count('/'))
    sec.insert(1, nodes.raw('', note, format='html'))

def setup(app):
    app.connect('doctree-resolved', _drop_bar_frames)    # after myst-nb has chosen each output's form
    app.connect('doctree-resolved', _explain_dirty)
    app.connect('autodoc-process-docstring', _docstring_as_text, priority=600)   # after napoleon's (500)
    app.connect('build-finished', _slim_site, priority=900)   # after the theme rewrites pygments.css (its own, 500)

# nbdev notebooks put their sections at ### under the notebook's # title (nbdev's own convention, which show_doc
# follows); MyST warns on every such jump, which says nothing about the page
suppress_warnings = ['myst.header',
                     'ref.python']   # `Raises: DataError` in a docstring: core re-exports data.DataError, one class under two names

html_theme = 'sphinx_book_theme'
html_theme_options = dict(repository_url='', use_repository_button=False, show_toc_level=2, use_download_button=False,
                          navigation_with_keys=False,
                          collapse_navbar=True)   # a part's sub-pages (the API's modules) only on its own pages: the
                                                  # sidebar is in every page, and 50 module links were 1 MB of the site
html_favicon = 'favicon.svg'                   # (else the browser asks for /favicon.ico, a 404)
html_show_sourcelink = False
html_context = dict(default_mode='light')    # the theme logs a console error when no mode is set
html_last_updated_fmt = None

# MathJax 3 from the django-static-mathjax wheel (MathJax 3.2.2; `make docs` installs it), only the files the pages
# need copied into _static/mathjax: the tex-chtml component, its woff fonts and the TeX extensions it may autoload.
# No CDN.
# Sphinx adds it only to pages that have maths.
import shutil, importlib.util
MATHJAX = ROOT / '_docs' / 'mathjax'
def _stage_mathjax() -> Path:
    spec = importlib.util.find_spec('mathjax')
    if spec is None:
        raise RuntimeError('MathJax 3 is missing: pip install django-static-mathjax==3.2.2.1 (make docs does)')
    es5 = Path(spec.submodule_search_locations[0]) / 'static' / 'mathjax' / 'es5'
    for rel in ['tex-chtml.js', 'output/chtml/fonts/woff-v2', 'input/tex/extensions']:
        src, dest = es5 / rel, MATHJAX / 'mathjax' / rel
        if src.is_dir():
            for f in src.iterdir():
                if f.name != 'all-packages.js' and not (dest / f.name).exists():
                    dest.mkdir(parents=True, exist_ok=True); shutil.copy2(f, dest / f.name)
        elif not dest.exists(): dest.parent.mkdir(parents=True, exist_ok=True); shutil.copy2(src, dest)
    return MATHJAX
html_static_path = [str(_stage_mathjax()), 'static']
html_css_files = ['site.css']
html_js_files = [('site.js', {'defer': 'defer'})]
mathjax_path = 'mathjax/tex-chtml.js'
# no context menu (it would fetch its accessibility modules on demand); $…$ and $$…$$ are found by myst's dollarmath
mathjax3_config = {'options': {'enableMenu': False}}

_CODE = re.compile(r'(<div class="highlight"><pre>)(.*?)(</pre>)', re.S)
_TOKEN_SPAN = re.compile(r'<span class="([a-z0-9]+)">([^<]*)</span>')
_SEARCH_TOOLS = re.compile(r'\s*<script src="(?:\.\./)*(?:_static/searchtools\.js|_static/language_data\.js|searchindex\.js)"></script>')

def _plain_tokens(css: str) -> set[str]:
    """The Pygments token classes that look exactly like plain code in every colour mode of `css` (pygments.css): their
    one rule is the `.highlight` block's own colour. Names, punctuation and whitespace, in the theme's a11y styles."""
    plain = None
    for mode in sorted(set(re.findall(r'html\[data-theme="(\w+)"\] ', css))) or ['']:
        pre = rf'html\[data-theme="{mode}"\] ' if mode else r'(?<![\w\]] )'
        rules = dict(re.findall(rf'{pre}\.highlight \.(\w+) {{ ([^}}]*) }}', css))
        base = re.search(rf'{pre}\.highlight {{[^}}]*?(color: #\w+)', css)
        these = {k for k, v in rules.items() if base and v.strip() == base[1]}
        plain = these if plain is None else plain & these
    return plain

def _slim_site(app, exc):
    """What the built site carried that no reader's browser asks for (the site was over its 15 MB, the landing page
    over 1 MB):
    - the theme's source maps of its scripts and styles (≈ 3.4 MB) and the compiled translations of its labels
      (`_static/locales`, ≈ 0.7 MB with their .po sources; Sphinx reads them at build time, no page loads them);
    - the `<span class="n">` wrappers Pygments puts round each name, bracket and space in code, for classes whose
      colour is the code block's own (`_plain_tokens`; the text is untouched, so is its look): ≈ 2 MB of markup;
    - the search index (0.3 MB) and its scripts, which the theme loads on every page for search-as-you-type, which is
      off here: the search box opens search.html, which loads them itself."""
    if exc is not None: return
    out = Path(app.outdir)
    for f in (out / '_static').rglob('*.map'): f.unlink()
    shutil.rmtree(out / '_static' / 'locales', ignore_errors=True)
    plain = _plain_tokens((out / '_static' / 'pygments.css').read_text())
    for f in out.rglob('*.html'):
        t = f.read_text()
        new = _CODE.sub(lambda c: c[1] + _TOKEN_SPAN.sub(lambda m: m[2] if m[1] in plain else m[0], c[2]) + c[3], t)
        if f.name != 'search.html' or f.parent != out: new = _SEARCH_TOOLS.sub('', new)
        if new != t: f.write_text(new)

# Sphinx configuration of the tutorial site (`make docs`): sphinx-build -c docs _docs/src _docs/html, after
# docs/stage.py has staged the pages into _docs/src. The Jupyter Book 1 stack: myst-nb renders the notebooks,
# sphinx-book-theme lays them out, autodoc writes the API reference. Everything works offline.
import os, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault('IN_TEST', '1')          # what nbdev_test sets: library notebooks run at the smoke profile
os.environ.setdefault('MPLBACKEND', 'Agg')

project = 'collapse_repro'
author = 'collapse_repro developers'
copyright = '2026 onwards, collapse_repro developers'
html_title = 'collapse_repro'
extensions = ['myst_nb', 'sphinx.ext.autodoc']
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
nb_kernel_rgx_aliases = {'.*': ensure_kernel()}
myst_enable_extensions = ['dollarmath', 'amsmath', 'colon_fence']
myst_heading_anchors = 3

# API reference: autodoc, one page per exported module (what nbdev's show_doc would give)
autodoc_member_order = 'bysource'
autodoc_default_options = {'no-value': True}
autodoc_typehints = 'signature'

def _docstring_as_text(app, what, name, obj, options, lines):
    """nbdev docstrings are Markdown-ish prose, not reStructuredText: keep their `code` spans as inline literals and
    escape everything else (`|a − b|` would otherwise be an RST substitution, `p_*` a reference)."""
    def esc(t): return re.sub(r'([\\*|_`:<>\[\]])', r'\\\1', t)
    def line(l):
        parts = re.split(r'`([^`]+)`', l)
        return ''.join(esc(p) if i % 2 == 0 else f'\\ ``{p}``\\ ' for i, p in enumerate(parts))
    lines[:] = [line(l) for l in lines]

def setup(app): app.connect('autodoc-process-docstring', _docstring_as_text)

# nbdev notebooks put their sections at ### under the notebook's # title (nbdev's own convention, which show_doc
# follows); MyST warns on every such jump, which says nothing about the page
suppress_warnings = ['myst.header']

html_theme = 'sphinx_book_theme'
html_theme_options = dict(repository_url='', use_repository_button=False, show_toc_level=2,
                          navigation_with_keys=False)
html_favicon = 'favicon.svg'                   # (else the browser asks for /favicon.ico, a 404)
html_show_sourcelink = False
html_context = dict(default_mode='light')    # the theme logs a console error when no mode is set
html_last_updated_fmt = None

# MathJax from the jupyter-server-mathjax wheel (MathJax 2.7), copied into _static: no CDN, the site works offline
import jupyter_server_mathjax
html_static_path = [str(Path(jupyter_server_mathjax.__file__).parent / 'static'), 'static']
html_css_files = ['site.css']
mathjax_path = 'MathJax.js?config=TeX-AMS-MML_HTMLorMML-full'   # the one combined configuration the wheel ships
myst_update_mathjax = False                     # its settings are MathJax 3's; MathJax 2 finds \\( \\) and \\[ \\] itself
# the wheel ships the STIX-Web fonts only (as Jupyter's classic notebook configured it): never ask for the TeX fonts
mathjax2_config = {'HTML-CSS': dict(availableFonts=[], preferredFont=None, webFont='STIX-Web', imageFont=None,
    # MathJax 2's blank probe font is url('about:blank'), which Chromium refuses with a console error; local() is silent
    styles={'@font-face': {'font-family': 'MathJax_Blank', 'src': "local('MathJax_Blank')"}})}

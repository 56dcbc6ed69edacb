"""The package's shape (issue 27): no import cycle among the modules of `collapse_repro` (`tools/shape_counts.py`, which
reads imports statically, those inside functions included), and the counter itself on small stand-in packages."""
import importlib.util, textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def load_tool():
    "tools/shape_counts.py as a module (tools/ is not a package)."
    spec = importlib.util.spec_from_file_location('shape_counts', ROOT / 'tools' / 'shape_counts.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod

S = load_tool()

def test_no_import_cycle():
    "Imports point down the layers: no module of collapse_repro imports, directly or not, one that imports it."
    g = S.import_graph(ROOT / 'collapse_repro')
    assert 'collapse_repro.runner' in g and 'collapse_repro.core' in g['collapse_repro.runner']
    cs = S.cycles(g)
    assert not cs, 'import cycles: ' + '; '.join(', '.join(S.cycle_edges(g, c)) for c in cs)

def test_modules_compile_without_warnings():
    "No exported module has an invalid escape sequence (a notebook's summary line with TeX becomes a plain docstring)."
    import warnings
    for p in sorted((ROOT / 'collapse_repro').rglob('*.py')):
        with warnings.catch_warnings():
            warnings.simplefilter('error')
            compile(p.read_text(), str(p), 'exec')

def write_pkg(tmp_path, files: dict) -> Path:
    pkg = tmp_path / 'collapse_repro'
    for name, src in files.items():
        f = pkg / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(textwrap.dedent(src))
    return pkg

def test_cycle_found_inside_a_function(tmp_path):
    "An import inside a function closes a cycle as surely as one at module level (the old core.start_run -> runner)."
    pkg = write_pkg(tmp_path, {'__init__.py': '', 'core.py': 'def f():\n    from .runner import g\n',
                               'runner.py': 'from .core import f\n', 'cli.py': 'from . import runner, core\n'})
    g = S.import_graph(pkg)
    assert g['collapse_repro.cli'] == {'collapse_repro.runner', 'collapse_repro.core'}
    assert S.cycles(g) == [['collapse_repro.core', 'collapse_repro.runner']]

def test_subpackages_and_absolute_imports(tmp_path):
    "Subpackage modules resolve `from . import x`, `from .. import y` and absolute imports; a package's `__init__` is a node."
    pkg = write_pkg(tmp_path, {'__init__.py': '', 'core.py': '',
                               'claims/__init__.py': 'from .rules import verdict\nfrom .render import report\n',
                               'claims/rules.py': 'from ..core import x\n',
                               'claims/render.py': 'import collapse_repro.claims.rules\nfrom collapse_repro import core\n'})
    g = S.import_graph(pkg)
    assert g['collapse_repro.claims'] == {'collapse_repro.claims.rules', 'collapse_repro.claims.render'}
    assert g['collapse_repro.claims.rules'] == {'collapse_repro.core'}
    assert g['collapse_repro.claims.render'] == {'collapse_repro.claims.rules', 'collapse_repro.core'}
    assert S.cycles(g) == []
    (pkg / 'claims/rules.py').write_text('from collapse_repro.claims import report\n')    # back up through __init__
    assert S.cycles(S.import_graph(pkg)) == [['collapse_repro.claims', 'collapse_repro.claims.render',
                                              'collapse_repro.claims.rules']]

def test_cell_counts():
    "Export cells: directives and blank lines are not counted; top-level defs and classes are."
    src = '#| export\n\ndef a(): pass\n\nclass B:\n    x = 1\nC = 2\n'
    assert S.is_export(src) and not S.is_export('x = 1\n') and S.is_export('#|exporti\ny = 1')
    assert S.code_lines(src) == 4
    assert S.defined_names(src) == (['a', 'B'], ['C'])

def test_docstrings_are_counted_apart_from_code():
    "A cell's size is its code: a function's docstring (and a class's) is counted only in the `docstrings=True` figure."
    src = 'def f(x):\n    """Line one.\n\n    Args:\n        x: a number.\n    """\n    return x\n\nclass C:\n    "One."\n    y = 1\n'
    assert S.code_lines(src) == 4 and S.code_lines(src, docstrings=True) == 9
    assert S.docstring_lines('def broken(:\n') == set()

def test_experiment_figures_keep_the_constrained_layout():
    """`plotting` turns on matplotlib's constrained layout, which `scale_label`'s stamp relies on to keep the plots clear
    of it; `fig.tight_layout()` replaces it and prints 'The figure layout has changed to tight' in the run's output. A
    figure that needs its own layout passes `layout='none'` to `subplots` and places its parts by hand."""
    import json
    root = Path(__file__).resolve().parents[1]
    bad = [nb.name for nb in sorted((root / 'nbs').glob('**/*.ipynb'))
           if any(c['cell_type'] == 'code' and '.tight_layout(' in ''.join(c['source'])
                  for c in json.loads(nb.read_text(encoding='utf-8'))['cells'])]
    assert bad == [], f'these notebooks call tight_layout: {bad}'

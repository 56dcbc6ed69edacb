#!/usr/bin/env python
"""The package's shape in numbers (issue 27): export cells, modules, and import cycles.

    python tools/shape_counts.py            # print the counts; exit 1 on an import cycle in collapse_repro
    python tools/shape_counts.py --quiet    # only the import-cycle check (and its exit status)

- **Export cells** of the library notebooks (`nbs/NN_*.ipynb` with a `#| default_exp`): lines per cell (code lines,
  neither blank nor an nbdev `#|` directive nor part of a docstring), their median and maximum, the cells over 40
  lines with their names, and the cells that define more than one top-level function or class. Docstrings are counted
  apart (the median with them is printed too): issue 29 asks every public function to document each parameter, which
  fastcore, whose documentation lives in the notebook prose, does not; the limits are on the code.
- **Modules** of `collapse_repro/` (`_modidx.py` excluded): lines per module without its docstrings (and, beside, with
  them), those over 400 flagged.
- **Import cycles** among the modules of `collapse_repro`, read statically with `ast` (imports inside functions count:
  they run as soon as the function does). A cycle makes the exit status 1.

Only the import cycle fails; the other counts are printed for the reader (DEVELOPERS.md lists their exceptions).
"""
from __future__ import annotations
import argparse, ast, json, statistics, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = 'collapse_repro'
CELL_MAX, MODULE_MAX = 40, 400


# --- export cells ---------------------------------------------------------------------------------------------------
def _directives(src: str) -> list[str]:
    "The nbdev directives of a cell (`#| export`, `#|export`, ...), without their marker."
    return [l[2:].strip() for l in src.splitlines() if l.startswith('#|')]

def is_export(src: str) -> bool:
    "Does nbdev export this cell (`#| export`, `exports`, `exporti`, optionally to another module)?"
    return any(d.split()[0] in ('export', 'exports', 'exporti') for d in _directives(src) if d)

def docstring_lines(src: str) -> set[int]:
    "Line numbers (1-based) taken by the docstrings of `src`'s module, classes and functions (none if it does not parse)."
    try: tree = ast.parse(src)
    except SyntaxError: return set()
    out = set()
    for n in ast.walk(tree):
        if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and n.body:
            d = n.body[0]
            if isinstance(d, ast.Expr) and isinstance(d.value, ast.Constant) and isinstance(d.value.value, str):
                out |= set(range(d.lineno, d.end_lineno + 1))
    return out

def code_lines(src: str, docstrings: bool = False) -> int:
    "Lines of a cell that are neither blank nor nbdev directives, nor (unless `docstrings`) part of a docstring."
    skip = set() if docstrings else docstring_lines(src)
    return sum(1 for i, l in enumerate(src.splitlines(), 1) if l.strip() and not l.startswith('#|') and i not in skip)

def defined_names(src: str) -> tuple[list[str], list[str]]:
    "(top-level functions and classes, other top-level assigned names) of a cell's code."
    try: tree = ast.parse(src)
    except SyntaxError: return [], []
    defs, names = [], []
    for n in tree.body:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): defs.append(n.name)
        elif isinstance(n, (ast.Assign, ast.AnnAssign)):
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target]):
                names += [x.id for x in ast.walk(t) if isinstance(x, ast.Name)]
    return defs, names

def library_notebooks(nbs: Path = ROOT / 'nbs') -> list[Path]:
    "The notebooks that export a module (a `#| default_exp` cell)."
    out = []
    for f in sorted(nbs.glob('[0-9]*.ipynb')):
        cells = json.loads(f.read_text(encoding='utf-8'))['cells']
        if any(c['cell_type'] == 'code' and any(d.startswith('default_exp') for d in _directives(''.join(c['source'])))
               for c in cells): out.append(f)
    return out

def export_cells(nb: Path) -> list[dict]:
    "One dict per export cell of `nb`: notebook, index, lines, defs, a name for it."
    out = []
    for i, c in enumerate(json.loads(nb.read_text(encoding='utf-8'))['cells']):
        src = ''.join(c['source'])
        if c['cell_type'] != 'code' or not is_export(src): continue
        defs, names = defined_names(src)
        out.append(dict(nb=nb.name, cell=i, lines=code_lines(src), with_doc=code_lines(src, docstrings=True), defs=defs,
                        name=', '.join(defs or names[:3]) or '(imports)'))
    return out


# --- modules --------------------------------------------------------------------------------------------------------
def modules(pkg: Path = ROOT / PKG) -> dict[str, Path]:
    "Dotted module name -> file, for every module of the package (`_modidx.py` excluded)."
    out = {}
    for f in sorted(pkg.rglob('*.py')):
        if f.name == '_modidx.py' or '__pycache__' in f.parts: continue
        parts = list(f.relative_to(pkg.parent).with_suffix('').parts)
        if parts[-1] == '__init__': parts = parts[:-1]
        out['.'.join(parts)] = f
    return out

def _resolve(mod: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    "The absolute module a `from ... import` names, for a statement in module `mod`."
    if not node.level: return node.module or ''
    base = mod.split('.') if is_pkg else mod.split('.')[:-1]
    base = base[:len(base) - (node.level - 1)]
    return '.'.join(base + ([node.module] if node.module else []))

def imports(mod: str, file: Path, known: set[str]) -> set[str]:
    """The package's modules that `mod` imports anywhere in its code (module level or inside functions). `from X import
    y` imports the submodule `X.y` when there is one, else `X`."""
    is_pkg = file.name == '__init__.py'
    out = set()
    for n in ast.walk(ast.parse(file.read_text(encoding='utf-8'))):
        if isinstance(n, ast.Import):
            out |= {a.name for a in n.names if a.name in known}
        elif isinstance(n, ast.ImportFrom):
            src = _resolve(mod, is_pkg, n)
            for a in n.names:
                sub = f'{src}.{a.name}'
                if sub in known: out.add(sub)
                elif src in known: out.add(src)
    # importing `pkg.sub.mod` first runs `pkg/sub/__init__.py`: that package counts as imported too, unless it is one
    # that `mod` itself lies in (a package importing its own submodules while it initialises is Python's normal way)
    own = {mod.rsplit('.', k)[0] for k in range(1, mod.count('.') + 1)}
    for m in list(out):
        parts = m.split('.')
        out |= {p for i in range(2, len(parts)) if (p := '.'.join(parts[:i])) in known and p not in own}
    out.discard(mod)
    return out

def import_graph(pkg: Path = ROOT / PKG) -> dict[str, set[str]]:
    "Module -> the package's modules it imports."
    ms = modules(pkg)
    return {m: imports(m, f, set(ms)) for m, f in ms.items()}

def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    "The strongly connected components with more than one module (each an import cycle), sorted (Tarjan)."
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = n[0]; n[0] += 1
        stack.append(v); on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1: out.append(sorted(comp))
    for v in sorted(graph):
        if v not in index: visit(v)
    return sorted(out)

def cycle_edges(graph: dict[str, set[str]], comp: list[str]) -> list[str]:
    "The imports inside one cycle, as `a -> b`."
    return [f'{a} -> {b}' for a in comp for b in sorted(graph[a]) if b in comp]


# --- report ---------------------------------------------------------------------------------------------------------
def report(root: Path = ROOT) -> tuple[str, bool]:
    "(the counts as text, whether there is an import cycle)."
    out = []
    cells = [c for nb in library_notebooks(root / 'nbs') for c in export_cells(nb)]
    if cells:
        ls = [c['lines'] for c in cells]
        big = sorted((c for c in cells if c['lines'] > CELL_MAX), key=lambda c: -c['lines'])
        multi = [c for c in cells if len(c['defs']) > 1]
        out += [f'export cells: {len(cells)} in {len({c["nb"] for c in cells})} library notebooks; lines per cell: '
                f'median {statistics.median(ls):g}, max {max(ls)} (docstrings excluded; with them: median '
                f'{statistics.median(c["with_doc"] for c in cells):g}, max {max(c["with_doc"] for c in cells)}); '
                f'{len(big)} over {CELL_MAX}; '
                f'{len(multi)} with more than one def']
        out += [f'  over {CELL_MAX}: {c["nb"]} cell {c["cell"]}: {c["lines"]} lines ({c["name"]})' for c in big]
        out += [f'  more than one def: {c["nb"]} cell {c["cell"]}: {c["name"]}' for c in multi]
    ms = modules(root / PKG)
    texts = {m: f.read_text(encoding='utf-8') for m, f in ms.items()}
    total = {m: len(s.splitlines()) for m, s in texts.items()}
    sizes = {m: total[m] - len(docstring_lines(s)) for m, s in texts.items()}
    over = [m for m in sizes if sizes[m] > MODULE_MAX]
    out += ['', f'modules: {len(ms)}; {len(over)} over {MODULE_MAX} lines (docstrings excluded; with them in brackets)']
    out += [f'  {m:32s} {sizes[m]:5d} ({total[m]:4d})' + ('  > ' + str(MODULE_MAX) if m in over else '') for m in sorted(ms)]
    g = import_graph(root / PKG)
    cs = cycles(g)
    out += ['', f'import cycles in {PKG}: {len(cs)}']
    for c in cs: out += ['  cycle: ' + ', '.join(c)] + [f'    {e}' for e in cycle_edges(g, c)]
    return '\n'.join(out), bool(cs)

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--quiet', action='store_true', help='only the import-cycle check')
    args = ap.parse_args(argv)
    text, cyclic = report()
    if args.quiet: text = text[text.index('import cycles'):]
    print(text)
    return 1 if cyclic else 0

if __name__ == '__main__': sys.exit(main())

#!/usr/bin/env python
"""`nbdev_test`, keeping what the library notebooks printed and drew for the tutorial site.

    python tools/nbdev_test_keep.py [--n_workers N] [--path GLOB]

Runs nbdev's own `nbdev_test` (the same notebooks, skip flags and IN_TEST semantics). Each library notebook
(nbs/NN_*.ipynb) that passes is also written with its cells' outputs to `_docs/executed/`, stamped with the hash of its
code cells (`code_hash`). `docs/stage.py` shows those outputs while the hash still matches the notebook instead of
executing it a second time; a notebook edited since, or never tested, is executed by the docs build as before.
"""
from __future__ import annotations
import argparse, hashlib, json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXECUTED = ROOT / '_docs' / 'executed'
LIBRARY = re.compile(r'/\d\d_[^/]*\.ipynb$')


def code_hash(cells) -> str:
    "sha256 of a notebook's code cells (their sources, in order): whether kept outputs still belong to the notebook."
    src = [c['source'] if isinstance(c['source'], str) else ''.join(c['source']) for c in cells if c['cell_type'] == 'code']
    return hashlib.sha256(json.dumps(src).encode()).hexdigest()


def _keep(fn: Path, executed_cells):
    "Write the notebook file `fn` with the outputs its executed cells (matched by cell id) produced."
    raw = json.loads(Path(fn).read_text())
    out = {c.get('id'): c for c in executed_cells if c.get('cell_type') == 'code'}
    for c in raw['cells']:
        if c['cell_type'] == 'code' and c.get('id') in out:
            e = out[c['id']]
            c['outputs'] = json.loads(json.dumps(list(e.get('outputs') or []), default=dict))
            c['execution_count'] = e.get('execution_count')
    raw['metadata']['collapse_repro_code_hash'] = code_hash(raw['cells'])
    EXECUTED.mkdir(parents=True, exist_ok=True)
    tmp = EXECUTED / f'{fn.name}.tmp'
    tmp.write_text(json.dumps(raw))
    tmp.replace(EXECUTED / fn.name)


_last = {}


def _install():
    "Wrap nbdev's test_nb and execnb's CaptureShell.run_all (once per process); nbdev.test."
    import nbdev.test as T
    from execnb.shell import CaptureShell
    if not hasattr(CaptureShell, '_kept_orig'):
        CaptureShell._kept_orig, CaptureShell.run_all = CaptureShell.run_all, _run_all_kept
    if not hasattr(T, '_kept_orig'):
        T._kept_orig, T.test_nb = T.test_nb, _test_nb_kept
    return T


def _run_all_kept(self, nb, *a, **k):
    "CaptureShell.run_all, remembering the cells it ran (a worker runs one notebook at a time)."
    _last['cells'] = nb.cells
    return type(self)._kept_orig(self, nb, *a, **k)


def _test_nb_kept(fn, *a, **k):
    "nbdev's test_nb; a library notebook that passed is kept with its outputs."
    T = _install()
    _last.clear()
    res = T._kept_orig(fn, *a, **k)
    if res[0] and LIBRARY.search(str(fn)) and 'cells' in _last:
        try: _keep(Path(fn), _last['cells'])
        except Exception as e: print(f'(outputs of {fn} not kept for the docs: {e})', file=sys.stderr)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--n_workers', type=int, default=None)
    ap.add_argument('--path', default=None)
    a = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import nbdev_test_keep as K        # the wrappers by an importable name, so worker processes can unpickle them
    K._install().nbdev_test.__wrapped__(path=a.path, n_workers=a.n_workers)


if __name__ == '__main__':
    main()

"""Re-slim the committed executed notebooks of published runs, `figures/<profile>/*.ipynb`, with the runner's current
`slim_notebook` (a progress bar keeps only its last state; widget state dropped; long streams capped). Outputs only:
no notebook is re-run, and a notebook that slimming leaves unchanged is not rewritten.

    python tools/reslim.py [figures]          # rewrite in place; prints each notebook it changed
    python tools/reslim.py --check [figures]  # exit 1 if any notebook would change"""
import argparse, sys
from pathlib import Path
import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from collapse_repro.runner import slim_notebook

def restore_redraws(nb):
    """Put back the carriage return that the runner's first `slim_notebook` removed from the start of each
    progress-bar refresh (the kernel sends each refresh as a stream output of its own, `\\r` + the bar): a stream
    output that follows one of the same stream not ending its line was such a refresh, and redraws that line."""
    for c in nb.cells:
        prev = None
        for o in c.get('outputs', []):
            if o.get('output_type') != 'stream': prev = None; continue
            t = o.get('text', '')
            if prev is not None and prev.get('name') == o.get('name') and not prev.get('text', '').endswith('\n') \
               and not t.startswith(('\r', '\n')): o['text'] = '\r' + t
            prev = o
    return nb

def reslim(path: Path, write: bool = True) -> bool:
    "Slim the notebook at `path` again; True if that changed it (and, with `write`, the file was rewritten)."
    before = path.read_text()
    nb = restore_redraws(nbformat.reads(before, as_version=4))
    after = nbformat.writes(slim_notebook(nb)) + '\n'
    if after == before or nbformat.reads(after, as_version=4) == nbformat.reads(before, as_version=4): return False
    if write: path.write_text(after)
    return True

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('figures', nargs='?', default=ROOT / 'figures', type=Path)
    ap.add_argument('--check', action='store_true', help='change nothing; exit 1 if a notebook would change')
    a = ap.parse_args()
    changed = [p for p in sorted(a.figures.glob('*/*.ipynb')) if reslim(p, write=not a.check)]
    for p in changed: print(('would change ' if a.check else 'slimmed ') + str(p))
    sys.exit(1 if a.check and changed else 0)

#!/usr/bin/env python
"""Convert notebooks to and from a plain-text "percent" format, for editing in a text editor.

    python tools/nbtext.py to-py  nbs/00_core.ipynb  > /tmp/00_core.py
    python tools/nbtext.py to-nb  /tmp/00_core.py    nbs/00_core.ipynb

Cells start with `# %%` (code) or `# %% [markdown]` (markdown; every line prefixed with `# `).
Cell ids and tags ride on the marker: `# %% id=1a2b3c4d tags=["parameters"]`, so a round trip keeps
the ids (and the nbdev cell references in the exported module) stable; new cells get fresh ids. Outputs are not kept: run
`nbdev_clean` afterwards, as always. The notebook is the source of truth; this is only an editor aid.
"""
import json, re, sys
from pathlib import Path
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

MARKER = re.compile(r'^# %%(?P<md> \[markdown\])?(?: id=(?P<id>[\w-]+))?(?: tags=(?P<tags>\[.*\]))?\s*$')

def nb_to_text(nb) -> str:
    chunks = []
    for cell in nb.cells:
        tags = cell.get('metadata', {}).get('tags')
        head = '# %%' + (' [markdown]' if cell.cell_type == 'markdown' else '') + (f' id={cell.id}' if cell.get('id') else '') + (f' tags={json.dumps(tags)}' if tags else '')
        src = cell.source
        if cell.cell_type == 'markdown': src = '\n'.join(('# ' + l) if l else '#' for l in src.split('\n'))
        chunks.append(head + '\n' + src)
    return '\n\n'.join(chunks) + '\n'

def text_to_nb(text: str):
    cells, cur = [], None
    for line in text.split('\n'):
        m = MARKER.match(line)
        if m:
            if cur: cells.append(cur)
            cur = dict(md=bool(m['md']), id=m['id'], tags=json.loads(m['tags']) if m['tags'] else None, lines=[])
        elif cur is not None: cur['lines'].append(line)
    if cur: cells.append(cur)
    nb = new_notebook()
    nb.metadata['kernelspec'] = dict(display_name='python3', language='python', name='python3')
    for c in cells:
        lines = c['lines']
        while lines and not lines[-1].strip(): lines.pop()
        if c['md']: src = '\n'.join(l[2:] if l.startswith('# ') else l[1:] if l.startswith('#') else l for l in lines)
        else: src = '\n'.join(lines)
        cell = new_markdown_cell(src) if c['md'] else new_code_cell(src)
        if c['id']: cell.id = c['id']
        if c['tags']: cell.metadata['tags'] = c['tags']
        nb.cells.append(cell)
    return nb

if __name__ == '__main__':
    cmd, src, *dst = sys.argv[1:]
    if cmd == 'to-py': print(nb_to_text(nbformat.read(src, as_version=4)), end='')
    elif cmd == 'to-nb': nbformat.write(text_to_nb(Path(src).read_text()), dst[0])
    else: sys.exit(__doc__)

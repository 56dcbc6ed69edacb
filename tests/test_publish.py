"Publishing keeps the run's executed notebook beside its figures (figures/<profile>/<experiment>.ipynb), slimmed."
import json
import nbformat
from conftest import cli
from collapse_repro.runner import slim_notebook, WIDGET_MIME

def test_published_run_keeps_its_executed_notebook_with_plots(demo_env, monkeypatch):
    monkeypatch.setenv('MPLBACKEND', 'Agg')    # as the Makefile and CI export it: the figures must still be drawn inline
    r = cli('run', 'demo', '--profile', 'smoke', '--publish', '--no-progress')
    assert r.returncode == 0, r.stderr
    pub = demo_env / 'figures' / 'smoke'
    nb = nbformat.read(pub / 'demo.ipynb', as_version=4)
    mimes = [m for c in nb.cells for o in c.get('outputs', []) for m in o.get('data', {})]
    assert 'image/png' in mimes, mimes
    assert any('injected-parameters' in c.metadata.get('tags', []) for c in nb.cells)     # as papermill ran it
    assert json.loads((pub / 'demo_hist.json').read_text())['executed_notebook'] == 'demo.ipynb'
    assert json.loads((pub / 'demo_results.json').read_text())['runner']['executed_notebook'] == 'demo.ipynb'

def test_a_run_without_publish_writes_no_notebook_into_figures(demo_env):
    assert cli('run', 'demo', '--profile', 'smoke', '--no-progress').returncode == 0
    assert not (demo_env / 'figures').exists()

def test_slim_notebook_drops_widgets_and_caps_streams_but_keeps_images():
    bar = ''.join(f'\r{i:3d}%|{"#" * (i // 10)}|' for i in range(101)) + '\n'
    long = ''.join(f'epoch {i}\n' for i in range(1000))
    png = dict(output_type='display_data', data={'image/png': 'iVBORw0KGgo=', 'text/plain': '<Figure>'}, metadata={})
    widget = dict(output_type='display_data', data={WIDGET_MIME: {'model_id': 'x'}, 'text/plain': 'HBox()'}, metadata={})
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('x', outputs=[
        nbformat.v4.new_output('stream', name='stderr', text=bar), nbformat.v4.new_output('stream', name='stdout', text=long),
        nbformat.from_dict(widget), nbformat.from_dict(png), nbformat.v4.new_output('error', ename='E', evalue='v', traceback=[])])])
    nb.metadata['widgets'] = {'application/vnd.jupyter.widget-state+json': {'state': {}}}
    slim_notebook(nb)
    outs = nb.cells[0].outputs
    assert [o.output_type for o in outs] == ['stream', 'stream', 'display_data', 'error'] and 'widgets' not in nb.metadata
    assert outs[0].text == '100%|##########|\n'                                   # the bar's last state only
    lines = outs[1].text.split('\n')
    assert len(lines) <= 202 and lines[0] == 'epoch 0' and 'epoch 999' in lines and any('lines cut' in l for l in lines)
    assert outs[2].data['image/png'] == 'iVBORw0KGgo='
    nbformat.validate(nb)

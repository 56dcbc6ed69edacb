"Two fresh runs of the same request write the same results.json, byte for byte, once provenance and timing are dropped."
import json
from conftest import cli_here
from collapse_repro.core import comparable

def test_two_fresh_smoke_runs_are_byte_identical_but_for_provenance_and_timing(tmp_path, monkeypatch):
    "One real experiment in full (the tool `tools/smoke_identity.py --twice` does every one); timings kept apart."
    monkeypatch.setenv('MPLBACKEND', 'Agg')
    texts = []
    for i in (1, 2):
        r = cli_here('run', 'feng_phase_transition', '--profile', 'smoke', '--out', tmp_path / str(i), '--no-progress')
        assert r.returncode == 0, r.stderr
        res = json.loads((tmp_path / str(i) / 'results.json').read_text())
        assert res['timing']['wall_time_s'] > 0 and 'provenance' in res
        texts.append(comparable(res))
    assert texts[0] == texts[1]

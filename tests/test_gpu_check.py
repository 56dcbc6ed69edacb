"""bench/gpu_check.py's arithmetic (the stages themselves run in CI as `gpu_check.py --tiny`): the generation rate it
reads for a batch size, and projections from a stored device check for every neural experiment's gpu profile."""
import json, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'bench'))
import gpu_check

H200 = ROOT / 'bench' / 'results' / 'gpu_check_h200_20261127.json'

def test_generation_rate_reads_the_largest_measured_batch_not_above():
    llm = dict(generate_tokens_per_s_batch64=100.0, generate_tokens_per_s_batch256=400.0, finetune_tokens_per_s=1.0)
    assert gpu_check.generation_rate(llm, 256) == (400.0, 256)
    assert gpu_check.generation_rate(llm, 1024) == (400.0, 256)        # unmeasured larger batch: a floor, not a guess
    assert gpu_check.generation_rate(llm, 100) == (100.0, 64)
    assert gpu_check.generation_rate(llm, 32) == (50.0, 64)            # below the smallest: in proportion

@pytest.mark.skipif(not H200.exists(), reason='no stored device check')
def test_projections_from_a_stored_check_cover_every_gpu_profile(tmp_path, capsys):
    out = tmp_path / 'proj.json'
    assert gpu_check.main(['--project-from', str(H200), '--json', str(out)]) == 0
    rec = json.loads(out.read_text())
    assert rec['measurements'] == str(H200) and rec['measured_device']['gpu'].startswith('NVIDIA')
    gpu = {k.split(' gpu')[0] for k in rec['projections_h'] if ' gpu' in k}
    assert gpu >= {'yi_cvae_schedule', 'yi_cvae_verifier_quality', 'yi_cvae_initial_size', 'feng_eigen',
                   'yi_xsum_rounds', 'feng_summarization_verifiers'}, gpu
    assert all(0 < v < 100 for v in rec['projections_h'].values())
    assert 'projected wall time' in capsys.readouterr().out

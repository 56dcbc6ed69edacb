"Mechanism tests of collapse_repro.eigen: P1000 encoding, invalid decoding, tolerance, consistency verifier, beam search."
import numpy as np, pytest, torch
torch.set_num_threads(1)      # much faster than oversubscribing a busy 2-core machine
from collapse_repro.eigen import (INVALID, EigenTransformer, beam_search, consistency_error, decode, decode_targets,
                                  eigenvalues, encode_matrices, encode_numbers, encode_targets, greedy_decode, random_symmetric,
                                  rel_l1, round_p1000, select, to_tokens, within_tolerance)

def roundtrip(x):
    x = np.asarray(x, float)
    val, ok = decode_targets(encode_targets(x[None])[:, 1:], len(x))
    assert ok.all()
    return val[0]

@pytest.mark.parametrize('x', [[0.0, -0.0, 1.0, -1.0], [3.14159, -2.71828, 1234567.0, -9.87654e-30],
                               [9.995e99, -1.234e-98, 999.5, -0.0999951], [12.3, -5.37, 100.0, 7e5]])
def test_p1000_roundtrip_three_significant_digits(x):
    x = np.asarray(x); v = roundtrip(x)
    assert np.all(np.abs(v - x) <= 0.005 * np.abs(x) + 1e-300)
    assert np.allclose(roundtrip(v), v, rtol=1e-12)                      # decoded values are fixed points

def test_p1000_tokens():
    toks = [to_tokens(t) for t in encode_numbers(np.array([0.0, -5.37, 12.3, 999.6, 1e50]))]
    assert toks == [['+', 'N0', 'E0'], ['-', 'N537', 'E-2'], ['+', 'N123', 'E-1'], ['+', 'N100', 'E1'], ['+', 'N100', 'E48']]
    with pytest.raises(ValueError): encode_numbers(np.array([1e200]))
    with pytest.raises(ValueError): encode_numbers(np.array([np.nan]))
    A = random_symmetric(2, 3, rng=0); assert encode_matrices(A).shape == (2, 29)

def lawt_write_float(v):
    "LAWT's `Positional.write_float` rule for precision 2 (facebookresearch/LAWT src/envs/encoders.py), restated: '%.2e' of |v|."
    digits, ex = ('%.2e' % abs(v)).split('e'); m, e = int(digits.replace('.', '')), int(ex) - 2
    if e < -100: m = 0
    if m == 0: v, e = 0.0, 0
    return ['+' if v >= 0 else '-', f'N{m}', f'E{e}']

@pytest.mark.parametrize('x, toks', [(0.0009995, ['+', 'N999', 'E-6']),      # just below the decimal tie: the quotient would give N100 E-5
                                     (-0.0009995, ['-', 'N999', 'E-6']), (0.0015, ['+', 'N150', 'E-5']),
                                     (1.005, ['+', 'N100', 'E-2']), (2.675, ['+', 'N267', 'E-2']), (1.0051, ['+', 'N101', 'E-2']),
                                     (999.5, ['+', 'N100', 'E1']), (998.5, ['+', 'N998', 'E0']),   # exact ties: half to even
                                     (-0.0, ['+', 'N0', 'E0']), (-5e-99, ['+', 'N0', 'E0']),       # LAWT: below 10^-98 is zero, sign +
                                     (1.234e-98, ['+', 'N123', 'E-100'])])
def test_p1000_rounds_the_exact_value_like_lawt(x, toks):
    assert to_tokens(encode_numbers(np.array(x))) == toks == lawt_write_float(x)

def test_p1000_matches_lawt_on_every_magnitude_and_on_decimal_ties():
    r = np.random.default_rng(1)
    x = np.concatenate([r.uniform(-1, 1, 30000) * 10.0 ** r.integers(-105, 100, 30000),
                        (r.integers(1000, 10000, 30000) + 0.5) / 10 * 10.0 ** r.integers(-30, 30, 30000) * r.choice([-1, 1], 30000),
                        [1e-97, 9.995e-99, 999.9999999999999, 1000.0, 0.01, 1e-5]])
    assert [to_tokens(t) for t in encode_numbers(x)] == [lawt_write_float(v) for v in x]
    r3 = round_p1000(x)
    assert (round_p1000(r3) == r3).all()
    assert (r3 == [float(int(t[0] + t[1][1:]) * 10 ** int(t[2][1:])) for t in map(lawt_write_float, x)]).all()   # LAWT's parse_float

def test_correctness_is_scored_against_the_rounded_target_as_in_lawt():
    lam = np.array([[1.0049, 2.0], [1.0051, 2.0]])                        # written 1.00 and 1.01
    pred = np.array([[1.1, 2.0], [1.11, 2.0]])
    # LAWT: 0.1 / 3.00 = 3.333 %, 0.1 / 3.01 = 3.322 %; against the exact λ: 0.0951 / 3.0049 = 3.165 %, 0.1049 / 3.0051 = 3.491 %
    assert within_tolerance(pred, lam, 0.0333).tolist() == [False, True]
    assert within_tolerance(pred, round_p1000(lam), 0.0333).tolist() == [False, True]   # rounding a rounded target: no-op
    assert (rel_l1(pred, lam) < 0.0333).tolist() == [True, False]                       # rel_l1 scores against the target it is given
    assert within_tolerance(pred, lam, 0.05).all()
    assert within_tolerance(np.zeros(3), np.array([0.0, 1e-120, -0.0])) and not within_tolerance(np.array([0, 1e-12, 0]), np.zeros(3))

@pytest.mark.parametrize('seq', [[], ['+'], ['V2'], ['oops', 'V1'],
                                 ['V2', 'V1', '+', 'N537', 'E-2', '+', 'N100', '<eos>'],          # too short
                                 ['V2', 'V1', 'N537', '+', 'E-2', '+', 'N100', 'E0', '<eos>'],    # wrong order
                                 ['V2', 'V1', '+', 'N537', 'E-2', '+', 'N100', 'E0', 'E0'],       # no <eos>
                                 ['V2', 'V2', '+', 'N537', 'E-2', '+', 'N100', 'E0', '<eos>'],    # wrong shape
                                 ['V2', 'V1', '+', 'N537', 'E-2', '+', 'N100', 'E0', '<eos>', '+']])
def test_malformed_decodes_to_invalid(seq):
    assert decode(seq) is INVALID

def test_vectorised_decode_marks_invalid():
    ids = encode_targets(np.array([[1.0, -2.0], [3.0, 4.0]]))[:, 1:].copy()
    ids[1, 3] = ids[1, 2]                                                 # a sign where a mantissa belongs
    val, ok = decode_targets(ids, 2)
    assert ok.tolist() == [True, False] and np.isnan(val[1]).all() and val[0].tolist() == [1.0, -2.0]
    assert decode(['<bos>', 'V2', 'V1', '-', 'N537', 'E-2', '+', 'N0', 'E0', '<eos>']).tolist() == [-5.37, 0.0]

def test_tolerance_hand_made():
    true = np.array([[10.0, 0.0, -10.0], [3.0, 2.0, 1.0], [1.0, 1.0, 1.0]])
    pred = np.array([[10.9, 0.0, -10.0], [3.0, 2.0, 1.35], [np.nan, 1.0, 1.0]])   # 4.5 %, 5.8 %, malformed
    assert np.allclose(rel_l1(pred[:2], true[:2]), [0.045, 0.35 / 6])
    assert within_tolerance(pred, true, 0.05).tolist() == [True, False, False]
    assert within_tolerance(pred, true, 0.06).tolist() == [True, True, False]
    assert within_tolerance(pred, true, 0.04).tolist() == [False, False, False]

def test_consistency_accepts_exact_rejects_perturbed():
    rng = np.random.default_rng(0)
    for d in (2, 3, 5):
        A = random_symmetric(500, d, rng=d); lam = eigenvalues(A)
        assert consistency_error(A, lam).max() < 1e-9
        shifted = lam + 0.3 * np.abs(lam).sum(1, keepdims=True) / d        # every eigenvalue moved by 30 % of the mean |λ|
        assert (consistency_error(A, shifted) > 0.05).all()
        assert (consistency_error(A, lam * rng.choice([0.8, 1.2], (500, 1))) > 0.05).all()
    pool = dict(A=A, lam=lam, vals=np.stack([lam * 1.2, lam], 1), valid=np.ones((500, 2), bool))
    choice, keep, _ = select('consistency', pool)
    assert (choice == 1).all() and keep.all()

def test_oracle_keeps_closest_beam_within_its_own_tolerance():
    A = random_symmetric(200, 3, rng=1); lam = eigenvalues(A)
    pool = dict(A=A, lam=lam, vals=np.stack([lam * 1.04, lam * 1.015, lam * 1.3], 1), valid=np.ones((200, 3), bool))
    choice, keep, _ = select('oracle', pool, tau=0.05)
    assert (choice == 1).all() and keep.all()                              # closest beam, within τ
    assert not select('oracle', pool, tau=0.05, oracle_tol=0.01)[1].any()  # a stricter oracle prunes 1.5 % errors
    assert select('oracle', pool, tau=0.05, oracle_tol=0.02)[1].all()

def test_beam_k1_equals_greedy_and_batching():
    torch.manual_seed(0)
    m = EigenTransformer(d_model=32, enc_layers=1, dec_layers=1, heads=2)
    src = encode_matrices(random_symmetric(25, 3, rng=1))
    g = greedy_decode(m, src, batch=10)
    ids, lp = beam_search(m, src, 1, batch=7)
    assert (ids[:, 0] == g).all()
    ids4, lp4 = beam_search(m, src, 4, batch=9)
    one = [beam_search(m, src[i:i + 1], 4) for i in range(len(src))]
    assert (np.concatenate([o[0] for o in one]) == ids4).all()
    assert np.allclose(np.concatenate([o[1] for o in one]), lp4, atol=1e-4)
    assert (lp4[:, 0] >= lp[:, 0] - 1e-4).all()

def test_oracle_true_control_trains_on_oracle_kept_matrices_with_true_labels(tmp_path, monkeypatch):
    from collapse_repro import eigen
    A = random_symmetric(60, 2, rng=2); lam = eigenvalues(A)
    good = np.random.default_rng(3).random(60) < 0.5                        # beams within 1 % on half the matrices
    vals = np.stack([lam * np.where(good, 1.01, 1.3)[:, None]] * 2, 1)
    ids = np.stack([encode_targets(vals[:, 0])[:, 1:]] * 2, 1)
    pool = dict(A=A, lam=lam, vals=vals, valid=np.ones((60, 2), bool), ids=ids)
    seen = {}
    def fake_fit(spec, src, tgt, seed, *a, **kw):
        seen['src'], seen['tgt'] = src, tgt
        return EigenTransformer(spec.config), {}
    monkeypatch.setattr(eigen.pipeline, 'train_transformer', fake_fit)   # where verifier_curve calls it
    spec = eigen.TrainSpec(eigen.ModelConfig(d_model=16, enc_layers=1, dec_layers=1, heads=2), steps=1)
    gen = EigenTransformer(spec.config)
    hist = eigen.verifier_curve('oracle_true', gen, pool, eigen.real_data(5, 2, 0), [100], tmp_path, spec, progress=False,
                                oracle_tol=0.02)
    kept = np.flatnonzero(good)
    assert hist[1]['n_train'] == len(kept)
    assert (seen['src'] == encode_matrices(A[kept])).all() and (seen['tgt'] == encode_targets(lam[kept])).all()
    hist = eigen.verifier_curve('oracle', gen, pool, eigen.real_data(5, 2, 0), [100], tmp_path / 'o', spec, progress=False,
                                oracle_tol=0.02)
    assert (seen['tgt'][:, 1:] == ids[kept, 0]).all()                      # the oracle itself trains on the beam labels
    with pytest.raises(ValueError, match='unknown verifier'): eigen.verifier_curve('psychic', gen, pool, {}, [1], tmp_path, spec)

def test_train_model_stops_at_the_first_check_that_says_so():
    from collapse_repro.eigen import fit
    torch.manual_seed(0); m = EigenTransformer(d_model=16, enc_layers=1, dec_layers=1, heads=2)
    A = random_symmetric(40, 2, rng=0); src, tgt = encode_matrices(A), encode_targets(eigenvalues(A))
    calls = []
    def second_check(model):
        calls.append(model.training); return len(calls) == 2
    info = fit(m, src, tgt, steps=20, batch=8, warmup=2, progress=False, stop_when=second_check, check_every=3)
    assert info['steps'] == 6 and info['stopped_early'] and calls == [False, False]   # checked in eval mode
    info = fit(m, src, tgt, steps=5, batch=8, warmup=2, progress=False, stop_when=lambda _: False, check_every=2)
    assert info['steps'] == 5 and not info['stopped_early']
    with pytest.raises(ValueError, match='check_every'): fit(m, src, tgt, steps=5, check_every=0, progress=False)

def test_real_model_stops_once_validation_accuracy_reaches_the_target(tmp_path, monkeypatch):
    from collapse_repro import eigen
    val_accs = iter([0.1, 0.25, 0.41, 0.6])
    real_evaluate = eigen.evaluate_model
    def fake_evaluate(model, A, lam=None, taus=(0.05, 0.02, 0.01), device='cpu'):
        return dict(acc_5=next(val_accs)) if taus == (0.05,) else real_evaluate(model, A, lam, taus, device)
    monkeypatch.setattr(eigen.pipeline, 'evaluate_model', fake_evaluate)   # where real_model calls it
    spec = eigen.TrainSpec(eigen.ModelConfig(d_model=16, enc_layers=1, dec_layers=1, heads=2), steps=50, batch=8, warmup=2)
    test = eigen.real_data(10, 2, 0)
    _, metrics = eigen.real_model(tmp_path / 'g', spec, 40, 2, test, progress=False, target_acc=0.4, n_val=10, check_every=2)
    assert metrics['train_steps'] == 6 and metrics['val_acc_5'] == 0.41 and 'acc_1' in metrics
    with pytest.raises(ValueError, match='target_acc'): eigen.real_model(tmp_path / 'h', spec, 40, 2, test, target_acc=1.5)

def test_weak_scoring_repeats_sources_on_the_device_with_identical_numbers():
    from collapse_repro import eigen
    torch.manual_seed(0); m = EigenTransformer(d_model=16, enc_layers=1, dec_layers=1, heads=2)
    src = encode_matrices(random_symmetric(9, 2, rng=3))
    ids, _ = beam_search(m, src, 3)
    flat = ids.reshape(27, -1)
    for batch in (1024, 4, 6, 1):
        old = eigen.sequence_logprob(m, np.repeat(src, 3, 0), flat, batch=batch)
        assert (eigen.sequence_logprob(m, src, flat, batch=batch, repeat=3) == old).all()
    pool = eigen.make_pool(m, 9, 2, 3, 5, weak=m)                          # make_pool scores with repeat=k
    data = eigen.real_data(9, 2, 5)
    old = eigen.sequence_logprob(m, np.repeat(data['src'], 3, 0), pool['ids'].reshape(27, -1)).reshape(9, 3)
    assert (pool['weak_logp'] == old).all()
    with pytest.raises(ValueError, match='sequences'): eigen.sequence_logprob(m, src, flat[:-1], repeat=3)

def test_beam_batch_is_larger_on_cuda_only():
    from collapse_repro.eigen import beam_batch
    assert beam_batch('cpu', 8) == beam_batch('cpu', 16) == 256                # CPU: unchanged, bit-identical results
    assert beam_batch('cuda', 8) == 2048 and beam_batch('cuda', 16) == 1024 and beam_batch('cuda:0', 100_000) == 1

def _train(ckpt_dir=None, ckpt_every=None, steps=20, stop_when=None, check_every=100):
    from collapse_repro.eigen import ModelConfig, fit
    torch.manual_seed(0); m = EigenTransformer(ModelConfig(d_model=16, enc_layers=1, dec_layers=1, heads=2))
    A = random_symmetric(50, 2, rng=0)                                   # 50 samples, batch 8: epochs wrap mid-run
    info = fit(m, encode_matrices(A), encode_targets(eigenvalues(A)), steps, batch=8, warmup=3, progress=False,
               ckpt_dir=ckpt_dir, ckpt_every=ckpt_every, stop_when=stop_when, check_every=check_every)
    return m, info

def _same_weights(a, b): return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))

def test_training_resumed_at_its_checkpoint_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    from collapse_repro.core import DEADLINE_ENV, TimeLimitReached
    from collapse_repro.eigen import TRAIN_STATE
    full, info_full = _train()
    monkeypatch.setenv(DEADLINE_ENV, '0')                                # the time limit has passed: stop at the first checkpoint
    with pytest.raises(TimeLimitReached, match='--resume'): _train(tmp_path, 10)
    monkeypatch.delenv(DEADLINE_ENV)
    assert torch.load(tmp_path / TRAIN_STATE, weights_only=True)['step'] == 10
    half, info = _train(tmp_path, 10)                                     # N/2 steps, then N/2 more from the checkpoint
    assert info['resumed_at'] == 10 and info['steps'] == 20 and info['final_loss'] == info_full['final_loss']
    assert _same_weights(full, half)
    with pytest.raises(ValueError, match='another training run'): _train(tmp_path, 10, steps=30)

def test_training_killed_between_checkpoints_resumes_from_the_last_one(tmp_path):
    full, _ = _train()
    class Killed(Exception): pass
    def kill_at_step_14(model):                                           # checks every 7 steps: the 2nd is at step 14
        kill_at_step_14.calls += 1
        if kill_at_step_14.calls == 2: raise Killed
        return False
    kill_at_step_14.calls = 0
    with pytest.raises(Killed): _train(tmp_path, 4, stop_when=kill_at_step_14, check_every=7)
    m, info = _train(tmp_path, 4)
    assert info['resumed_at'] == 12 and _same_weights(full, m)             # steps 13, 14 are redone
    m, info = _train(tmp_path / 'none', None)                              # no checkpoints: nothing written
    assert info['resumed_at'] == 0 and not (tmp_path / 'none').exists() and _same_weights(full, m)

def test_real_model_resumes_mid_training_inside_the_round_partial_folder(tmp_path, monkeypatch):
    from collapse_repro import eigen
    from collapse_repro.core import TimeLimitReached
    spec = eigen.TrainSpec(eigen.ModelConfig(d_model=16, enc_layers=1, dec_layers=1, heads=2), steps=12, batch=8, warmup=2, ckpt_every=5)
    test = eigen.real_data(10, 2, 0)
    ref, ref_metrics = eigen.real_model(tmp_path / 'ref', spec, 40, 2, test, progress=False, target_acc=0.99, n_val=10, check_every=3)
    calls = []
    def stop_once(needed, what=''):
        calls.append(what)
        if len(calls) == 2: raise TimeLimitReached('stopped')
    monkeypatch.setattr(eigen.train, 'check_time', stop_once)                    # killed right after the checkpoint at step 10
    with pytest.raises(TimeLimitReached): eigen.real_model(tmp_path / 'g', spec, 40, 2, test, progress=False, target_acc=0.99, n_val=10, check_every=3)
    partial = tmp_path / 'g' / 'round_000.partial'
    assert torch.load(partial / 'train' / eigen.TRAIN_STATE, weights_only=True)['step'] == 10 and (partial / 'val_acc.json').exists()
    monkeypatch.undo()
    gen, metrics = eigen.real_model(tmp_path / 'g', spec, 40, 2, test, progress=False, target_acc=0.99, n_val=10, check_every=3)
    assert not partial.exists() and _same_weights(gen, ref)                # its val_acc_5 (step 9, before the resume) was kept
    assert {k: v for k, v in metrics.items() if k != 'round_time_s'} == {k: v for k, v in ref_metrics.items() if k != 'round_time_s'}

def test_paper_sized_model_is_saved_in_bf16_shards_of_at_most_16_mib(tmp_path):
    from collapse_repro import eigen
    torch.manual_seed(0)
    big = eigen.EigenTransformer(eigen.ModelConfig(d_model=512, enc_layers=6, dec_layers=1, heads=8))   # the paper profile's model
    assert eigen.n_params(big) > 24_000_000 and eigen.storage_dtype(big) == torch.bfloat16
    eigen.round_to_storage_(big); eigen.save_model(big, tmp_path / 'm')
    files = sorted((tmp_path / 'm').iterdir())
    assert [f.name for f in files] == [f'model-{i:05d}.pt' for i in range(1, len(files) + 1)] and len(files) == 4
    assert all(f.stat().st_size <= 16 * 2 ** 20 for f in files), [f.stat().st_size for f in files]
    again = eigen.load_model(tmp_path / 'm')
    assert _same_weights(big, again) and next(again.parameters()).dtype == torch.float32
    files[2].unlink()
    with pytest.raises(FileNotFoundError, match='no complete'): eigen.load_model(tmp_path / 'm')
    small = EigenTransformer(d_model=16, enc_layers=1, dec_layers=1, heads=2)   # smoke/quick models: float32, one file, as before
    assert eigen.storage_dtype(small) == torch.float32
    w = [t.clone() for t in small.state_dict().values()]; eigen.round_to_storage_(small)
    assert all(torch.equal(a, b) for a, b in zip(w, small.state_dict().values()))
    eigen.save_model(small, tmp_path / 's'); assert [f.name for f in (tmp_path / 's').iterdir()] == ['model.pt']
    assert torch.load(tmp_path / 's' / 'model.pt', weights_only=True)['state']['tgt_emb.weight'].dtype == torch.float32


def test_seed_summary_tool_on_the_committed_quick_runs(tmp_path):
    """The study studies/eigen_seeds.py summarises the three committed quick seeds, as the ledger's committed copy
    (figures/quick/feng_eigen_seeds.json) and the study's own output say; it refuses repeated seeds."""
    import subprocess, sys, json
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    r = subprocess.run([sys.executable, root / 'studies/eigen_seeds.py', '--out', tmp_path], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = json.loads((tmp_path / 'feng_eigen_seeds.json').read_text())
    assert out['summary']['n_seeds'] == 3 and [i['seed'] for i in out['provenance']['inputs']] == [0, 1, 2]
    assert (tmp_path / 'feng_eigen_seeds.png').exists()
    for kept in ('figures/quick', 'studies/results'):
        assert json.loads((root / kept / 'feng_eigen_seeds.json').read_text())['summary'] == out['summary'], kept
    same = root / 'figures/quick/feng_eigen_results.json'
    r = subprocess.run([sys.executable, root / 'studies/eigen_seeds.py', same, same, '--out', tmp_path], capture_output=True, text=True)
    assert r.returncode != 0 and 'repeated seeds' in r.stderr

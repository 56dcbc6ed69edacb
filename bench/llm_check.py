"One short check of the LLM changes on the device it finds (random SmolLM2-shaped weights; small ones off CUDA): likelihood scoring and fine-tuning, old vs new code in one run, bf16 checkpoints, ROUGE pool. Run as `OUT=DIR python bench/llm_check.py`; its H200 run: bench/results/llm_check_h200_20261127.json."
import json, math, os, sys, time, tempfile
from pathlib import Path
import numpy as np, torch
from collapse_repro import llm
from collapse_repro.core import autocast, get_device
out = {}; OUT = Path(os.environ.get('OUT', '/tmp'))
def save(): (OUT / 'llm_check.json').write_text(json.dumps(out, indent=1)); print(json.dumps(out), flush=True)
dev = get_device(); CUDA = dev.type == 'cuda'      # core.get_device: $COLLAPSE_REPRO_DEVICE, else cuda, mps, cpu
out['gpu'] = torch.cuda.get_device_name() if CUDA else str(dev)
def peak(): return torch.cuda.max_memory_allocated() / 2**30 if CUDA else 0.0
def reset():
    if CUDA: torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()
from transformers import LlamaConfig, LlamaForCausalLM
cfg = LlamaConfig(vocab_size=49152, hidden_size=576 if CUDA else 64, intermediate_size=1536 if CUDA else 128, num_hidden_layers=30 if CUDA else 2, num_attention_heads=9 if CUDA else 4,
                  num_key_value_heads=3 if CUDA else 2, max_position_embeddings=8192, tie_word_embeddings=True, rope_theta=100000)
cfg.pad_token_id = cfg.eos_token_id = 2
torch.manual_seed(0); model = LlamaForCausalLM(cfg).to(dev).eval()
rng = np.random.default_rng(0)
def example(sl):
    p = list(map(int, rng.integers(10, 49000, 512))); s = list(map(int, rng.integers(10, 49000, sl))) + [2]
    return p + s, [-100] * 512 + s
ex = [example(int(rng.integers(15, 64))) for _ in range(256 if CUDA else 16)]
def sync():
    if CUDA: torch.cuda.synchronize()
def old_score(examples, bs):
    res = np.zeros(len(examples))
    for j in range(0, len(examples), bs):
        b = llm.collate(examples[j:j + bs], 2)
        with torch.no_grad(), autocast(dev, 'auto'):
            logits = model(input_ids=b['input_ids'].to(dev), attention_mask=b['attention_mask'].to(dev)).logits
        lab = b['labels'][:, 1:].to(dev); mask = lab != -100
        lp = torch.log_softmax(logits[:, :-1].float(), -1).gather(-1, lab.clamp(min=0)[..., None])[..., 0]
        res[j:j + bs] = ((lp * mask).sum(1) / mask.sum(1)).cpu().numpy(); del logits, lp
    return res
# scoring
llm.example_logprob(model, ex[:8], 2, batch_size=8, progress=False)
for bs in ((64, 256) if CUDA else (4, 8)):
    reset(); sync(); t = time.time()
    new = llm.example_logprob(model, ex, 2, batch_size=bs, progress=False); sync()
    out[f'score_new_b{bs}'] = dict(pairs_per_s=len(ex) / (time.time() - t), peak_gib=peak())
    try:
        reset(); sync(); t = time.time()
        old = old_score(ex, bs); sync()
        out[f'score_old_b{bs}'] = dict(pairs_per_s=len(ex) / (time.time() - t), peak_gib=peak(),
                                       max_abs_diff=float(np.abs(old - new).max()))
    except torch.OutOfMemoryError as e: out[f'score_old_b{bs}'] = 'out of memory'
    reset()
save()
# finetune: new vs the old full-logits loop (same examples, fresh identical weights)
def old_finetune(m, examples, batch_size, micro):
    opt = torch.optim.AdamW(m.parameters(), lr=5e-5, weight_decay=0.0); m.train(); losses = []; tokens = 0
    for i in range(0, len(examples), batch_size):
        b = examples[i:i + batch_size]; n_sup = sum(sum(l != -100 for l in y) for _, y in b); tot = 0.0
        for j in range(0, len(b), micro):
            mb = {k: v.to(dev) for k, v in llm.collate(b[j:j + micro], 2).items()}
            with autocast(dev, 'auto'): logits = m(input_ids=mb['input_ids'], attention_mask=mb['attention_mask']).logits
            lp = torch.nn.functional.cross_entropy(logits[:, :-1].float().transpose(1, 2), mb['labels'][:, 1:], ignore_index=-100, reduction='sum')
            (lp / n_sup).backward(); tot += lp.item(); tokens += int(mb['attention_mask'].sum())
        opt.step(); opt.zero_grad(set_to_none=True); losses.append(tot / n_sup)
    m.eval(); return tokens, float(np.mean(losses))
sd = {k: v.clone() for k, v in model.state_dict().items()}
for name in ('new', 'old', 'new', 'old'):
    model.load_state_dict(sd); reset(); sync(); t = time.time()
    if name == 'new': st = llm.finetune(model, ex[:64 if CUDA else 8], batch_size=32 if CUDA else 4, micro_batch=16 if CUDA else 2, lr=5e-5, pad_id=2, progress=False); tok_, loss = st['tokens'], st['loss']
    else: tok_, loss = old_finetune(model, [ex[i] for i in torch.randperm(64 if CUDA else 8, generator=torch.Generator().manual_seed(0)).tolist()], 32 if CUDA else 4, 16 if CUDA else 2)
    sync(); out[f'finetune_{name}'] = dict(tokens_per_s=tok_ / (time.time() - t), loss=loss, peak_gib=peak())
save()
# bf16 checkpoints through LLMTask.save / load
class T: bf16_checkpoints = llm.bf16_checkpoints(llm.SumConfig(), dev); acc = None; device = dev
with tempfile.TemporaryDirectory() as d:
    llm.LLMTask.save(T, model, Path(d)); m2 = llm.LLMTask.load(T, Path(d))
    out['bf16_ckpt'] = dict(auto_on_cuda=T.bf16_checkpoints, mb=(Path(d) / 'model.safetensors').stat().st_size / 1e6,
                            dtype=str(next(m2.parameters()).dtype), equal=all(torch.equal(p, q) for p, q in zip(model.parameters(), m2.parameters())))
save()
# ROUGE pool
words = [f'w{i}' for i in range(300)]
preds = [' '.join(rng.choice(words, 25)) for _ in range(4000)]; refs = [' '.join(rng.choice(words, 25)) for _ in range(4000)]
llm.rouge(preds[:8], refs[:8], workers=1)
t = time.time(); a = llm.rouge(preds, refs, workers=1); t1 = time.time() - t
t = time.time(); b = llm.rouge(preds, refs); tp = time.time() - t
out['rouge'] = dict(cpus=llm.cpu_count(), one_pairs_per_s=4000 / t1, pool_pairs_per_s=4000 / tp, identical=all(np.array_equal(a[k], b[k]) for k in a))
save()

"""Benchmark of the LLM stack (collapse_repro.llm): generation and training throughput.

Generation: `llm.generate` (left-padded batches, KV cache, bf16 autocast where supported) against `model.generate`
called one article at a time (no padding), on the same XSUM prompts in the same run; prints generated tokens/s of
both and the speed-up. Training: `llm.finetune` with micro-batches of `--micro` against micro-batch 1 on the same
examples; prints training tokens/s (supervised + prompt tokens processed) and the ratio. On a GPU it also prints the
achieved model FLOP utilisation (MFU: 2·N FLOPs per generated token, 6·N per trained token, against the GPU's dense
bf16 peak); on CPU no MFU is printed. Scoring: `llm.summary_logprob` (log-probabilities at the summary tokens only)
against a log-softmax over the whole vocabulary at every position (the former implementation) on the same pairs;
prints pairs/s of both, the ratio and the largest difference. ROUGE: `llm.rouge` with its process pool against one
process on `--rouge-pairs` pairs; prints pairs/s of both and the ratio. The device is `--device`, else
$COLLAPSE_REPRO_DEVICE, else CUDA, then CPU (`core.get_device`).

    python bench/llm_generate.py                      # real SmolLM2-135M (converted from the wheel's GGUF once)
    python bench/llm_generate.py --model tiny         # tiny random Llama, seconds
"""
import argparse, time
import numpy as np
import torch
from collapse_repro import llm
from collapse_repro.core import autocast, get_device

PEAK_BF16 = {'H100': 989e12, 'H200': 989e12, 'A100': 312e12, 'L4': 121e12, 'A10': 125e12, 'V100': 125e12}


def peak_flops():
    if not torch.cuda.is_available(): return None
    name = torch.cuda.get_device_name()
    return next((v for k, v in PEAK_BF16.items() if k in name), None)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', default='smollm2', help="smollm2 | tiny | a saved folder")
    ap.add_argument('--n', type=int, default=8, help='articles')
    ap.add_argument('--max-prompt', type=int, default=64)
    ap.add_argument('--new', type=int, default=16, help='max new tokens')
    ap.add_argument('--batch', type=int, default=8, help='generation batch')
    ap.add_argument('--micro', type=int, default=4, help='training micro-batch')
    ap.add_argument('--bf16', default='auto', help='auto | 1 | 0')
    ap.add_argument('--score-batch', type=int, default=8, help='likelihood-scoring batch')
    ap.add_argument('--rouge-pairs', type=int, default=2000, help='pairs for the ROUGE comparison (0: skip)')
    ap.add_argument('--device', default=None, help='torch device (default: $COLLAPSE_REPRO_DEVICE, else cuda, else cpu)')
    a = ap.parse_args()
    bf16 = a.bf16 if a.bf16 == 'auto' else a.bf16 == '1'
    dev = str(get_device(a.device))
    tok = llm.load_tokenizer(); rows, note = llm.load_xsum('pool', a.n)
    model, wnote = llm.load_base_model(a.model, tok, device=dev)
    N = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f'model: {wnote} ({N / 1e6:.1f}M params) on {dev}, bf16={bf16}, torch threads={torch.get_num_threads()}')
    prompts = [llm.prompt_ids(tok, r['document'], a.max_prompt) for r in rows]
    peak = peak_flops()

    def sync():
        if dev == 'cuda': torch.cuda.synchronize()

    # warm-up (first-call overheads), then the package's batched generation
    llm.generate(model, tok, prompts[:2], max_new_tokens=4, batch_size=2, bf16=bf16, progress=False)
    sync(); t = time.time()
    stats = {}
    outs = llm.generate(model, tok, prompts, max_new_tokens=a.new, batch_size=a.batch, bf16=bf16, progress=False, stats=stats)
    sync(); t_batched = time.time() - t
    n_tok = stats['new_tokens']
    # baseline: model.generate one article at a time (same greedy settings, same autocast)
    sync(); t = time.time(); n_tok_base = 0
    with torch.no_grad(), autocast(dev, bf16):
        for p in prompts:
            ids = torch.tensor([p], device=dev)
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=a.new, do_sample=False,
                                 pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
            n_tok_base += out.shape[1] - ids.shape[1]
    sync(); t_base = time.time() - t
    g_b, g_0 = n_tok / t_batched, n_tok_base / t_base
    print(f'generation: llm.generate (batch {a.batch}) {g_b:.1f} tok/s [{n_tok} tokens, {t_batched:.1f} s]  |  '
          f'model.generate one at a time {g_0:.1f} tok/s [{n_tok_base} tokens, {t_base:.1f} s]  |  speed-up x{g_b / g_0:.2f}')
    if peak: print(f'  generation MFU: batched {2 * N * g_b / peak:.2%}, one-at-a-time {2 * N * g_0 / peak:.2%}')

    # training throughput: micro-batch a.micro vs micro-batch 1, same examples, one optimizer step each
    ex = [llm.train_example(tok, r['document'], r['summary'], a.max_prompt, 24) for r in rows]
    res = {}
    for mb in (a.micro, 1):
        m2, _ = llm.load_base_model(a.model, tok, device=dev)
        st = llm.finetune(m2, ex, batch_size=len(ex) - len(ex) % a.micro or a.micro, micro_batch=mb, lr=5e-5,
                          pad_id=tok.pad_token_id, bf16=bf16, progress=False)
        res[mb] = st['tokens'] / st['seconds']; del m2
    print(f'training: micro-batch {a.micro} {res[a.micro]:.1f} tok/s  |  micro-batch 1 {res[1]:.1f} tok/s  |  '
          f'ratio x{res[a.micro] / res[1]:.2f}')
    if peak: print(f'  training MFU: {6 * N * res[a.micro] / peak:.2%}')

    # likelihood scores: summary tokens only vs a log-softmax over the whole vocabulary at every position
    pairs = [(r['document'], r['summary']) for r in rows]
    llm.summary_logprob(model, tok, pairs[:2], max_prompt=a.max_prompt, max_summary=24, batch_size=2, bf16=bf16, progress=False)
    sync(); t = time.time()
    new = llm.summary_logprob(model, tok, pairs, max_prompt=a.max_prompt, max_summary=24, batch_size=a.score_batch, bf16=bf16, progress=False)
    sync(); t_new = time.time() - t
    ex = [llm.train_example(tok, d, s, a.max_prompt, 24) for d, s in pairs]; old = np.zeros(len(ex)); logits = None
    sync(); t = time.time()
    try:
        for j in range(0, len(ex), a.score_batch):
            b = llm.collate(ex[j:j + a.score_batch], tok.pad_token_id)
            with torch.no_grad(), autocast(dev, bf16):
                logits = model(input_ids=b['input_ids'].to(dev), attention_mask=b['attention_mask'].to(dev)).logits
            lab = b['labels'][:, 1:].to(dev); mask = lab != -100
            lp = torch.log_softmax(logits[:, :-1].float(), -1).gather(-1, lab.clamp(min=0)[..., None])[..., 0]
            old[j:j + a.score_batch] = ((lp * mask).sum(1) / mask.sum(1)).cpu().numpy()
        sync(); t_old = time.time() - t
        print(f'scoring: summary tokens only {len(ex) / t_new:.1f} pairs/s  |  full-vocabulary log-softmax '
              f'{len(ex) / t_old:.1f} pairs/s  |  speed-up x{t_old / t_new:.2f}  |  max |difference| {np.abs(new - old).max():.2e}')
    except torch.OutOfMemoryError:
        print(f'scoring: summary tokens only {len(ex) / t_new:.1f} pairs/s  |  full-vocabulary log-softmax: out of memory '
              f'at batch {a.score_batch}')
    del logits

    # ROUGE: process pool vs one process, on the reference summaries against truncated articles
    if a.rouge_pairs:
        rr, _ = llm.load_xsum('pool', min(a.rouge_pairs, 1910)); rr = (rr * (a.rouge_pairs // len(rr) + 1))[:a.rouge_pairs]
        preds, refs = [' '.join(r['document'].split()[:30]) for r in rr], [r['summary'] for r in rr]
        llm.rouge(preds[:8], refs[:8], workers=1)                      # warm-up: imports, stemmer
        t = time.time(); one = llm.rouge(preds, refs, workers=1); t1 = time.time() - t
        t = time.time(); par = llm.rouge(preds, refs); tp = time.time() - t
        same = all(np.array_equal(one[k], par[k]) for k in one)
        print(f'ROUGE: pool of {llm.cpu_count()} CPUs {len(preds) / tp:.0f} pairs/s  |  one process {len(preds) / t1:.0f} pairs/s  |  '
              f'speed-up x{t1 / tp:.2f}  |  identical: {same}')
    print(f'data: {note}; first generated summary: {outs[0]!r}')


if __name__ == '__main__':
    main()

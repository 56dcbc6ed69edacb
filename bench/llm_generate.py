"""Benchmark of the LLM stack (collapse_repro.llm): generation and training throughput.

Generation: `llm.generate` (left-padded batches, KV cache, bf16 autocast where supported) against `model.generate`
called one article at a time (no padding), on the same XSUM prompts in the same run; prints generated tokens/s of
both and the speed-up. Training: `llm.finetune` with micro-batches of `--micro` against micro-batch 1 on the same
examples; prints training tokens/s (supervised + prompt tokens processed) and the ratio. On a GPU it also prints the
achieved model FLOP utilisation (MFU: 2·N FLOPs per generated token, 6·N per trained token, against the GPU's dense
bf16 peak); on CPU no MFU is printed.

    python bench/llm_generate.py                      # real SmolLM2-135M (converted from the wheel's GGUF once)
    python bench/llm_generate.py --model tiny         # tiny random Llama, seconds
"""
import argparse, time
import numpy as np
import torch
from collapse_repro import llm
from collapse_repro.core import autocast

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
    a = ap.parse_args()
    bf16 = a.bf16 if a.bf16 == 'auto' else a.bf16 == '1'
    dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    tok = llm.load_tokenizer(); rows, note = llm.load_xsum('pool', a.n)
    model, wnote = llm.load_model(a.model, tok, device=dev)
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
        m2, _ = llm.load_model(a.model, tok, device=dev)
        st = llm.finetune(m2, ex, batch_size=len(ex) - len(ex) % a.micro or a.micro, micro_batch=mb, lr=5e-5,
                          pad_id=tok.pad_token_id, bf16=bf16, progress=False)
        res[mb] = st['tokens'] / st['seconds']; del m2
    print(f'training: micro-batch {a.micro} {res[a.micro]:.1f} tok/s  |  micro-batch 1 {res[1]:.1f} tok/s  |  '
          f'ratio x{res[a.micro] / res[1]:.2f}')
    if peak: print(f'  training MFU: {6 * N * res[a.micro] / peak:.2%}')
    print(f'data: {note}; first generated summary: {outs[0]!r}')


if __name__ == '__main__':
    main()

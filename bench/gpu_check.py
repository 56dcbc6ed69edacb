"""One-run device check: proves the CUDA path of every neural experiment and measures what the paper profiles cost.

    python bench/gpu_check.py [--json OUT.json]     # on the GPU machine (≤ 6 minutes)
    python bench/gpu_check.py --tiny                # the same stages at toy sizes on a CPU (CI runs this)

Each stage runs briefly on the chosen device (bf16 where the experiment uses it) and records what it measured:
CVAE and discriminator ms/step (one model, and 8 conditions trained together per lockstep step), the CVAE loop stopped after one round and resumed, eigenvalue-transformer training
step time and MFU (against a bf16 matrix product measured in the same run), beam-search candidates/s, a short 3×3
learnability probe, SmolLM2-135M-shaped generation tokens/s and fine-tune MFU (random weights of the real
architecture: the cost does not depend on the weights), and ROUGE pairs/s. Last, it projects each profile's wall time
from those costs (`projections`; for the CVAE experiments also with their conditions trained together, as
`mnist.run_conditions` does on CUDA): a projection, not a measurement, and printed as such.
"""
from __future__ import annotations
import argparse, json, math, os, sys, tempfile, time, traceback
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a checkout without installing
from collapse_repro.core import autocast, device_info, get_device, package_versions, git_commit


def _sync(dev):
    if dev.type == 'cuda': torch.cuda.synchronize(dev)


def timed(fn, dev, repeat: int = 1):
    "Median wall seconds of `fn()` over `repeat` calls, device synchronised."
    ts = []
    for _ in range(repeat):
        _sync(dev); t0 = time.perf_counter(); fn(); _sync(dev); ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def matmul_tflops(dev, n: int) -> float:
    "Measured bf16 (GPU) or float32 (CPU) matrix-product rate, the MFU denominator."
    dt = torch.bfloat16 if dev.type == 'cuda' else torch.float32
    a, b = torch.randn(n, n, device=dev, dtype=dt), torch.randn(n, n, device=dev, dtype=dt)
    for _ in range(3): a @ b
    s = timed(lambda: [a @ b for _ in range(10)], dev, 3) / 10
    return 2 * n ** 3 / s / 1e12


# ---------------------------------------------------------------------------------------------------------------- CVAE
def check_cvae(dev, tiny: bool) -> dict:
    from collapse_repro.mnist import CVAE, Discriminator, cvae_loss, fit, sample
    from collapse_repro.mnist.discriminator import _disc_loss
    out = {}
    n = 128 * (8 if tiny else 400)
    x = torch.rand(n, 1, 28, 28, device=dev).round(); y = torch.randint(0, 10, (n,), device=dev)
    m = CVAE().to(dev)
    fit(m, cvae_loss, (x[:256], y[:256]), epochs=1, patience=1)                       # warm-up (cudnn, allocator)
    s = timed(lambda: fit(CVAE().to(dev), cvae_loss, (x, y), epochs=1, patience=1), dev)
    out['cvae_ms_per_step'] = 1e3 * s / math.ceil(n / 128)
    d = Discriminator().to(dev); t = torch.randint(0, 2, (n,), device=dev).float()
    fit(d, _disc_loss, (x[:256], t[:256]), epochs=1, patience=1)
    s = timed(lambda: fit(Discriminator().to(dev), _disc_loss, (x, t), epochs=1, patience=1), dev)
    out['disc_ms_per_step'] = 1e3 * s / math.ceil(n / 128)
    # conditions trained together (cvae.fit_together): one lockstep step advances K models, each on its own batch
    from collapse_repro.mnist import TrainConfig, train_cvaes, train_discriminators
    K, one = 8, TrainConfig(epochs=1, patience=1)
    sets = [(x, y)] * K
    train_cvaes([(x[:256], y[:256])] * 2, one, seeds=[0, 1])                         # warm-up
    s = timed(lambda: train_cvaes(sets, one, seeds=list(range(K))), dev)
    out['cvae_together_k'] = K
    out['cvae_together_ms_per_step'] = 1e3 * s / math.ceil(n / 128)
    half = n // 2                                                                      # n images: n/2 real + n/2 fake
    s = timed(lambda: train_discriminators([(x[:half], x[half:])] * K, one, seeds=list(range(K))), dev)
    out['disc_together_ms_per_step'] = 1e3 * s / math.ceil(n / 128)
    lab = torch.arange(10 * (100 if tiny else 6000), device=dev) % 10
    sample(m, lab[:100])
    out['sample_images_per_s'] = len(lab) / timed(lambda: sample(m, lab, binary=True), dev, 3)
    return out


def check_cvae_resume(dev, tiny: bool) -> dict:
    "The MNIST loop stopped after round 1 and resumed to round 2 gives the same history as an uninterrupted run."
    from collapse_repro.mnist import MnistLoopConfig, MnistData, run_mnist
    data = MnistData(dev)
    cfg = MnistLoopConfig(schedule=[100, 100], init_size=100, n_verifier=300, score_batch=100, n_fid=200, n_test=200,
                          cvae=dict(epochs=2, patience=1), disc=dict(epochs=2, patience=1))
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        t0 = time.time()
        full = run_mnist(cfg, data, a, progress=False)
        part = MnistLoopConfig(**{**cfg.__dict__, 'schedule': [100]})
        run_mnist(part, data, b, progress=False)                     # stopped after round 1 ...
        resumed = run_mnist(cfg, data, b, progress=False)             # ... and resumed
        keys = ('fid', 'nelbo', 'n_kept')
        diff = max(abs(f[k] - r[k]) / max(abs(f[k]), 1e-9) for f, r in zip(full, resumed) for k in keys if k in f)
    # on a GPU, cuDNN's convolution algorithms are not bit-deterministic; on a CPU the two must agree exactly
    ok = diff == 0 if dev.type == 'cpu' else diff < 0.05
    return dict(rounds=len(resumed), max_rel_diff=diff, same_result=bool(ok), seconds=round(time.time() - t0, 1))


# --------------------------------------------------------------------------------------------------------- eigenvalues
def eigen_gpu_config(tiny: bool):
    from collapse_repro.eigen import ModelConfig
    if tiny: return ModelConfig(d_model=32, enc_layers=1, dec_layers=1, heads=2), 3, 32
    return ModelConfig(d_model=256, enc_layers=4, dec_layers=1, heads=8), 3, 256       # the gpu profile's model


def train_step_ms(dev, tiny: bool, cfg, data, batch: int, compile=False):
    """A fresh eigenvalue model of `cfg` trained briefly with `fit(compile=...)`: (the model, seconds of its first 3
    steps (warm-up; for a compiled model, the compiling), ms per step of the next ones)."""
    from collapse_repro.eigen import EigenTransformer, fit
    torch.manual_seed(0); m = EigenTransformer(cfg)
    t0 = time.time()
    fit(m, data['src'], data['tgt'], 3, batch, device=dev, progress=False, compile=compile)
    first = time.time() - t0
    info = fit(m, data['src'], data['tgt'], 5 if tiny else 60, batch, device=dev, progress=False, compile=compile)
    return m, first, 1e3 * info['wall_s'] / info['steps']


def check_compiled(dev, tiny: bool, cfg, data, batch: int, eager_ms: float) -> dict:
    """The gpu profile's training step through `torch.compile` (`fit(compile=...)`, the experiment's `-p compile`): the
    compile time and ms/step of each mode against eager. On a CPU (--tiny) only the graph capture ('aot_eager')."""
    import torch._dynamo
    out = {}
    for how in (('default', 'reduce-overhead') if dev.type == 'cuda' else ('aot_eager',)):
        torch._dynamo.reset()
        _, first, ms = train_step_ms(dev, tiny, cfg, data, batch, compile=how)
        out[how] = dict(first_call_s=round(first, 1), ms_per_step=ms, speedup_vs_eager=eager_ms / ms)
    torch._dynamo.reset()
    return out


def check_eigen(dev, tiny: bool, peak_tflops: float, compile: bool = True) -> dict:
    from collapse_repro.eigen import ModelConfig, real_data, beam_search, n_params
    out = {}
    for name, (cfg, d, batch) in dict(gpu_profile=eigen_gpu_config(tiny),
                                      paper_profile=(ModelConfig(d_model=64 if tiny else 512, enc_layers=1 if tiny else 6,
                                                                 dec_layers=1, heads=8), 5, 32 if tiny else 256)).items():
        data = real_data(4 * batch, d, [0])
        m, _, ms = train_step_ms(dev, tiny, cfg, data, batch)
        tok = batch * (data['src'].shape[1] + data['tgt'].shape[1] - 1)
        # 6 N flops per token (forward + backward) ignores attention's share: a floor, fine for the MFU's order
        mfu = 6 * n_params(m) * tok / (ms / 1e3) / (peak_tflops * 1e12)
        out[name] = dict(d=d, d_model=cfg.d_model, params=n_params(m), batch=batch, ms_per_step=ms, mfu=mfu)
        if compile and name == 'gpu_profile': out[name]['compiled'] = check_compiled(dev, tiny, cfg, data, batch, ms)
        src = real_data(64 if tiny else 2048, d, [1])['src']
        beam_search(m, src[:32], 8, device=dev)
        s = timed(lambda: beam_search(m, src, 8, batch=1024, device=dev), dev)
        out[name]['beam_candidates_per_s'] = 8 * len(src) / s
    return out


def probe_3x3(dev, tiny: bool, seconds: float) -> dict:
    "How far the gpu profile's model gets on 3×3 matrices in `seconds` of training: evidence for the profile's size."
    from collapse_repro.eigen import EigenTransformer, real_data, fit, evaluate_model
    cfg, d, batch = eigen_gpu_config(tiny)
    data = real_data(2000 if tiny else 200_000, d, [5]); val = real_data(200 if tiny else 1000, d, [6])
    torch.manual_seed(0); m = EigenTransformer(cfg); curve, t0 = [], time.time()
    every = 5 if tiny else 500
    def record(model):                  # called every `every` steps; stops training once the time is up
        curve.append(dict(steps=every * (len(curve) + 1), seconds=round(time.time() - t0, 1),
                          **evaluate_model(model, val['A'], val['lam'], device=dev)))
        return time.time() - t0 > seconds
    fit(m, data['src'], data['tgt'], 10**6, batch, lr=5e-4, warmup=300, device=dev, progress=False,
        stop_when=record, check_every=every)
    return dict(d=d, d_model=cfg.d_model, batch=batch, lr=5e-4, curve=curve)


# ------------------------------------------------------------------------------------------------------------------ LLM
class _StubTok:
    "Just enough of a tokenizer for `llm.generate` on random weights (no tokenizer files needed)."
    pad_token_id = eos_token_id = 2
    def decode(self, ids, **kw): return ''


def smollm2_shaped(tiny: bool):
    from transformers import LlamaConfig, LlamaForCausalLM
    if tiny: cfg = LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
    else:    # SmolLM2-135M's architecture (hidden 576, 30 layers, 9 heads, 3 KV heads, vocab 49,152)
        cfg = LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                          num_key_value_heads=3, max_position_embeddings=8192, tie_word_embeddings=True, rope_theta=100000)
    cfg.pad_token_id = cfg.eos_token_id = 2
    torch.manual_seed(0)
    return LlamaForCausalLM(cfg)


def check_llm(dev, tiny: bool, peak_tflops: float) -> dict:
    from collapse_repro.llm import generate, finetune
    model = smollm2_shaped(tiny).to(dev); tok = _StubTok(); out = {}
    n_par = sum(p.numel() for p in model.parameters())
    rng = np.random.default_rng(0)
    new = 8 if tiny else 64
    for bs in ((4,) if tiny else (64, 256, 512, 1024)):          # launch-bound: how far does a larger batch pay?
        prompts = [list(rng.integers(10, 500, 48 if tiny else 512)) for _ in range(bs)]
        generate(model, tok, prompts[:2], max_new_tokens=2, batch_size=2, progress=False)
        model.generation_config.eos_token_id = None            # random weights: count every token, no early stop
        s = timed(lambda: generate(model, tok, prompts, max_new_tokens=new, batch_size=bs, progress=False), dev)
        out[f'generate_tokens_per_s_batch{bs}'] = bs * new / s
    ex = [(list(rng.integers(10, 500, 48 if tiny else 576)), list(rng.integers(10, 500, 48 if tiny else 576))) for _ in range(32)]
    finetune(model, ex[:8], batch_size=8, micro_batch=8, pad_id=2, progress=False)
    info = finetune(model, ex, batch_size=32, micro_batch=16, pad_id=2, progress=False)
    out['finetune_tokens_per_s'] = info['tokens'] / info['seconds']
    out['finetune_mfu'] = 6 * n_par * out['finetune_tokens_per_s'] / (peak_tflops * 1e12)
    out['params'] = n_par
    return out


def check_rouge(tiny: bool) -> dict:
    from collapse_repro.llm import rouge
    n = 200 if tiny else 2000
    rng = np.random.default_rng(0); words = [f'w{i}' for i in range(300)]
    preds = [' '.join(rng.choice(words, 25)) for _ in range(n)]; refs = [' '.join(rng.choice(words, 25)) for _ in range(n)]
    t0 = time.perf_counter(); rouge(preds, refs); s = time.perf_counter() - t0
    return dict(pairs_per_s=n / s)


# ---------------------------------------------------------------------------------------------------------- projections
def projections(m: dict) -> dict:
    "Wall-time projections (hours) of the paper and gpu profiles from the measured per-step costs. Approximate."
    out = {}
    c = m.get('cvae', {})
    if 'cvae_ms_per_step' in c:
        cv, dk = c['cvae_ms_per_step'] / 3.6e6, c['disc_ms_per_step'] / 3.6e6      # hours per step
        def round_steps(kept, filtered, n_v, epochs, disc_epochs):
            "CVAE and discriminator steps of one round: `kept` images, `2 n_v` to tell apart when filtered."
            return math.ceil(kept / 128) * epochs, math.ceil(2 * n_v / 128) * disc_epochs if filtered else 0
        def arm(schedule, epochs, filtered, n_v, disc_epochs):
            steps = [round_steps(k, filtered, n_v, epochs, disc_epochs) for k in schedule]
            return sum(s * cv + d * dk for s, d in steps)
        # sizes read from the experiments' own PROFILES tables (declared once, in the notebooks); epochs at the caps:
        # the paper caps CVAE training at 200 and the discriminator at 80 (patience 5 on the training loss seldom stops
        # them early), so these are upper bounds
        ct, dt = c.get('cvae_together_ms_per_step', 0) / 3.6e6, c.get('disc_together_ms_per_step', 0) / 3.6e6
        def lockstep(conds, epochs, disc_epochs):
            "Conditions (schedule, filtered, n_v) in lockstep, trained together: each round costs its longest training."
            h = 0.0
            for r in range(max(len(sc) for sc, _, _ in conds)):
                steps = [round_steps(sc[r], f, nv, epochs, disc_epochs) for sc, f, nv in conds if r < len(sc)]
                h += max(s for s, _ in steps) * ct + max(d for _, d in steps) * dt
            return h
        from collapse_repro.runner import get_experiment
        from collapse_repro.mnist import linear_schedule
        def prof(exp, p): return {k: v.by_profile[p] for k, v in get_experiment(exp).params.items() if p in v.by_profile}
        for p in ('paper', 'gpu'):
            q = prof('yi_cvae_schedule', p)
            R = q['rounds']
            scheds = [[s] * R for s in q['fixed_sizes']] + [linear_schedule(*q['linear'], R)]
            conds = {'yi_cvae_schedule': ([(sc, f, q['n_verifier']) for sc in scheds for f in (True, False)], q)}
            q = prof('yi_cvae_verifier_quality', p)
            conds['yi_cvae_verifier_quality'] = ([([q['kept']] * q['rounds'], True, nv) for nv in q['n_verifiers']], q)
            q = prof('yi_cvae_initial_size', p)
            conds['yi_cvae_initial_size'] = ([([q['kept']] * q['rounds'], f, q['n_verifier'])
                                              for f in (True, False) for _ in q['init_sizes']], q)
            for exp, (cs, q) in conds.items():
                out[f'{exp} {p} (≤ caps)'] = sum(arm(sc, q['cvae_epochs'], f, nv, q['disc_epochs']) for sc, f, nv in cs)
                if ct: out[f'{exp} {p} together (≤ caps)'] = lockstep(cs, q['cvae_epochs'], q['disc_epochs'])
    e = m.get('eigen', {})
    if 'paper_profile' in e:
        p = e['paper_profile']
        models = 2 + 6 * 3 + 1                    # generator, weak, (5 verifiers + real) × 3 sizes, oracle_true
        beams = (800_000 + 10_000) * 8 / p['beam_candidates_per_s']
        out['feng_eigen paper'] = (models * 40_000 * p['ms_per_step'] / 1e3 + beams) / 3600
        g = e['gpu_profile']
        def gpu(ms): return ((2 + 6 * 2 + 1) * 2000 * ms / 1e3 + 122_000 * 8 / g['beam_candidates_per_s']) / 3600
        out['feng_eigen gpu'] = gpu(g['ms_per_step'])
        best = min(g.get('compiled', {}).items(), key=lambda kv: kv[1]['ms_per_step'], default=None)
        if best: out[f'feng_eigen gpu, -p compile {best[0]} (+ its compile time)'] = gpu(best[1]['ms_per_step']) + best[1]['first_call_s'] / 3600
    if 'finetune_tokens_per_s' in m.get('llm', {}):
        for p in ('gpu', 'paper'): out.update(llm_projections(m['llm'], m.get('rouge', {}).get('pairs_per_s'), p))
    return {k: round(v, 3) for k, v in out.items()}


def generation_rate(llm: dict, rows: int) -> tuple[float, int]:
    """Generated tokens/s for batches of `rows` sequences, from the measured batch sizes: the largest measured batch
    not above `rows` (generation is launch-bound, so a larger batch is at least as fast: a floor), or the smallest one
    scaled down in proportion; and the batch it was read from."""
    from collapse_repro.devicecheck import generation_rates   # the reader of this script's JSON
    rates = generation_rates(llm)
    below = [b for b in rates if b <= rows]
    if below: return rates[max(below)], max(below)
    b = min(rates)
    return rates[b] * rows / b, b


def llm_projections(llm: dict, rouge_pairs_per_s: float | None, p: str) -> dict:
    """Hours of the two LLM experiments at profile `p` (sizes from their PROFILES tables) from measured generation,
    fine-tuning and ROUGE rates. Every summary is counted at `max_new_tokens` (no early EOS: an upper bound); the
    likelihood verifiers' forward passes at 3x the fine-tuning token rate (forward only). Approximate."""
    from collapse_repro.runner import get_experiment
    out, ft, rg = {}, llm['finetune_tokens_per_s'], rouge_pairs_per_s or float('inf')
    for exp in ('yi_xsum_rounds', 'feng_summarization_verifiers'):
        params = get_experiment(exp).params
        q = {k: v.by_profile.get(p, v.default) for k, v in params.items()}
        T, ex_tok = q['max_new_tokens'], q['max_prompt'] + q['max_summary']
        gen_s = lambda n, beams=1: n * beams * T / generation_rate(llm, q['gen_batch'] * beams)[0]
        init = q.get('init_frac', q.get('frac'))
        s = 2 * gen_s(q['n_eval']) + int(init * q['n_pool']) * ex_tok / ft      # round 0: base and round-0 model
        if exp == 'yi_xsum_rounds':
            kept = int(q['frac'] * q['n_pool'])
            s += 2 * q['rounds'] * (gen_s(q['n_pool'] + q['n_eval']) + kept * ex_tok / ft + q['n_pool'] / rg)
        else:
            cands = q['n_pool'] * q['k']
            s += gen_s(q['n_pool'], q['k']) + cands / rg
            s += sum(v in ('self', 'other') for v in q['verifiers']) * cands * (q['max_prompt'] + T) / (3 * ft)
            s += len(q['verifiers']) * sum(n * ex_tok / ft + gen_s(q['n_eval']) for n in q['n_values'])
        out[f'{exp} {p} (≤, every summary at max_new_tokens)'] = s / 3600
    return out


def show_projections(proj: dict):
    print('\nprojected wall time (from the measured per-step costs; not a measurement):')
    for k, v in proj.items(): print(f'  {k:72s} {v:7.3f} h  {60 * v:7.1f} min')


def reproject(src: Path, out: str | None) -> int:
    "Projections of this checkout's profiles from the measurements stored in `src` (a `--json` file of this script)."
    m = json.loads(src.read_text())
    proj = projections(m)
    print(f'projected from {src} (measured on {m["device"].get("gpu", "cpu")} at {m.get("git_commit")}):')
    show_projections(proj)
    if out:
        rec = dict(measurements=str(src), measured_device=m['device'], measured_at_commit=m.get('git_commit'),
                   projected_at_commit=git_commit(), projections_h=proj)
        Path(out).write_text(json.dumps(rec, indent=2) + '\n')
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--tiny', action='store_true', help='toy sizes on the CPU (CI): proves the code paths, measures nothing useful')
    ap.add_argument('--device', default=None, help='torch device (default: $COLLAPSE_REPRO_DEVICE, else cuda, else cpu)')
    ap.add_argument('--probe-seconds', type=float, default=None, help='seconds of 3×3 training in the learnability probe (default 45; tiny 2)')
    ap.add_argument('--skip', nargs='*', default=[], choices=['cvae', 'resume', 'eigen', 'compile', 'probe', 'llm', 'rouge'],
                    help="stages to leave out ('compile': the eigenvalue step through torch.compile)")
    ap.add_argument('--json', default=None, help='also write the measurements to this JSON file')
    ap.add_argument('--project-from', default=None, metavar='CHECK.json',
                    help="measure nothing: recompute the projections from a stored check's measurements with this "
                         "checkout's profiles (with --json: write them there, with their source and commit)")
    a = ap.parse_args(argv)
    if a.project_from: return reproject(Path(a.project_from), a.json)
    if a.tiny: os.environ.setdefault('IN_TEST', '1')    # the small cached feature classifier, as in the tests
    dev = torch.device('cpu') if a.tiny and a.device is None else get_device(a.device)
    if dev.type == 'cuda': torch.backends.cuda.matmul.allow_tf32 = True; torch.backends.cudnn.allow_tf32 = True
    t_start = time.time()
    res = dict(device=device_info(dev), torch=torch.__version__, cuda=torch.version.cuda, tiny=a.tiny, git_commit=git_commit(),
               packages=package_versions(), stages={})
    peak = matmul_tflops(dev, 256 if a.tiny else 8192)
    res['matmul_tflops'] = peak
    print(f'device {dev} ({res["device"].get("gpu", "cpu")}), torch {torch.__version__}, CUDA {torch.version.cuda}; '
          f'measured {"bf16" if dev.type == "cuda" else "fp32"} matmul {peak:.1f} TFLOP/s', flush=True)
    stages = dict(cvae=lambda: check_cvae(dev, a.tiny), resume=lambda: check_cvae_resume(dev, a.tiny),
                  eigen=lambda: check_eigen(dev, a.tiny, peak, 'compile' not in a.skip),
                  probe=lambda: probe_3x3(dev, a.tiny, a.probe_seconds or (2 if a.tiny else 45)),
                  llm=lambda: check_llm(dev, a.tiny, peak), rouge=lambda: check_rouge(a.tiny))
    failed = []
    for name, fn in stages.items():
        if name in a.skip: continue
        t0 = time.time()
        try:
            r = fn(); res[name] = r; status = 'ok'
        except Exception as e:
            failed.append(name); status = f'FAILED: {type(e).__name__}: {e}'; traceback.print_exc()
        res['stages'][name] = dict(status=status, seconds=round(time.time() - t0, 1))
        print(f'[{name}] {status} in {time.time() - t0:.1f}s: {json.dumps(res.get(name), default=float)[:600]}', flush=True)
    res['projections_h'] = projections(res)
    res['wall_s'] = round(time.time() - t_start, 1)
    show_projections(res['projections_h'])
    print(f'\nstages: ' + ', '.join(f'{k} {v["status"].split(":")[0]}' for k, v in res['stages'].items()) + f'; {res["wall_s"]} s in all')
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(res, indent=2, default=float) + '\n')
    if failed: print(f'FAILED stages: {", ".join(failed)}', file=sys.stderr)
    return 1 if failed or (res.get('resume') and not res['resume']['same_result']) else 0


if __name__ == '__main__':
    sys.exit(main())

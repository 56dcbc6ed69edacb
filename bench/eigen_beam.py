"""Benchmark of collapse_repro.eigen: batched beam search with a KV cache vs one matrix at a time, weak-model scoring of
the k beams, and training throughput.

    python bench/eigen_beam.py [--d 3] [--k 4] [--n 128] [--batch N] [--d-model 64] [--threads 1] [--device cpu]

Both beam searches run the same model on the same matrices in this run (and must return the same beams); the script
prints candidates/s of each and their ratio. It then scores the n·k beams with `sequence_logprob(..., repeat=k)`
(sources repeated per batch on the device) and with the host-side `np.repeat` it replaced (the scores must be
identical on a CPU), and prints teacher-forced training tokens/s. `--batch` defaults to `eigen.beam_batch` (256 matrices
on a CPU, 16,384 beam rows on a GPU).
"""
import argparse, time
import numpy as np, torch
from collapse_repro.eigen import (EigenTransformer, ModelConfig, beam_batch, beam_search, encode_matrices, encode_targets,
                                  eigenvalues, fit, random_symmetric, sequence_logprob)

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--d', type=int, default=3); ap.add_argument('--k', type=int, default=4)
    ap.add_argument('--n', type=int, default=128, help='matrices to decode')
    ap.add_argument('--batch', type=int, default=None, help='matrices per batched beam search call (default: eigen.beam_batch)')
    ap.add_argument('--d-model', type=int, default=64); ap.add_argument('--enc-layers', type=int, default=2)
    ap.add_argument('--train-steps', type=int, default=30); ap.add_argument('--train-batch', type=int, default=128)
    ap.add_argument('--threads', type=int, default=1); ap.add_argument('--device', default='cpu')
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    a.batch = a.batch or beam_batch(a.device, a.k)
    torch.manual_seed(0)
    model = EigenTransformer(ModelConfig(d_model=a.d_model, enc_layers=a.enc_layers, dec_layers=1, heads=4)).to(a.device).eval()
    A = random_symmetric(a.n, a.d, rng=0); src = encode_matrices(A)
    beam_search(model, src[:4], a.k, device=a.device)                                   # warm-up
    t = time.perf_counter(); ids, lp = beam_search(model, src, a.k, batch=a.batch, device=a.device); t_batched = time.perf_counter() - t
    t = time.perf_counter(); one = [beam_search(model, src[i:i + 1], a.k, device=a.device) for i in range(a.n)]; t_one = time.perf_counter() - t
    assert (np.concatenate([o[0] for o in one]) == ids).all(), 'batched and one-at-a-time beams differ'
    c_b, c_1 = a.n * a.k / t_batched, a.n * a.k / t_one
    print(f'{a.d}x{a.d} matrices, k={a.k}, n={a.n}, d_model={a.d_model}, device={a.device}, torch threads={torch.get_num_threads()}')
    print(f'beam search, batched ({a.batch} matrices/call): {c_b:10.1f} candidates/s  ({t_batched:.2f}s)')
    print(f'beam search, one matrix at a time:          {c_1:10.1f} candidates/s  ({t_one:.2f}s)')
    print(f'ratio batched / one-at-a-time: {c_b / c_1:.1f}x')
    flat = ids.reshape(a.n * a.k, -1)
    t = time.perf_counter(); lp_dev = sequence_logprob(model, src, flat, device=a.device, repeat=a.k); t_dev = time.perf_counter() - t
    t = time.perf_counter(); lp_host = sequence_logprob(model, np.repeat(src, a.k, 0), flat, device=a.device); t_host = time.perf_counter() - t
    same = (lp_dev == lp_host).all()
    assert same or a.device != 'cpu', 'repeat=k and np.repeat scores differ on a CPU'
    print(f'weak scoring of {a.n * a.k} beams: repeat=k {t_dev:.2f}s, np.repeat {t_host:.2f}s, identical: {same}')
    B = random_symmetric(4 * a.train_batch, a.d, rng=1)
    info = fit(model, encode_matrices(B), encode_targets(eigenvalues(B)), a.train_steps, a.train_batch, device=a.device,
               progress=False)
    print(f'training: {info["tokens_per_s"]:.0f} tokens/s ({a.train_steps} steps of {a.train_batch} samples, {info["wall_s"]:.1f}s)')

if __name__ == '__main__': main()

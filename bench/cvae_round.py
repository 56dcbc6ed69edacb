"""CVAE round throughput: the package's device-resident loop vs a plain DataLoader baseline, measured in the same run.

    python bench/cvae_round.py [--n 2000] [--epochs 3] [--device cpu]

1. Training throughput (images/s): `mnist.train_cvae` (data as one tensor on the device, batches gathered by index from a
   seeded permutation) vs the textbook `DataLoader(TensorDataset(x, y), batch_size=128, shuffle=True)` loop, same model,
   loss, optimiser and number of epochs (early stopping off).
2. Seconds per round: one full generate–verify–retrain round of the shared loop (`run_mnist`, 1 round, filtered) with
   the package's stages vs the same stages whose retrain and discriminator training go through a DataLoader.
3. Batch delivery alone (one epoch of index-gathered batches vs DataLoader batches, no model): the overhead the
   device-resident design removes. On a CPU the convolutions dominate, so (1) and (2) are close to 1; on a GPU the
   per-item Python work of the DataLoader is what limits small-image training.
4. Conditions trained together (`--conditions K`): K fresh CVAEs, each on its own training set, trained one after another
   with `train_cvae` vs all at once with `train_cvaes` (one vmapped step for all, `mnist.fit_together`); the same for K
   discriminators (`train_discriminators`); then one lockstep round of K filtered conditions through
   `loop.run_together`, with and without the batched stages (`mnist.MNIST_TOGETHER`). Images/s for both and the ratio.
Prints the numbers and the ratios.
"""
import argparse, dataclasses, tempfile, time
from pathlib import Path
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from collapse_repro.core import get_device
from collapse_repro.mnist import load_mnist, balanced_subset, to_tensor
from collapse_repro.mnist import (CVAE, Discriminator, cvae_loss, train_cvae, TrainConfig, MnistLoopConfig, MnistData, mnist_stages,
                                  train_discriminator, train_cvaes, train_discriminators, MNIST_TOGETHER)
from collapse_repro.mnist.discriminator import _disc_loss
from collapse_repro.mnist import stages as stages_mod   # where the verify stage calls train_discriminator
from collapse_repro.loop import generate_verify_retrain, Loop, run_together


def dataloader_fit(model, loss_fn, tensors, cfg: TrainConfig, seed: int):
    "Baseline: the same objective trained through a DataLoader over CPU tensors (moved to the device batch by batch)."
    torch.manual_seed(seed)
    dev = next(model.parameters()).device
    dl = DataLoader(TensorDataset(*(t.cpu() for t in tensors)), batch_size=cfg.batch_size, shuffle=True)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    best, bad = float('inf'), 0
    for ep in range(cfg.epochs):
        tot = 0.0
        for batch in dl:
            loss = loss_fn(model, *(b.to(dev) for b in batch))
            opt.zero_grad(); loss.backward(); opt.step(); tot += loss.item()
        if tot < best: best, bad = tot, 0
        else:
            bad += 1
            if bad >= cfg.patience: break
    return model.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--n', type=int, default=2000, help='training images (balanced real subset)')
    ap.add_argument('--epochs', type=int, default=3, help='epochs per training (early stopping off)')
    ap.add_argument('--kept', type=int, default=1000, help='kept samples in the timed round')
    ap.add_argument('--reps', type=int, default=3, help='repetitions of the throughput measurement (best is reported)')
    ap.add_argument('--conditions', type=int, default=4, help='conditions trained together in part 4')
    ap.add_argument('--only-together', action='store_true', help='run part 4 only')
    ap.add_argument('--device', default=None)
    a = ap.parse_args()
    dev = get_device(a.device)
    print(f'device {dev}, torch threads {torch.get_num_threads()}')
    x, y = load_mnist('train'); idx = balanced_subset(y, a.n)
    X, Y = to_tensor(x[idx], dev), torch.as_tensor(y[idx], device=dev)
    cfg = TrainConfig(epochs=a.epochs, patience=a.epochs + 1)   # no early stop: equal work
    if a.only_together: return together(a, dev, X, Y, cfg)

    train_cvae(X[:256], Y[:256], TrainConfig(epochs=1), seed=0)                     # warm-up
    t_pkg, t_dl = [], []
    def run_pkg(): t = time.perf_counter(); train_cvae(X, Y, cfg, seed=0); t_pkg.append(time.perf_counter() - t)
    def run_dl(): t = time.perf_counter(); torch.manual_seed(0); dataloader_fit(CVAE().to(dev), cvae_loss, (X, Y), cfg, 0); t_dl.append(time.perf_counter() - t)
    for r in range(a.reps):                                                          # interleaved, order alternating, best of `reps`
        for f in ((run_pkg, run_dl) if r % 2 == 0 else (run_dl, run_pkg)): f()
    t_pkg, t_dl = min(t_pkg), min(t_dl)
    n_img = a.n * a.epochs
    print(f'training throughput (best of {a.reps}): package {n_img / t_pkg:,.0f} img/s | DataLoader {n_img / t_dl:,.0f} img/s | speed-up x{t_dl / t_pkg:.2f}')

    # the part the design removes: delivering one epoch of batches, without the model
    def deliver_pkg():
        g = torch.Generator().manual_seed(0); perm = torch.randperm(len(Y), generator=g).to(dev)
        for i in range(0, len(Y), 128): b = perm[i:i + 128]; X[b]; Y[b]
    def deliver_dl():
        for xb, yb in DataLoader(TensorDataset(X.cpu(), Y.cpu()), batch_size=128, shuffle=True): xb.to(dev); yb.to(dev)
    def best(f, k=20):
        ts = []
        for _ in range(k): t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
        return min(ts)
    d_pkg, d_dl = best(deliver_pkg), best(deliver_dl)
    print(f'batch delivery per epoch ({a.n:,} images, no model): package {1e3 * d_pkg:.2f} ms | DataLoader {1e3 * d_dl:.2f} ms | speed-up x{d_dl / d_pkg:.1f}')

    data = MnistData(dev)
    rc = MnistLoopConfig(schedule=[a.kept], init_size=500, n_verifier=2000, score_batch=600, n_fid=2000, n_test=2000,
                         cvae=dict(epochs=a.epochs, patience=a.epochs + 1, batch_size=128), disc=dict(epochs=a.epochs, patience=a.epochs + 1))
    stages = mnist_stages(rc, data)
    generate_verify_retrain(stages, 0, tempfile.mkdtemp(), progress=False)            # build/cache the round-0 model first

    def dl_retrain(model, kept, ctx):
        torch.manual_seed(ctx.seed_for('retrain'))
        return dataloader_fit(CVAE().to(dev), cvae_loss, kept, rc.cvae, ctx.seed_for('retrain'))
    def dl_train_disc(real, fake, cfg=TrainConfig(epochs=80), seed=0, progress=False):
        xx = torch.cat([real, fake]); tt = torch.cat([torch.ones(len(real)), torch.zeros(len(fake))]).to(xx.device)
        torch.manual_seed(seed)
        return dataloader_fit(Discriminator().to(xx.device), _disc_loss, (xx, tt), cfg, seed), dict(epochs=cfg.epochs, final_loss=0.0)

    def one_round(st):
        h = generate_verify_retrain(st, 1, tempfile.mkdtemp(), progress=False)
        return h[1]['round_time_s']
    s_pkg = one_round(stages)
    orig = stages_mod.train_discriminator
    stages_mod.train_discriminator = dl_train_disc
    try: s_dl = one_round(dataclasses.replace(mnist_stages(rc, data), retrain=dl_retrain))
    finally: stages_mod.train_discriminator = orig
    print(f'seconds per round ({a.kept:,} kept, verifier N_v=2,000, incl. evaluation): package {s_pkg:.2f} s | DataLoader {s_dl:.2f} s | ratio x{s_dl / s_pkg:.2f}')
    together(a, dev, X, Y, cfg)


def _sync(dev):
    if dev.type == 'cuda': torch.cuda.synchronize()


def together(a, dev, X, Y, cfg):
    "Part 4: K conditions one after another vs together (training, then one lockstep round)."
    K, n = a.conditions, len(Y)
    g = torch.Generator().manual_seed(1)
    sets = [(X[i], Y[i]) for i in (torch.randperm(n, generator=g).to(dev) for _ in range(K))]   # K training sets of n
    seeds = list(range(K))
    train_cvaes(sets[:2], TrainConfig(epochs=1), seeds[:2])                                # warm-up
    def seq(): [train_cvae(x, y, cfg, seed=s) for (x, y), s in zip(sets, seeds)]
    def tog(): train_cvaes(sets, cfg, seeds)
    def dseq(): [train_discriminator(x, x.flip(-1), cfg, seed=s) for (x, _), s in zip(sets, seeds)]
    def dtog(): train_discriminators([(x, x.flip(-1)) for x, _ in sets], cfg, seeds)
    def best(f):
        ts = []
        for _ in range(a.reps):
            _sync(dev); t = time.perf_counter(); f(); _sync(dev); ts.append(time.perf_counter() - t)
        return min(ts)
    for name, f_seq, f_tog, per in (('CVAE', seq, tog, n), ('discriminator', dseq, dtog, 2 * n)):
        t_seq, t_tog = best(f_seq), best(f_tog)
        img = K * per * a.epochs
        print(f'{K} {name}s on {per:,} images each, {a.epochs} epochs (best of {a.reps}): one after another {img / t_seq:,.0f} img/s | '
              f'together {img / t_tog:,.0f} img/s | ratio (together / sequential speed) x{t_seq / t_tog:.2f}')

    data = MnistData(dev)
    rc = MnistLoopConfig(schedule=[a.kept], init_size=500, n_verifier=2000, score_batch=600, n_fid=2000, n_test=2000,
                         cvae=dict(epochs=a.epochs, patience=a.epochs + 1), disc=dict(epochs=a.epochs, patience=a.epochs + 1))
    generate_verify_retrain(mnist_stages(rc, data), 0, tempfile.mkdtemp(), progress=False)   # cache the round-0 model
    def lockstep(batched):
        root = Path(tempfile.mkdtemp())
        for k in range(K): generate_verify_retrain(mnist_stages(rc, data), 0, root / f'c{k}', seed=k, progress=False)
        loops = {f'c{k}': Loop(mnist_stages(rc, data), 1, root / f'c{k}', seed=k) for k in range(K)}
        _sync(dev); t = time.perf_counter()
        run_together(loops, MNIST_TOGETHER if batched else None, progress=False)
        _sync(dev)
        return time.perf_counter() - t
    s_seq, s_tog = lockstep(False), lockstep(True)
    print(f'one round of {K} filtered conditions ({a.kept:,} kept each, N_v=2,000, {a.epochs} epochs, incl. generation, '
          f'scoring and evaluation): one after another {s_seq:.2f} s | together {s_tog:.2f} s | ratio x{s_seq / s_tog:.2f}')


if __name__ == '__main__':
    main()

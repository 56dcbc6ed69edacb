"Tests for the MNIST reader, the CVAE/discriminator pipeline, the metrics and resumable MNIST loop runs (smoke-sized)."
import gzip, json, os
from pathlib import Path
import numpy as np
import pytest
import torch

from collapse_repro.core import DataError
from collapse_repro.mnist import read_idx, mnist_file, load_mnist, balanced_subset, to_tensor, MNIST_MD5
from collapse_repro.cvae import (CVAE, cvae_loss_parts, one_hot, filter_per_digit, MnistLoopConfig, MnistData, run_mnist,
                                 train_cvae, TrainConfig, linear_schedule)
from collapse_repro.metrics import frechet_distance, gaussian_stats, feature_classifier, FIDReference


def _write_idx(path, arr, magic):
    hdr = magic.to_bytes(4, 'big') + b''.join(int(s).to_bytes(4, 'big') for s in arr.shape)
    with gzip.open(path, 'wb') as f: f.write(hdr + np.asarray(arr, np.uint8).tobytes())


def test_read_idx_roundtrip_and_truncation(tmp_path):
    imgs = np.random.default_rng(0).integers(0, 256, (3, 28, 28))
    _write_idx(tmp_path / 'x.gz', imgs, 2051); _write_idx(tmp_path / 'y.gz', np.array([1, 2, 3]), 2049)
    assert (read_idx(tmp_path / 'x.gz') == imgs).all()
    assert read_idx(tmp_path / 'y.gz').tolist() == [1, 2, 3]
    with gzip.open(tmp_path / 't.gz', 'wb') as f: f.write((2051).to_bytes(4, 'big') + (3).to_bytes(4, 'big') + bytes(8) + bytes(100))
    with pytest.raises(DataError, match='truncated'): read_idx(tmp_path / 't.gz')
    with gzip.open(tmp_path / 'm.gz', 'wb') as f: f.write((1234).to_bytes(4, 'big') + bytes(8))
    with pytest.raises(DataError, match='magic'): read_idx(tmp_path / 'm.gz')


def test_md5_check_rejects_corrupted_file(tmp_path, monkeypatch):
    monkeypatch.setenv('COLLAPSE_REPRO_DATA', str(tmp_path)); monkeypatch.setenv('COLLAPSE_REPRO_OFFLINE', '1')
    (tmp_path / 'mnist').mkdir()
    _write_idx(tmp_path / 'mnist' / 't10k-labels-idx1-ubyte.gz', np.zeros(10000), 2049)   # well-formed but not MNIST
    with pytest.raises(DataError, match='corrupt'): mnist_file('t10k-labels-idx1-ubyte.gz')
    with pytest.raises(DataError, match='not found'): mnist_file('train-labels-idx1-ubyte.gz')
    with pytest.raises(ValueError): mnist_file('nope.gz')


def test_real_mnist_and_balanced_subsets():
    try: x, y = load_mnist('train')
    except DataError as e: pytest.skip(f'MNIST not available: {e}')
    assert x.shape == (60000, 28, 28) and y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    for size in (10, 500, 4000):
        idx = balanced_subset(y, size)
        assert len(idx) == size and len(set(idx)) == size and (np.bincount(y[idx], minlength=10) == size // 10).all()
    assert len(balanced_subset(y, 60000)) == 58862           # digits with < 6,000 images are capped
    assert (balanced_subset(y, 500, seed=0) == balanced_subset(y, 500, seed=0)).all()
    with pytest.raises(ValueError): balanced_subset(y, 55)
    t = to_tensor(x[:2]); assert t.shape == (2, 1, 28, 28) and 0 <= t.min() and t.max() <= 1


def test_cvae_loss_matches_hand_computation():
    torch.manual_seed(0)
    m = CVAE(); x = (torch.rand(4, 1, 28, 28) > 0.5).float(); y = torch.tensor([1, 2, 3, 4])
    torch.manual_seed(5); recon, kl = cvae_loss_parts(m, x, y)
    mu, lv = m.encode(x, one_hot(y)); torch.manual_seed(5); eps = torch.randn_like(mu)
    p = torch.sigmoid(m.decode(mu + eps * (0.5 * lv).exp(), one_hot(y))).double()
    assert torch.allclose(recon.double(), -(x * p.log() + (1 - x) * (1 - p).log()).flatten(1).sum(1), rtol=1e-4)
    assert torch.allclose(kl.double(), (0.5 * (mu.pow(2) + lv.exp() - 1 - lv).sum(1)).double(), rtol=1e-5)


def test_filter_keeps_exactly_top_fraction_per_digit():
    torch.manual_seed(0); m = CVAE().eval()
    def score(x): return x.flatten(1).mean(1).numpy()
    torch.manual_seed(1)
    kx, ky, flag, lab, cand = filter_per_digit(m, quota=20, score=score, frac=0.1, score_batch=200)
    assert len(kx) == 200 and (np.bincount(ky.numpy()) == 20).all() and flag.sum() == 200 and len(flag) == 2000
    sc = score(cand)
    for c in range(10):                       # one batch: top 20 of 200 per digit
        k, r = flag & (lab == c), ~flag & (lab == c)
        assert sc[k].min() >= sc[r].max()
    assert set(kx.unique().tolist()) <= {0.0, 1.0}       # training data are Bernoulli draws


def test_frechet_distance_self_zero_and_grows_with_noise():
    assert abs(frechet_distance(np.zeros(2), np.eye(2), np.array([3., 4.]), np.eye(2)) - 25) < 1e-9
    try: xt = to_tensor(load_mnist('test')[0][:1000])
    except DataError as e: pytest.skip(f'MNIST not available: {e}')
    ref = FIDReference(feature_classifier('smoke', device='cpu'), xt)
    g = torch.Generator().manual_seed(0)
    f = [ref.score((xt + s * torch.randn(xt.shape, generator=g)).clamp(0, 1))[0] for s in (0, 0.2, 0.5)]
    assert f[0] < 1e-3 < f[1] < f[2]


def test_config_validation():
    with pytest.raises(ValueError): MnistLoopConfig(schedule=[15])
    with pytest.raises(ValueError): MnistLoopConfig(init_size=5)
    with pytest.raises(ValueError): MnistLoopConfig(n_verifier=0)
    assert linear_schedule(10000, 256000, 40)[:2] == [10000, 16310] and linear_schedule(10000, 256000, 40)[-1] == 256000


def test_resume_equals_uninterrupted_run(tmp_path, monkeypatch):
    try: xt = to_tensor(load_mnist('test')[0][:500])
    except DataError as e: pytest.skip(f'MNIST not available: {e}')
    monkeypatch.setenv('COLLAPSE_REPRO_CACHE', str(tmp_path / 'cache'))
    data = MnistData('cpu', fid_ref=FIDReference(feature_classifier('smoke', device='cpu'), xt))
    cfg = MnistLoopConfig(schedule=[100, 100], init_size=100, n_verifier=200, score_batch=100, n_fid=100, n_test=100,
                          cvae=dict(epochs=2, patience=1), disc=dict(epochs=2, patience=1))
    h1 = run_mnist(cfg, data, tmp_path / 'a', seed=1, progress=False)
    run_mnist(MnistLoopConfig(**{**cfg.__dict__, 'schedule': [100]}), data, tmp_path / 'b', seed=1, progress=False)   # killed after round 1
    assert json.loads((tmp_path / 'b' / 'state.json').read_text())['rounds_done'] == 1
    h2 = run_mnist(cfg, data, tmp_path / 'b', seed=1, progress=False)
    strip = lambda h: [{k: v for k, v in r.items() if not k.endswith('time_s')} for r in h]
    assert strip(h1) == strip(h2) and len(h1) == 3 and 'p_star' in h1[1] and 'fid' in h1[2]
    h3 = run_mnist(cfg, data, tmp_path / 'c', seed=2, progress=False)
    assert strip(h3)[1] != strip(h1)[1]

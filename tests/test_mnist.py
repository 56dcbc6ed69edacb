"Tests for the MNIST reader, the CVAE/discriminator pipeline, the metrics and resumable MNIST loop runs (smoke-sized)."
import gzip, json, os, random, shutil
from pathlib import Path
from types import SimpleNamespace
import numpy as np
import pytest
import torch
from torch import nn

from collapse_repro.core import DataError
from collapse_repro.mnist import read_idx, mnist_file, load_mnist, balanced_subset, official_subset, to_tensor, MNIST_MD5
import collapse_repro.mnist.cvae as cvae_mod
import collapse_repro.mnist.stages as stages_mod
from collapse_repro.mnist import (CVAE, cvae_loss_parts, one_hot, filter_per_digit, MnistLoopConfig, MnistData, run_mnist,
                                 train_cvae, TrainConfig, linear_schedule, fit)
from collapse_repro.mnist import (frechet_distance, gaussian_stats, feature_classifier, FIDReference, mnist_v2_net, asset_dir,
                                    sha256sum, MNIST_V2_FILE, fid_reference, default_fid_net)


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


def test_official_subset_is_the_authors_selection():
    # their procedure by hand on 12 labels (3 classes): random.seed(0), then random.shuffle of [0, 3, 6, 9], of
    # [1, 4, 7, 10], of [2, 5, 8, 11] in turn gives [6, 0, 3, 9], [1, 4, 10, 7], [2, 8, 5, 11]; keep 2 of each
    lab = [0, 1, 2] * 4
    state = random.getstate()
    assert official_subset(lab, 6, n_classes=3).tolist() == [6, 0, 1, 4, 2, 8]
    assert random.getstate() == state                      # the global `random` stream is left alone
    with pytest.raises(ValueError): official_subset(lab, 5, n_classes=3)
    try: _, y = load_mnist('train')
    except DataError as e: pytest.skip(f'MNIST not available: {e}')
    off = official_subset(y, 500)                          # values from the same hand emulation on the training labels
    assert off[:5].tolist() == [24913, 55355, 7874, 51499, 12542] and off[50:53].tolist() == [38398, 20990, 44220]
    assert off[250:253].tolist() == [33200, 21206, 28040] and off[-3:].tolist() == [5224, 59325, 58470]
    assert int(off.sum()) == 14911415 and (y[off].reshape(10, 50) == np.arange(10)[:, None]).all()
    assert len(official_subset(y, 60000)) == 58862


def test_round0_training_follows_the_paper_rule(monkeypatch):
    cfg = MnistLoopConfig()
    assert (cfg.init_cvae or cfg.cvae) == TrainConfig(epochs=200, patience=5, batch_size=128, lr=1e-3, min_steps=0)
    assert cfg.init_subset == 'official' and cfg.data_seed == 0 and cfg.cvae.max_epochs(500) == 200
    seen = {}; adam = torch.optim.Adam
    def spy_adam(params, lr, **kw): seen['lr'] = lr; return adam(params, lr=lr, **kw)
    monkeypatch.setattr(torch.optim, 'Adam', spy_adam)
    per_epoch = [5, 4, 3, 3.5, 3.2, 3.1, 3.05, 3.01, 2.0, 1.0]   # mean training loss scripted per epoch
    sizes = []
    def loss_fn(m, xb):
        sizes.append(len(xb))
        return m.weight.sum() * 0 + per_epoch[(len(sizes) - 1) // 3] * len(xb)
    c = cfg.cvae
    log = fit(nn.Linear(1, 1), loss_fn, (torch.zeros(300, 1),), epochs=c.max_epochs(300), patience=c.patience, batch_size=c.batch_size, lr=c.lr)
    assert seen['lr'] == 1e-3 and sizes[:3] == [128, 128, 44]
    # best at epoch 3, then five epochs without a lower training loss: stop after epoch 8 (the authors' train_model)
    assert log['epochs'] == 8 and log['best_loss'] == 3 and log['final_loss'] == 3.01


class _FakeFID:
    kind, net = 'fake', None
    def score(self, x): return 0.0, np.zeros(len(x), int)
    def score_se(self, x, n_boot=20, seed=0): return 0.0, 0.0, np.zeros(len(x), int)


def _fake_data(n=200):
    "Grey (non-binary) stand-in images, so that binary training data can only come from the Bernoulli draws."
    x = torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 0.8 + 0.1
    y = np.arange(n) % 10
    return SimpleNamespace(device=torch.device('cpu'), xtr=x, ytr=y, xte=x[:40], yte=y[:40], fid=_FakeFID(), classifier=None,
                           classify=lambda z: np.zeros(len(z), int))


def test_bernoulli_training_data_and_fresh_init_every_round(tmp_path, monkeypatch):
    monkeypatch.setenv('COLLAPSE_REPRO_CACHE', str(tmp_path / 'cache'))
    calls, starts = [], []
    real_train, real_fit = stages_mod.train_cvae, cvae_mod.fit
    def train_spy(x, y, cfg=TrainConfig(), seed=0, progress=False):
        m, log = real_train(x, y, cfg, seed=seed, progress=progress)
        calls.append(dict(x=x.clone(), y=torch.as_tensor(y).clone(), cfg=cfg, seed=seed, start=starts[-1],
                          end={k: v.clone() for k, v in m.state_dict().items()}))
        return m, log
    def fit_spy(model, loss_fn, tensors, **kw):
        if isinstance(model, CVAE): starts.append({k: v.clone() for k, v in model.state_dict().items()})
        return real_fit(model, loss_fn, tensors, **kw)
    monkeypatch.setattr(stages_mod, 'train_cvae', train_spy); monkeypatch.setattr(cvae_mod, 'fit', fit_spy)
    data = _fake_data()
    small = dict(init_size=100, n_verifier=100, score_batch=100, n_fid=20, n_test=20, cvae=dict(epochs=2, patience=1),
                 disc=dict(epochs=1, patience=1))
    h = run_mnist(MnistLoopConfig(schedule=[100, 100], **small), data, tmp_path / 'f', seed=0, progress=False)
    run_mnist(MnistLoopConfig(schedule=[100], filtered=False, **small), data, tmp_path / 'u', seed=0, progress=False)
    assert len(calls) == 4 and [r['fid_net'] for r in h] == ['fake'] * 3
    # round 0: the authors' 100 real (grey) images; rounds 1, 2 and the unfiltered round 1: binary draws, 10 per digit
    assert torch.equal(calls[0]['x'], data.xtr[official_subset(data.ytr, 100)]) and calls[0]['cfg'] == TrainConfig(epochs=2, patience=1)
    for c in calls[1:]:
        assert set(c['x'].unique().tolist()) <= {0.0, 1.0} and (torch.bincount(c['y'], minlength=10) == 10).all()
    # every retrain starts from a fresh, seeded initialisation, never from the previous round's weights
    for prev, c in ((calls[0], calls[1]), (calls[1], calls[2]), (calls[0], calls[3])):
        assert c['seed'] != prev['seed'] and any(not torch.equal(c['start'][k], prev['end'][k]) for k in c['start'])
        torch.manual_seed(c['seed']); fresh = CVAE().state_dict()
        assert all(torch.equal(c['start'][k], fresh[k]) for k in fresh)


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
    assert strip(h1) == strip(h2) and len(h1) == 3 and 'p_star' in h1[1] and 'fid' in h1[2] and h1[2]['fid_net'] == 'cnn'
    h3 = run_mnist(cfg, data, tmp_path / 'c', seed=2, progress=False)
    assert strip(h3)[1] != strip(h1)[1]
    # a run measured with one FID network is not continued with another
    with pytest.raises(ValueError, match='measured with'): run_mnist(cfg, _fake_data(), tmp_path / 'b', seed=1, progress=False)


def test_mnist_v2_asset_is_checksummed_and_measures_fid(tmp_path, monkeypatch):
    pt = asset_dir() / MNIST_V2_FILE
    meta = json.loads(pt.with_suffix('.json').read_text())
    assert pt.stat().st_size < 10e6 and meta['sha256'] == sha256sum(pt) and meta['test_accuracy'] > 0.98
    net = mnist_v2_net('cpu')
    assert net.kind == 'mnist_v2' and net.info['sha256'] == meta['sha256']
    for f in (pt.name, pt.with_suffix('.json').name): shutil.copy(asset_dir() / f, tmp_path / f)
    b = bytearray((tmp_path / pt.name).read_bytes()); b[len(b) // 2] ^= 1; (tmp_path / pt.name).write_bytes(bytes(b))
    with pytest.raises(DataError, match='damaged'): mnist_v2_net('cpu', folder=tmp_path)
    (tmp_path / pt.name).unlink()
    with pytest.raises(DataError, match='missing'): mnist_v2_net('cpu', folder=tmp_path)
    assert default_fid_net('smoke') == 'cnn'
    monkeypatch.delenv('IN_TEST', raising=False); assert default_fid_net('quick') == default_fid_net() == 'mnist_v2'
    monkeypatch.setenv('IN_TEST', '1'); assert default_fid_net('quick') == 'cnn'
    with pytest.raises(ValueError): fid_reference('inception')
    try: xt, yt = load_mnist('test')
    except DataError as e: pytest.skip(f'MNIST not available: {e}')
    x = to_tensor(xt[:500])
    ref = fid_reference('mnist_v2', x, device='cpu')
    g = torch.Generator().manual_seed(0)
    f = [ref.score((x + s * torch.randn(x.shape, generator=g)).clamp(0, 1)) for s in (0, 0.2)]
    assert f[0][0] < 1e-3 < f[1][0] and (f[0][1] == yt[:500]).mean() > 0.97
    # a round measured on it records the network; label decisions stay with the small CNN
    from collapse_repro.mnist import evaluate_cvae, predict
    clf = feature_classifier('smoke', device='cpu')
    data = SimpleNamespace(device=torch.device('cpu'), fid=ref, classifier=clf, classify=lambda z: predict(clf, z)[1],
                           xte=x[:20], yte=yt[:20])
    out = evaluate_cvae(CVAE(), data, n_fid=50, n_test=20)
    assert out['fid_net'] == 'mnist_v2' and out['fid'] > 0 and 0 <= out['gen_error'] <= 1


def test_condition_key_hashes_the_code_once(monkeypatch):
    "condition_key reads the sources it hashes once per process; its keys still change with the code and the settings."
    import collapse_repro.mnist.conditions as cond
    cond._code_hash.cache_clear()
    reads, real_read = [], Path.read_text
    monkeypatch.setattr(Path, 'read_text', lambda self, *a, **kw: reads.append(self.name) or real_read(self, *a, **kw))
    data = SimpleNamespace(classifier=SimpleNamespace(info=dict(size='smoke')), fid=SimpleNamespace(kind='cnn'),
                           device=torch.device('cpu'))
    key = cond.condition_key(MnistLoopConfig(), data, 0)
    assert sorted(reads) == sorted(['loop.py', 'selection.py'] + [p.name for p in Path(cond.__file__).parent.glob('*.py')])
    n = len(reads)
    assert cond.condition_key(MnistLoopConfig(), data, 0) == key and len(reads) == n     # no source read again
    assert cond.condition_key(MnistLoopConfig(), data, 1) != key
    assert cond.condition_key(MnistLoopConfig(n_verifier=500), data, 0) != key
    with monkeypatch.context() as m:                              # other CPU threads or kernels: other bits, other key
        m.setattr(torch, 'get_num_threads', lambda: 99)
        assert cond.condition_key(MnistLoopConfig(), data, 0) != key
        m.undo()
        other = 'DEFAULT' if torch.backends.cpu.get_cpu_capability() != 'DEFAULT' else 'AVX2'
        m.setattr(torch.backends.cpu, 'get_cpu_capability', lambda: other)
        assert cond.condition_key(MnistLoopConfig(), data, 0) != key
    monkeypatch.setattr(cond, '_code_hash', lambda: '0' * 64)                             # other code, other key
    assert cond.condition_key(MnistLoopConfig(), data, 0) != key

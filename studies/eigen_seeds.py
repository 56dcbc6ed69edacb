"""Summarise `feng_eigen` runs of several seeds: mean and range of each model's final accuracy, E1–E3 verdicts per seed.

    python studies/eigen_seeds.py                                 # the committed quick runs (seeds 0, 1, 2)
    python studies/eigen_seeds.py RESULTS.json ... --out DIR --name feng_eigen_seeds

Reads each run's `results.json` (or a published `feng_eigen_results.json`), computes `collapse_repro.eigen.seed_summary`,
and writes `<name>.json` (the summary, with the inputs' provenance) and `<name>.png` (mean and range per model) into DIR
(default `studies/results/`). The ledger reads the copy committed in `figures/quick/` (studies/README.md).
"""
from __future__ import annotations
import argparse, json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from collapse_repro.core import git_commit, package_versions, scale_label, set_style, write_json
from collapse_repro.eigen import seed_summary

QUICK = [ROOT / 'figures/quick/feng_eigen_results.json', ROOT / 'figures/quick/feng_eigen_seed1/feng_eigen_results.json',
         ROOT / 'figures/quick/feng_eigen_seed2/feng_eigen_results.json']


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('results', nargs='*', type=Path, help='results files (default: the committed quick runs)')
    ap.add_argument('--out', type=Path, default=ROOT / 'studies/results')
    ap.add_argument('--name', default='feng_eigen_seeds')
    a = ap.parse_args(argv)
    files = a.results or QUICK
    runs = [json.loads(f.read_text()) for f in files]
    profiles = {r['profile'] for r in runs}
    if len(profiles) != 1: sys.exit(f'error: the runs mix profiles {sorted(profiles)}')
    seeds = [r['provenance']['params']['seed'] for r in runs]
    if len(set(seeds)) != len(seeds): sys.exit(f'error: repeated seeds {seeds}: a summary over seeds needs distinct ones')
    summ = seed_summary([r['results'] for r in runs])
    inputs = [dict(file=str(f.relative_to(ROOT) if f.is_relative_to(ROOT) else f), seed=r['provenance']['params']['seed'],
                   git_commit=r['provenance']['git_commit'], wall_time_s=r['provenance']['wall_time_s']) for f, r in zip(files, runs)]
    profile = profiles.pop()

    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    set_style()
    names = list(summ['final_acc_5'])
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    g = summ['generator_acc_5']
    ax.axhspan(g['min'], g['max'], color='0.85', label=f"generator (range over {summ['n_seeds']} seeds)")
    ax.axhline(g['mean'], color='0.4', ls=':', lw=1)
    for i, v in enumerate(names):
        s = summ['final_acc_5'][v]
        ax.errorbar(i, s['mean'], yerr=[[s['mean'] - s['min']], [s['max'] - s['mean']]], fmt='o', capsize=4, color=f'C{i}')
    ax.set_xticks(range(len(names)), names, rotation=20)
    ax.set(ylabel='final accuracy (τ = 5 %)', title=f"Students on verifier-selected data: mean and range over seeds {seeds}")
    ax.legend(fontsize=7, loc='upper right'); scale_label(fig, profile)
    a.out.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out / f'{a.name}.png', dpi=150, bbox_inches='tight')
    prov = dict(tool='studies/eigen_seeds.py', git_commit=git_commit(), packages=package_versions(), profile=profile, inputs=inputs)
    write_json(a.out / f'{a.name}.json', dict(summary=summ, provenance=prov))
    for k, c in summ['claims'].items(): print(f"{k:36s} {c['verdict']:17s} gaps {[round(x, 3) for x in c['gap']]}")
    print('\nthe claims ledger on this summary (its rule over the spread of the seeds: nbs/62_claims_extract.ipynb):')
    from collapse_repro import claims
    doc = dict(summary=summ, provenance=prov)
    for c in claims.CLAIMS:
        if c.experiment != 'feng_eigen' or c.file != 'seeds': continue
        o = c.value(doc)
        print(f"{c.id:22s} {claims.format_value(o.value):>8s} {claims.format_interval(claims.Row(c, profile, o)):18s} "
              f"{claims.verdict(c.rule, o.value, o.interval)}")
    print(f"wrote {a.out / a.name}.json and .png")
    return 0


if __name__ == '__main__':
    sys.exit(main())

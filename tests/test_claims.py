"The claims ledger: every claim is well formed and resolves in the committed results; the rules; `report`; README's block."
import json, re
import pytest
from conftest import ROOT, cli, cli_here
from collapse_repro import claims as C
from collapse_repro.runner import list_experiments

FIGURES = ROOT / 'figures'
TABLE = C.ledger(FIGURES)

def test_every_claim_is_well_formed():
    names = {e.name for e in list_experiments()}
    assert len({c.id for c in C.CLAIMS}) == len(C.CLAIMS)
    for c in C.CLAIMS:
        assert c.experiment in names, f'{c.id}: no experiment {c.experiment}'
        assert re.search(r'arXiv (2510\.16657|2406\.07515)v\d', c.where), f'{c.id}: cite the paper and its arXiv version'
        assert c.paper in ('Yi et al. 2026', 'Feng et al. 2025')
        text = ' '.join(map(str, (c.where, c.claim, c.short, c.paper_value, c.source, c.note)))
        assert not re.search(r'paper[AB]\.md|shared/reference', text), f'{c.id}: cite the papers, not our notes'
        assert len(c.short) <= 44 and len(c.paper_value) <= 32, f'{c.id}: short texts are for the terminal table'
        assert C.describe_rule(c.rule), c.id
        assert set(c.rule) <= {'target', 'tol', 'holds', 'direction'} and ('target' in c.rule) == ('tol' in c.rule), c.id
        if not c.same_metric:       # another metric than the paper's: never `reproduced`
            assert 'target' not in c.rule and 'holds' not in c.rule, c.id
        if isinstance(c.ours, str): assert c.ours in C.EXTRACTORS, f'{c.id}: no extractor {c.ours}'
        assert set(c.profiles) <= set(C.REPORT_PROFILES)

def test_both_papers_and_every_experiment_are_covered():
    assert {c.experiment for c in C.CLAIMS} == {e.name for e in list_experiments()}
    assert {c.paper for c in C.CLAIMS} == {'Yi et al. 2026', 'Feng et al. 2025'}

@pytest.mark.parametrize('claim', C.CLAIMS, ids=lambda c: c.id)
def test_claim_resolves_in_the_committed_results(claim):
    "Wherever the committed results exist at a profile that can test the claim, our value comes out of them."
    rows = C.evaluate(claim, FIGURES)
    for r in rows:      # an error only where the run's design cannot test the claim (the extractor says so)
        assert not r.error or r.error.startswith('NotTestable'), f'{claim.id} at {r.profile}: {r.error}'
    have = [p for p in claim.profiles if C.results_path(FIGURES, p, claim).exists()]
    assert [r.profile for r in rows if r.profile] == have
    if not have: assert rows[0].verdict == 'not run' and rows[0].missing

def test_rules_on_hand_made_values():
    r = dict(target=-0.692, tol=0.02, direction=('<=', -0.48))
    assert [C.verdict(r, x) for x in (-0.70, -0.6, 0.1, None, float('nan'))] == \
        ['reproduced', 'direction only', 'not reproduced', 'not reproduced', 'not reproduced']
    assert C.verdict(dict(direction=('<', 0)), -6.6) == 'direction only'      # other metric: direction at best
    assert C.verdict(dict(direction=('<', 0)), 11.5) == 'not reproduced'
    assert C.verdict(dict(holds=('>=', 0.7), direction=('>', 0)), (0.7, 0.9)) == 'reproduced'
    assert C.verdict(dict(holds=('>=', 0.7), direction=('>', 0)), (0.6, 0.9)) == 'direction only'
    assert C.verdict(dict(holds=('in', [0.08, 0.22])), (0.097, 0.2)) == 'reproduced'
    assert C.verdict(dict(holds=('==', True)), False) == 'not reproduced'
    assert C.describe_rule(r) == 'reproduced if |ours − (-0.692)| ≤ 0.02; direction only if ours <= -0.48'

def test_rules_with_an_interval():
    "The rule applies to the whole interval: reproduced or not reproduced only beyond it, otherwise not resolved."
    up = dict(holds=('>', 0))
    assert [C.verdict(up, 0.02, iv) for iv in ((0.001, 0.04), (-0.01, 0.05), (-0.04, -0.001))] == \
        ['reproduced', C.NOT_RESOLVED, 'not reproduced']
    assert C.verdict(up, -0.01, (-0.03, 0.01)) == C.NOT_RESOLVED      # the point value alone would say not reproduced
    flat = dict(holds=('<=', 0.01))
    assert [C.verdict(flat, 0.005, iv) for iv in ((0.0, 0.008), (0.0, 0.03), (0.02, 0.05))] == \
        ['reproduced', C.NOT_RESOLVED, 'not reproduced']
    strong = dict(holds=('>=', 0.7), direction=('>', 0))
    assert [C.verdict(strong, 0.5, iv) for iv in ((0.72, 0.9), (0.2, 0.8), (-0.2, 0.8), (-0.5, -0.1))] == \
        ['reproduced', 'direction only', C.NOT_RESOLVED, 'not reproduced']
    assert C.verdict(dict(target=0.0, tol=0.01), 0.0, (-0.02, 0.005)) == C.NOT_RESOLVED
    assert 'not resolved' in C.describe_rule(up, comparative=True) and 'not resolved' not in C.describe_rule(up)

def test_comparative_claims_show_their_interval_or_say_there_is_none(tmp_path):
    md = C.format_markdown(TABLE)
    for rows in TABLE:
        for r in rows:
            if not (r.claim.comparative and r.ours): continue
            line = next(l for l in md.splitlines() if l.startswith(f'| `{r.claim.id}`'))
            shown = C.format_interval(r)
            assert shown and shown in line, (r.claim.id, shown)
            assert (shown == C.NO_INTERVAL) == (r.ours.interval is None)

def test_headline_verdict_is_the_largest_profile_that_ran():
    c = C.CLAIMS[0]
    rows = [C.Row(c, 'quick', C.Ours(1), 'not reproduced'), C.Row(c, 'gpu', C.Ours(1), 'reproduced')]
    assert C.headline(rows) == 'reproduced'
    assert C.headline([C.Row(c, None)]) == 'not run'

def _verdicts(*ids):
    by = {rows[0].claim.id: {r.profile: r.verdict for r in rows} for rows in TABLE}
    return [by[i] for i in ids]

def test_honest_verdicts_on_the_committed_results():
    fid, nelbo = _verdicts('yi.cvae.fid_falls', 'yi.cvae.nelbo_falls')
    assert fid['quick'] == 'direction only'      # quick MNIST-FID falls below round 0, but it is not the paper's Inception-FID
    if 'gpu' in nelbo: assert nelbo['gpu'] == 'direction only'   # NELBO falls at gpu, but not by the paper's 8 nats
    for rows in TABLE:                                           # small-CNN FID is not Inception-FID
        if not rows[0].claim.same_metric: assert all(r.verdict != 'reproduced' for r in rows), rows[0].claim.id

def test_provenance_names_the_commit_that_ran():
    gpu = FIGURES / 'gpu' / 'yi_cvae_schedule_results.json'
    if not gpu.exists(): pytest.skip('no gpu results committed')
    doc = json.loads(gpu.read_text())
    commit, device = C.provenance(doc, FIGURES)
    assert commit == doc['device_run']['code_commit'][:7] and device == doc['provenance']['device']['gpu']

def test_report_prints_a_verdict_for_every_claim():
    p = cli('report')
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    for c in C.CLAIMS:
        (line,) = [l for l in lines if l.startswith(c.id + ' ')]
        assert any(f'  {v}' in line for v in C.VERDICTS), line
    assert re.search(rf'{len(C.CLAIMS)} claims: \d+ reproduced, \d+ direction only, \d+ not reproduced, '
                     rf'\d+ not resolved at this profile, \d+ not run', p.stdout)

def test_report_one_profile_and_markdown(tmp_path):
    p = cli('report', '--profile', 'gpu', '--markdown', tmp_path / 'c.md')
    assert p.returncode == 0, p.stderr
    md = (tmp_path / 'c.md').read_text()
    assert all(f'`{c.id}`' in md for c in C.CLAIMS) and '| gpu |' in md and '| quick |' not in md
    assert cli_here('report', '--profile', 'nonesuch').returncode == 2

def test_readme_block_is_current():
    "README's summary is what `collapse-repro report --update-readme` writes (run it after results change)."
    text = (ROOT / 'README.md').read_text(encoding='utf-8')
    exps = C.experiments_markdown(list_experiments(), FIGURES, TABLE)
    from collapse_repro.devicecheck import device_markdown
    device = device_markdown(ROOT / 'bench' / 'results')
    assert C.update_readme(text, TABLE, exps, device) == text, \
        'README claims summary, experiments table or device block is stale: run collapse-repro report --update-readme'

def test_committed_claims_markdown_is_current():
    "figures/CLAIMS.md is what `collapse-repro report --markdown figures/CLAIMS.md` writes."
    assert (FIGURES / 'CLAIMS.md').read_text(encoding='utf-8') == C.format_markdown(TABLE), \
        'figures/CLAIMS.md is stale: run collapse-repro report --markdown figures/CLAIMS.md'

def test_llm_eigen_and_scaling_claims_carry_an_interval():
    "Item 3 of issue 25: the comparative claims of these experiments are decided on an interval, not a point."
    exps = {'yi_xsum_rounds', 'feng_summarization_verifiers', 'feng_scaling'}
    for rows in TABLE:
        c = rows[0].claim
        if c.experiment in exps or (c.experiment == 'feng_eigen' and c.file == 'seeds'):
            assert c.comparative, c.id
            for r in rows:
                if r.ours is not None: assert r.ours.interval is not None and r.ours.spread, (c.id, r.profile)

def test_cvae_extractors_use_fid_se_when_present():
    "The CVAE histories may carry `fid_se` per round (issue 25, item 1): the change then gets an interval."
    h = {'a|filtered': [dict(round=0, fid=10.0, fid_se=0.5), dict(round=1, fid=8.0, fid_se=0.5)],
         'a|unfiltered': [dict(round=0, fid=10.0, fid_se=0.5), dict(round=1, fid=12.0, fid_se=0.5)]}
    doc = dict(results=dict(history=h))
    o = C.cvae_change(doc, ('a', '|filtered'))
    assert o.interval is not None and o.interval[0] < -2 < o.interval[1] < 0
    assert C.verdict(dict(direction=('<', 0)), o.value, o.interval) == 'direction only'
    for r in h['a|filtered']: del r['fid_se']
    assert C.cvae_change(doc, ('a', '|filtered')).interval is None


def _paper_numbers(text: str) -> set:
    """The measured values in `text`: decimals with two significant digits or more (0.735, 121.04, 17.6) and read-off
    values (≈131); not settings (0.8, 12.5 %), sizes, round counts or section numbers (Thm 3.1)."""
    import re
    t = re.sub(r'(Thm|Theorem|§|Fig\.|Figure|Table|Eq\.|Assumption|App\.|v)\s*[A-Z]?\d+(\.\d+)*', ' ', text.replace('−', '-'))
    t = re.sub(r'\d+(\.\d+)?\s*%', ' ', t)
    dec = {d for d in re.findall(r'(?<![\w.])\d+\.\d+(?![\d])', t) if len(d.replace('.', '').lstrip('0')) >= 2}
    return dec | set(re.findall(r'≈\s*(\d+(?:\.\d+)?)', t))

def test_no_experiment_notebook_types_a_paper_number():
    """Each paper number is typed once, in the ledger (`claims.papers`, `claims.reports`): the experiment notebooks'
    prose renders it from there instead of retyping it."""
    import json
    from collapse_repro.claims.reports import PAPER_REPORTS
    typed = []
    for nb in sorted((ROOT / 'nbs' / 'experiments').glob('*.ipynb')):
        ledger = set().union(*[_paper_numbers(c.paper_value + ' ' + c.claim) for c in C.CLAIMS if c.experiment == nb.stem],
                             *[_paper_numbers(v) for k, v in PAPER_REPORTS.items() if k.startswith(nb.stem)])
        for cell in json.loads(nb.read_text())['cells']:
            if cell['cell_type'] == 'markdown':
                typed += [(nb.stem, n) for n in sorted(_paper_numbers(''.join(cell['source'])) & ledger)]
    assert not typed, typed

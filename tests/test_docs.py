"""The tutorial site (`make docs`) in a real browser: headless Chromium (Debian's `chromium`) driven by Playwright.

Runs only under `make test-docs` (which builds the site first and sets COLLAPSE_REPRO_TEST_DOCS=1); there a missing
site, browser or Playwright is a failure, not a skip. Screenshots go to _docs/screenshots/ for a developer to look at."""
import functools, json, os, re, shutil, sys, threading
from http.server import ThreadingHTTPServer, SimpleHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit, unquote
import pytest
from conftest import ROOT

SITE = Path(os.environ.get('COLLAPSE_REPRO_DOCS_HTML', ROOT / '_docs' / 'html'))
SHOTS = ROOT / '_docs' / 'screenshots'
CHROMIUM = os.environ.get('CHROMIUM', shutil.which('chromium') or '/usr/bin/chromium')

pytestmark = pytest.mark.skipif(not os.environ.get('COLLAPSE_REPRO_TEST_DOCS'),
                                reason='browser test of the built site: run `make test-docs`')

class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *a): pass

class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        "A request the browser dropped on leaving the page (a font still loading) is not an error of the site."
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)): super().handle_error(request, client_address)

@pytest.fixture(scope='module')
def site():
    "The built site served over HTTP on a free local port (as a reader's browser would get it)."
    assert (SITE / 'index.html').exists(), f'no site in {SITE}: run `make docs` first'
    srv = _Server(('127.0.0.1', 0), functools.partial(_Quiet, directory=str(SITE)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{srv.server_address[1]}'
    srv.shutdown()

@pytest.fixture(scope='module')
def browser():
    from playwright.sync_api import sync_playwright
    assert Path(CHROMIUM).exists(), f'{CHROMIUM} not found: apt-get install -y chromium'
    with sync_playwright() as p:
        args = ['--no-sandbox'] if os.geteuid() == 0 else []
        b = p.chromium.launch(executable_path=CHROMIUM, args=args)
        yield b
        b.close()

def pages() -> list[str]:
    "Every HTML page of the site, relative to its root (not Sphinx's copied sources or static files)."
    return sorted(str(p.relative_to(SITE)) for p in SITE.rglob('*.html')
                  if not str(p.relative_to(SITE)).startswith(('_static', '_sources', '_images', 'screenshots')))

_WAIT_IMAGES = """async () => {
    const imgs = Array.from(document.images);
    imgs.forEach(i => { i.loading = 'eager'; });
    await Promise.all(imgs.map(i => i.complete ? 0 : new Promise(r => { i.onload = i.onerror = r; setTimeout(r, 5000); })));
    return imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src'));
}"""

# What a reader sees on one page, measured in the browser (at the viewport's width): text outside code blocks, output
# blocks' text, TeX left in plain text, emphasis swallowed after `p_`, math elements and which MathJax typeset them,
# sideways scrolling (of the page and of its blocks), tables whose columns leave the column, figures and their alt text.
_MEASURE = """() => {
    const art = document.querySelector('article') || document.body;
    const prose = art.cloneNode(true);
    prose.querySelectorAll('pre, code, .math, script, mjx-container, .highlight').forEach(e => e.remove());
    const W = window.innerWidth, right = Math.min(W, art.getBoundingClientRect().right + 1);
    const wide = Array.from(art.querySelectorAll('*')).filter(e => e.getBoundingClientRect().right > W + 1
        && !e.closest('pre, .highlight, .cell_input, mjx-container, .math, .cell_output'));
    return {
        prose: prose.innerText,
        outputs: Array.from(art.querySelectorAll('.cell_output')).map(e => e.innerText),
        swallowed: (art.innerHTML.match(/p_<em>/g) || []).length,
        math: art.querySelectorAll('.math').length,
        typeset: art.querySelectorAll('mjx-container').length,
        mathjax: window.MathJax ? String(window.MathJax.version) : null,
        mathjax_files: performance.getEntriesByType('resource').map(r => r.name).filter(n => /mathjax/i.test(n)),
        page_width: document.scrollingElement.scrollWidth,
        scrolling_blocks: Array.from(art.querySelectorAll('pre')).filter(e => e.scrollWidth > e.clientWidth + 2).length,
        wide: wide.slice(0, 5).map(e => e.tagName + '.' + e.className),
        table_overflow: Array.from(art.querySelectorAll('table')).filter(t =>
            Array.from(t.querySelectorAll('th, td')).some(c => c.getBoundingClientRect().right > right)).length,
        legend: !!art.querySelector('.marker-legend'),
        dirty_explained: !!document.querySelector('.dirty-note, a[href*="#dirty-commits"]'),
        images: Array.from(art.querySelectorAll('img')).map(i => ({src: i.getAttribute('src'), alt: i.alt || '',
            width: i.width, natural: i.naturalWidth, link: (i.closest('a[href]') || {}).href || ''})),
    };
}"""

@pytest.fixture(scope='module')
def crawl(site, browser):
    "Visit every page once: console errors, failed requests, broken images, links and element ids per page."
    page = browser.new_page(viewport=dict(width=1280, height=1000))
    found = dict(errors={}, images={}, n_images={}, n_outputs={}, links={}, ids={}, text={}, seen={}, narrow={})
    current = {}
    page.on('console', lambda m: m.type == 'error' and found['errors'].setdefault(current['p'], []).append(m.text))
    page.on('pageerror', lambda e: found['errors'].setdefault(current['p'], []).append(str(e)))
    page.on('requestfailed', lambda r: found['errors'].setdefault(current['p'], []).append(f'request failed: {r.url}'))
    page.on('response', lambda r: r.status >= 400 and found['errors'].setdefault(current['p'], []).append(f'{r.status}: {r.url}'))
    for rel in pages():
        current['p'] = rel
        page.goto(f'{site}/{rel}', wait_until='load')          # deferred scripts (MathJax) have run by now
        found['images'][rel] = page.evaluate(_WAIT_IMAGES)
        if page.evaluate('!!(window.MathJax && MathJax.startup && MathJax.startup.promise)'):
            page.evaluate('MathJax.startup.promise')               # typeset; then the fonts it asked for
        page.evaluate('document.fonts.ready.then(() => 0)')
        found['n_images'][rel] = page.evaluate('document.querySelectorAll("article img").length')
        found['n_outputs'][rel] = page.evaluate('document.querySelectorAll("article .cell_output").length')
        found['links'][rel] = page.eval_on_selector_all('a[href]', 'as => as.map(a => a.href)')
        found['ids'][rel] = set(page.eval_on_selector_all('[id]', 'es => es.map(e => e.id)'))
        found['text'][rel] = page.inner_text('body')
        found['seen'][rel] = page.evaluate(_MEASURE)
        page.set_viewport_size(dict(width=390, height=844))      # a phone's width: the layout reflows, no reload
        found['narrow'][rel] = page.evaluate(_MEASURE)
        page.set_viewport_size(dict(width=1280, height=1000))
    page.close()
    return found

def test_the_site_has_every_part_of_the_tutorial():
    ps = pages()
    assert 'index.html' in ps and 'claims.html' in ps
    assert sum(p.startswith('lib/') for p in ps) >= 12 and sum(p.startswith('api/') for p in ps) >= 12
    from collapse_repro.runner import list_experiments
    for e in list_experiments():
        assert f'experiments/{e.name}.html' in ps, e.name

def test_one_page_per_experiment_with_a_section_per_profile_that_ran(crawl):
    "Each experiment is one page, with a section (and its figures) for every profile that published a run."
    from collapse_repro.runner import list_experiments
    figures = Path(os.environ.get('COLLAPSE_REPRO_FIGURES') or ROOT / 'figures')
    names = [e.name for e in list_experiments()]
    assert sorted(p for p in crawl['ids'] if p.startswith('experiments/')) == sorted(f'experiments/{n}.html' for n in names)
    missing = []
    for n in names:
        for prof in sorted(d.name for d in figures.iterdir() if d.is_dir() and d.name != 'superseded'):
            ran = [f for f in (figures / prof).iterdir() if f.is_file() and (f.name == f'{n}.ipynb' or f.name.startswith(n + '_'))
                   and not any(f.name.startswith(m + '_') for m in names if m != n and m.startswith(n + '_'))]
            if ran and f'the-{prof}-run' not in crawl['ids'][f'experiments/{n}.html']: missing.append(f'{n}: {prof}')
    assert not missing, missing

def test_every_page_loads_without_console_errors(crawl):
    assert not crawl['errors'], crawl['errors']

def test_every_image_has_loaded(crawl):
    broken = {p: srcs for p, srcs in crawl['images'].items() if srcs}
    assert not broken, broken

def test_every_internal_link_resolves(crawl, site):
    bad = []
    for page, links in crawl['links'].items():
        for href in links:
            if not href.startswith(site): continue                     # external links are not followed (offline)
            u = urlsplit(href); path = unquote(u.path).lstrip('/') or 'index.html'
            if path.endswith('/'): path += 'index.html'
            target = SITE / path
            if not target.is_file(): bad.append(f'{page}: {href} (no file {path})')
            elif u.fragment and path.endswith('.html') and path in crawl['ids'] and unquote(u.fragment) not in crawl['ids'][path]:
                bad.append(f'{page}: {href} (no element #{u.fragment})')
    assert not bad, '\n'.join(bad)

def test_the_ledger_page_lists_every_experiment(crawl):
    from collapse_repro.runner import list_experiments
    text = crawl['text']['claims.html']
    missing = [e.name for e in list_experiments() if e.name not in text]
    assert not missing, missing

def _kept_outputs(page: str):
    "How many outputs `make test` kept for the library notebook of `page` ('lib/NN_x.html'); None if none were kept."
    f = ROOT / '_docs' / 'executed' / (Path(page).stem + '.ipynb')
    if not f.exists(): return None
    return sum(len(c.get('outputs', [])) for c in json.loads(f.read_text())['cells'] if c['cell_type'] == 'code')

def test_notebook_pages_show_outputs_and_figures(crawl):
    "Library notebooks were executed during the build (outputs shown); every experiment page shows figures."
    assert 'feng_phase_transition' in crawl['text']['index.html']          # the landing page's list_experiments() output
    lib = {p: n for p, n in crawl['n_outputs'].items() if p.startswith('lib/')}
    kept = {p: _kept_outputs(p) for p in lib}            # what `make test` kept of each notebook's outputs (None: not kept)
    assert all(lib[p] > 0 for p, k in kept.items() if k), {p: n for p, n in lib.items() if kept[p] and not n}
    assert sum(n > 0 for n in lib.values()) >= len(lib) / 2, lib   # a build that executed nothing fails even unkept
    exps = {p: n for p, n in crawl['n_images'].items() if p.startswith('experiments/')}
    published = [p for p, t in crawl['text'].items() if p.startswith('experiments/') and 'No run of this experiment is published' not in t]
    assert all(exps[p] > 0 for p in published), exps

# ---------------------------------------------------------------------------------------------------------------------
# What must hold for the site to read as a tutorial (issue 28). Each check reads what the crawl measured in the browser.

def _bad(crawl, f, prefix=('',)) -> dict:
    "page -> what `f` finds wrong on it (pages whose path starts with one of `prefix`)."
    return {p: v for p, s in crawl['seen'].items() if p.startswith(tuple(prefix)) and (v := f(s))}

RAW_TABLE = re.compile(r'\|\s*:?(?:-{3,}|[—–]+)\s*:?\|')   # a separator row, its dashes perhaps made typographic
TQDM = re.compile(r'([^\n\[\]|]*?)\s*(\d+)%\|[^|\n]*\|\s*(\d+)/(\d+)(?: \[[^\]\n]*\])?')

def tqdm_frames(text: str) -> list[str]:
    """Progress-bar states that the next state of the same bar (same description and total, further along) redraws:
    frames a terminal would have overwritten, whether on lines of their own or run together on one line."""
    bars = list(TQDM.finditer(text))
    return [a.group(0).strip() for a, b in zip(bars, bars[1:]) if a.group(1).strip() == b.group(1).strip()
            and a.group(4) == b.group(4) and int(b.group(3)) > int(a.group(3))]

def test_tqdm_frames_are_recognised():
    a, b = 'gen:  10%|█ | 1/10 [00:01, 3it/s]', 'gen:  20%|██ | 2/10 [00:02]'
    assert tqdm_frames(f'{a}\n{b}') == [a] and tqdm_frames(a + b) == [a]       # on lines of their own, or run together
    assert not tqdm_frames('gen: 100%|██| 10/10 [00:09]\ngen:  10%|█ | 1/10 [00:01]\ntrain: 100%|██| 10/10')

def test_no_raw_markdown_table_text(crawl):
    assert not _bad(crawl, lambda s: [l for l in s['prose'].split('\n') if RAW_TABLE.search(l)][:3])

def test_no_progress_bar_frames_in_outputs(crawl):
    assert not _bad(crawl, lambda s: sum((tqdm_frames(t) for t in s['outputs']), [])[:3])

def test_no_tex_left_in_plain_text_and_no_emphasis_swallowed_by_p_star(crawl):
    tex = _bad(crawl, lambda s: re.findall(r'.{0,20}[_^]\{.{0,20}', s['prose'])[:3], ('index', 'lib/', 'experiments/'))
    swallowed = _bad(crawl, lambda s: s['swallowed'])
    assert not tex and not swallowed, (tex, swallowed)

def test_pages_with_maths_load_mathjax_3_and_others_none(crawl):
    def wrong(s):
        if s['math']:
            if not (s['mathjax'] or '').startswith('3'): return f"MathJax {s['mathjax']}"
            if s['typeset'] < s['math']: return f"{s['typeset']} of {s['math']} formulas typeset"
        elif s['mathjax_files']: return f"loads {s['mathjax_files'][:1]} without maths"
    assert not _bad(crawl, wrong)

def test_no_page_scrolls_sideways_at_1280px_and_tables_fit_the_column(crawl):
    "No page or code/output block scrolls sideways; every table's columns (the ledger's verdicts) lie in the column."
    wide = _bad(crawl, lambda s: s['page_width'] > 1280 and s['page_width'])
    blocks = _bad(crawl, lambda s: s['scrolling_blocks'])
    tables = _bad(crawl, lambda s: s['table_overflow'])
    assert not wide and not blocks and not tables, dict(pages=wide, blocks=blocks, tables=tables)

def test_readable_at_390px(crawl):
    "On a phone's width no element but a code block is wider than the viewport, and no page scrolls sideways."
    bad = {rel: (s['page_width'], s['wide']) for rel, s in crawl['narrow'].items() if s['page_width'] > 390 or s['wide']}
    assert not bad, bad

IMAGE = re.compile(r'\.(png|jpe?g|svg|gif)$', re.I)
NO_ALT = re.compile(r'[0-9a-f]{12,}|\.(png|jpe?g|svg)$', re.I)

def test_figures_are_large_or_enlarge_and_have_alt_text(crawl):
    "Each figure is shown at >= 80 % of its natural width or links to itself; its alt text says what it shows."
    small = _bad(crawl, lambda s: [i['src'] for i in s['images'] if i['natural'] and i['width'] < 0.8 * i['natural']
                                   and not IMAGE.search(i['link'])][:3])
    alt = _bad(crawl, lambda s: [(i['src'], i['alt']) for i in s['images'] if '_static/' not in (i['src'] or '')
                                 and (len(i['alt'].split()) < 3 or NO_ALT.search(i['alt']))][:3])
    assert not small and not alt, dict(small=small, alt=alt)

def test_no_machine_path_on_any_page():
    "No page shows the folders of the machine a run or this build was made on (/tmp/…, /work/…, a home directory)."
    from test_docs_stage import machine_paths_in_html
    bad = machine_paths_in_html(SITE)
    assert not bad, bad

def test_markers_are_explained_where_they_are_used(crawl):
    bad = [p for p, t in crawl['text'].items() if re.search(r'\[(R|V|M|\?)\]', t) and not crawl['seen'][p]['legend']]
    assert not bad, bad

def test_dirty_commits_are_explained(crawl):
    bad = [p for p, t in crawl['text'].items() if '+dirty' in t and not crawl['seen'][p]['dirty_explained']]
    assert not bad, bad

def test_site_size_and_landing_page_weight(site, browser):
    size = sum(f.stat().st_size for f in SITE.rglob('*') if f.is_file())
    page = browser.new_page(viewport=dict(width=1280, height=1000))
    page.goto(f'{site}/index.html', wait_until='networkidle')
    sent = page.evaluate("""performance.getEntriesByType('navigation')[0].transferSize
        + performance.getEntriesByType('resource').reduce((a, r) => a + r.transferSize, 0)""")
    page.close()
    assert size <= 15e6 and sent <= 1e6, dict(site_MB=size / 1e6, landing_MB=sent / 1e6)

def test_search_finds_the_theory_from_any_page(site, browser):
    """The search box works although only search.html loads the index (conf.py's `_slim_site`): typed on a chapter
    page, it opens the search page, which lists the chapter on the breakdown point."""
    page = browser.new_page(viewport=dict(width=1280, height=1000))
    page.goto(f'{site}/lib/00_core.html', wait_until='load')
    page.keyboard.press('Control+k')
    page.keyboard.type('breakdown'); page.keyboard.press('Enter')
    page.wait_for_url('**/search.html*', timeout=10000)
    page.wait_for_selector('#search-results li', timeout=20000)
    hits = page.eval_on_selector_all('#search-results li a', 'as => as.map(a => a.getAttribute("href"))')
    page.close()
    assert any('gmm' in h for h in hits), hits[:10]

def test_landing_table_and_verdict_boxes_follow_the_ledger(site, browser):
    """The landing page's experiment table and each experiment page's verdict box show what `collapse-repro report`
    computes (claims.ledger over the committed figures/): every claim with its verdict, every verdict count."""
    from collapse_repro import claims
    from collapse_repro.runner import list_experiments
    table = claims.ledger(Path(os.environ.get('COLLAPSE_REPRO_FIGURES') or ROOT / 'figures'))
    page = browser.new_page(viewport=dict(width=1280, height=1000))
    page.goto(f'{site}/index.html', wait_until='load')
    landing = page.eval_on_selector_all('[data-experiment]',
                                        'es => Object.fromEntries(es.map(e => [e.dataset.experiment, e.innerText]))')
    bad = []
    for e in list_experiments():
        rows = [r for r in table if r[0].claim.experiment == e.name]
        vs = [claims.headline(r) for r in rows]
        if e.name not in landing: bad.append(f'landing: no row for {e.name}'); continue
        for v in dict.fromkeys(vs):
            if f'{vs.count(v)} {v}' not in landing[e.name]: bad.append(f'landing {e.name}: no "{vs.count(v)} {v}"')
        want = {r[0].claim.id: claims.headline(r) for r in rows}
        for rel in [f'experiments/{e.name}.html']:
            page.goto(f'{site}/{rel}', wait_until='load')
            box = page.eval_on_selector_all('.verdict-box [data-claim]', 'es => Object.fromEntries(es.map(e => '
                                            '[e.dataset.claim, e.dataset.verdict]))')
            if box != want: bad.append(f'{rel}: verdict box {box} != ledger {want}')
    page.close()
    assert not bad, '\n'.join(bad)

def test_screenshots(site, browser):
    "The landing page, a theory chapter, one experiment page and the ledger, saved for a developer to look at."
    SHOTS.mkdir(parents=True, exist_ok=True)
    exps = [p for p in pages() if p.startswith('experiments/')]
    exp = next((p for p in exps if p.startswith('experiments/yi_linreg_one_round')), exps[0])
    page = browser.new_page(viewport=dict(width=1280, height=1000))
    for name, rel in [('landing', 'index.html'), ('theory', 'lib/10_linreg.html'), ('experiment', exp),
                      ('ledger', 'claims.html')]:
        page.goto(f'{site}/{rel}', wait_until='load')
        page.screenshot(path=str(SHOTS / f'{name}.png'))
        if name == 'experiment':                                          # and the first figure on that page
            page.evaluate(_WAIT_IMAGES)
            imgs = page.query_selector_all('article img')
            if imgs:
                imgs[0].scroll_into_view_if_needed(); page.screenshot(path=str(SHOTS / 'experiment-figure.png'))
    page.close()
    assert (SHOTS / 'landing.png').stat().st_size > 10_000 and (SHOTS / 'experiment.png').stat().st_size > 10_000

"""The tutorial site (`make docs`) in a real browser: headless Chromium (Debian's `chromium`) driven by Playwright.

Runs only under `make test-docs` (which builds the site first and sets COLLAPSE_REPRO_TEST_DOCS=1); there a missing
site, browser or Playwright is a failure, not a skip. Screenshots go to _docs/screenshots/ for a developer to look at."""
import os, re, shutil, threading, functools
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

@pytest.fixture(scope='module')
def site():
    "The built site served over HTTP on a free local port (as a reader's browser would get it)."
    assert (SITE / 'index.html').exists(), f'no site in {SITE}: run `make docs` first'
    srv = ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(_Quiet, directory=str(SITE)))
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

@pytest.fixture(scope='module')
def crawl(site, browser):
    "Visit every page once: console errors, failed requests, broken images, links and element ids per page."
    page = browser.new_page(viewport=dict(width=1280, height=1000))
    found = dict(errors={}, images={}, n_images={}, n_outputs={}, links={}, ids={}, text={})
    current = {}
    page.on('console', lambda m: m.type == 'error' and found['errors'].setdefault(current['p'], []).append(m.text))
    page.on('pageerror', lambda e: found['errors'].setdefault(current['p'], []).append(str(e)))
    page.on('requestfailed', lambda r: found['errors'].setdefault(current['p'], []).append(f'request failed: {r.url}'))
    page.on('response', lambda r: r.status >= 400 and found['errors'].setdefault(current['p'], []).append(f'{r.status}: {r.url}'))
    for rel in pages():
        current['p'] = rel
        page.goto(f'{site}/{rel}', wait_until='networkidle')       # MathJax and its fonts load asynchronously
        found['images'][rel] = page.evaluate(_WAIT_IMAGES)
        found['n_images'][rel] = page.evaluate('document.querySelectorAll("article img").length')
        found['n_outputs'][rel] = page.evaluate('document.querySelectorAll("article .cell_output").length')
        found['links'][rel] = page.eval_on_selector_all('a[href]', 'as => as.map(a => a.href)')
        found['ids'][rel] = set(page.eval_on_selector_all('[id]', 'es => es.map(e => e.id)'))
        found['text'][rel] = page.inner_text('body')
    page.close()
    return found

def test_the_site_has_every_part_of_the_tutorial():
    ps = pages()
    assert 'index.html' in ps and 'claims.html' in ps
    assert sum(p.startswith('lib/') for p in ps) >= 12 and sum(p.startswith('api/') for p in ps) >= 12
    from collapse_repro.runner import list_experiments
    for e in list_experiments():
        assert any(re.fullmatch(rf'experiments/{e.name}(-\w+)?\.html', p) for p in ps), e.name

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

def test_notebook_pages_show_outputs_and_figures(crawl):
    "Library notebooks were executed during the build (outputs shown); every experiment page shows figures."
    assert 'feng_phase_transition' in crawl['text']['index.html']          # the landing page's list_experiments() output
    lib = {p: n for p, n in crawl['n_outputs'].items() if p.startswith('lib/')}
    assert sum(n > 0 for n in lib.values()) >= len(lib) - 1, lib
    exps = {p: n for p, n in crawl['n_images'].items() if p.startswith('experiments/')}
    published = [p for p, t in crawl['text'].items() if p.startswith('experiments/') and 'No run of this experiment is published' not in t]
    assert all(exps[p] > 0 for p in published), exps

def test_screenshots(site, browser):
    "The landing page and one experiment page (an executed one if any), saved for a developer to look at."
    SHOTS.mkdir(parents=True, exist_ok=True)
    exps = [p for p in pages() if p.startswith('experiments/')]
    exp = next((p for p in exps if re.search(r'-\w+\.html$', p)), exps[0])
    page = browser.new_page(viewport=dict(width=1280, height=1000))
    for name, rel in [('landing', 'index.html'), ('experiment', exp)]:
        page.goto(f'{site}/{rel}', wait_until='load')
        page.screenshot(path=str(SHOTS / f'{name}.png'))
        if name == 'experiment':                                          # and the first figure on that page
            page.evaluate(_WAIT_IMAGES)
            imgs = page.query_selector_all('article img')
            if imgs:
                imgs[0].scroll_into_view_if_needed(); page.screenshot(path=str(SHOTS / 'experiment-figure.png'))
    page.close()
    assert (SHOTS / 'landing.png').stat().st_size > 10_000 and (SHOTS / 'experiment.png').stat().st_size > 10_000

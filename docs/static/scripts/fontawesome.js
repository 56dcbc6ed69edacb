/* Replaces the theme's Font Awesome bundle (1.5 MB of SVG icons in JavaScript, most of the landing page's weight):
   the few icons the theme's buttons use, drawn as characters. Same file name, so html_static_path overrides it. */
(function () {
  const glyph = {'fa-bars': '☰', 'fa-magnifying-glass': '⌕', 'fa-list': '☷', 'fa-expand': '⤢', 'fa-download': '⤓',
    'fa-sun': '☀', 'fa-moon': '☾', 'fa-circle-half-stroke': '◐', 'fa-angle-right': '›', 'fa-angle-left': '‹',
    'fa-chevron-right': '›', 'fa-chevron-left': '‹', 'fa-chevron-down': '⌄', 'fa-chevron-up': '⌃', 'fa-xmark': '×',
    'fa-file-arrow-down': '⤓', 'fa-file-code': '⟨⟩', 'fa-file-pdf': '⤓', 'fa-github': 'GH', 'fa-square-github': 'GH',
    'fa-rocket': '↗', 'fa-lightbulb': '💡', 'fa-pencil': '✎', 'fa-bug': '!', 'fa-link': '🔗'};
  function draw() {
    document.querySelectorAll('i[class*="fa-"], span[class*="fa-"]').forEach(function (i) {
      if (i.dataset.glyph) return;
      const k = Array.from(i.classList).find(function (c) { return c in glyph; });
      if (k) { i.textContent = glyph[k]; i.dataset.glyph = '1'; i.style.fontStyle = 'normal'; }
    });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', draw); else draw();
})();

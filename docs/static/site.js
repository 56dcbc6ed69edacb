/* Figures: each one links to its full-size file, so a figure shown smaller than its natural width enlarges on click. */
document.addEventListener('DOMContentLoaded', function () {
  document.querySelectorAll('article img').forEach(function (img) {
    if (img.closest('a[href]')) return;
    const a = document.createElement('a');
    a.href = img.currentSrc || img.src; a.className = 'figure-enlarge'; a.title = 'open the figure at full size';
    img.parentNode.insertBefore(a, img); a.appendChild(img);
  });
});

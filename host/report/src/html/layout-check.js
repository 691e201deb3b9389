// Run by a browser (nothing else): writes on each chart's figure the size it
// was laid out at and how many of its text labels overlap, so that a headless
// browser's DOM tells whether the charts are readable.
for (const f of document.querySelectorAll('figure.chart-figure')) {
  const s = f.querySelector('svg');
  if (!s) continue;
  const b = s.getBoundingClientRect();
  const t = [...s.querySelectorAll('text')]
    .map((e) => e.getBoundingClientRect())
    .filter((r) => r.width > 0);
  let o = 0;
  for (let i = 0; i < t.length; i++)
    for (let j = i + 1; j < t.length; j++) {
      const p = t[i], q = t[j];
      if (Math.min(p.right, q.right) - Math.max(p.left, q.left) > 1 &&
          Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top) > 1) o++;
    }
  f.dataset.rendered = Math.round(b.width) + 'x' + Math.round(b.height);
  f.dataset.textOverlaps = o;
}

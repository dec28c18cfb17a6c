// Expressions the browser tests evaluate in the page. Kept as source text: the test project is
// typed for Node, the page for the DOM (web/tsconfig.json), and these run in the page.

export const ACTIVE_TEXT = 'document.activeElement ? document.activeElement.textContent : null';
export const HASH = 'location.hash';
export const SESSION_ITEMS = 'sessionStorage.length';
/** Whatever an injected script or handler would have set. */
export const INJECTED = 'window.__injected';
/** A mark that a reload would erase. */
export const MARK_DOCUMENT = 'window.__sameDocument = true';
export const SAME_DOCUMENT = 'window.__sameDocument === true';
export const FITS_WIDTH = 'document.documentElement.scrollWidth <= window.innerWidth';

export function setHash(hash: string): string {
  return `location.hash = ${JSON.stringify(hash)}`;
}

/** Ids (or markup) of inputs, selects and text areas without a label or aria-label. */
export const UNLABELLED_CONTROLS = `[...document.querySelectorAll('input, select, textarea')]
  .filter((el) => el.labels.length === 0 && !el.getAttribute('aria-label'))
  .map((el) => el.id || el.outerHTML)`;

/**
 * WCAG contrast ratios of body text, muted text, links (against the page or panel they sit on) and a
 * badge (against its own background), on the devices page.
 */
export const CONTRAST_RATIOS = `(() => {
  const rgb = (css) => (css.match(/[\\d.]+/g) || []).slice(0, 3).map(Number);
  const luminance = ([r, g, b]) => {
    const c = [r, g, b].map((v) => { const s = v / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const ratio = (a, b) => { const [x, y] = [luminance(rgb(a)), luminance(rgb(b))].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const background = (el) => {
    for (let at = el; at; at = at.parentElement) {
      const colour = getComputedStyle(at).backgroundColor;
      if (colour && colour !== 'rgba(0, 0, 0, 0)' && colour !== 'transparent') return colour;
    }
    return getComputedStyle(document.body).backgroundColor;
  };
  const sample = (selector) => { const el = document.querySelector(selector); return el ? ratio(getComputedStyle(el).color, background(el)) : 0; };
  return { text: sample('table.devices td'), muted: sample('#device-range'), link: sample('table.devices a'), badge: sample('.badge'), nav: sample('header nav a') };
})()`;

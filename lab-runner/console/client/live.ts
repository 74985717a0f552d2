/**
 * A polite live region: what a button did, said to a screen reader (the page's
 * `#announce` element), since the change itself may be elsewhere on the page.
 */
export function announce(text: string): void {
  const region = document.getElementById('announce');
  if (!region) return;
  region.textContent = '';
  // A new text node, a moment later: screen readers announce a change, not a text that stays the same.
  setTimeout(() => (region.textContent = text), 30);
}

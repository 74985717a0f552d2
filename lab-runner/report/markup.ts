/**
 * Text into markup, for the HTML report and its ladder diagram: escaping, fitting a
 * label into a width, and times. Pure functions, safe in a browser bundle.
 */

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text as HTML: markup characters escaped, control characters shown as \x00. */
export function esc(text: string): string {
  return String(text)
    .replace(/[&<>"']/g, (c) => ENTITIES[c]!)
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** One line of at most `chars` characters: line breaks shown as ⏎, the rest cut with …. */
export function fit(text: string, chars: number): string {
  const oneLine = text.replace(/\s*\r?\n\s*/g, ' ⏎ ');
  const max = Math.max(4, chars);
  return oneLine.length > max ? oneLine.slice(0, max - 1) + '…' : oneLine;
}

/** Milliseconds since the step started, as the diagram and the transcript show them. */
export const ms = (at: number): string => (at >= 10000 ? `${(at / 1000).toFixed(1)} s` : `${at.toFixed(1)} ms`);

import { parseLogLine } from '../../services/common/logger';
import type { WireEvent, WireKind } from '../executors/wire';
import type { Backend } from './types';

/**
 * What the lab's services did on their own while a step ran (an SMTP relay's MX
 * lookup and its second hop), read from their `wire` log lines (logWire() in
 * services/common/logger.ts) and turned into transcript events. Logs are what every
 * backend has, so this works embedded and in Docker alike.
 */
export async function serviceWireEvents(backend: Backend, since: Date): Promise<WireEvent[]> {
  const events: WireEvent[] = [];
  for (const service of await backend.status()) events.push(...wireEventsOf(await backend.logs(service.name, since), service.host, since));
  return events;
}

/** The `wire` lines among a service's log lines, as transcript events timed from `since`. */
export function wireEventsOf(lines: string[], host: string, since: Date): WireEvent[] {
  const events: WireEvent[] = [];
  for (const line of lines) {
    const parsed = parseLogLine(line);
    if (!parsed || parsed.message !== 'wire') continue;
    const f = parsed.fields;
    const summaryLines = (f.summary ?? '').split(/\r?\n/);
    events.push({
      at: Math.max(0, Date.parse(parsed.time) - since.getTime()),
      kind: (f.kind as WireKind) ?? 'note',
      from: f.from ?? host,
      to: f.to ?? host,
      protocol: f.proto ?? parsed.service,
      ...(f.transport === 'udp' || f.transport === 'tcp' ? { transport: f.transport } : {}),
      // One line for the arrow; a multi-line reply (EHLO's) in full as the text.
      summary: summaryLines.length > 1 ? `${summaryLines[0]} (+${summaryLines.length - 1} lines)` : summaryLines[0]!,
      ...(f.summary ? { text: f.summary } : {}),
    });
  }
  return events;
}

/** Two recordings merged in time order (a stable merge: equal times keep the client's first). */
export function mergeByTime(a: WireEvent[], b: WireEvent[]): WireEvent[] {
  if (!b.length) return a;
  return [...a.map((e, i) => ({ e, k: 0, i })), ...b.map((e, i) => ({ e, k: 1, i }))]
    .sort((x, y) => x.e.at - y.e.at || x.k - y.k || x.i - y.i)
    .map((x) => x.e);
}

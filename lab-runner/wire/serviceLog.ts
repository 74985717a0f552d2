import { parseLogLine } from '../../services/common/logger';
import type { WireEvent, WireKind } from './recorder';

/**
 * What the lab's services did on their own while a step ran (an SMTP relay's MX
 * lookup and its second hop), read from their `wire` log lines (logWire() in
 * services/common/logger.ts) and turned into transcript events. Logs are what every
 * backend has, so this works embedded and in Docker alike.
 */

/** Where the services' logs come from: any backend. */
export interface ServiceLogs {
  status(): { name: string; host: string }[] | Promise<{ name: string; host: string }[]>;
  logs(service: string, since?: Date): string[] | Promise<string[]>;
}

export async function serviceWireEvents(lab: ServiceLogs, since: Date): Promise<WireEvent[]> {
  const events: WireEvent[] = [];
  for (const service of await lab.status()) events.push(...wireEventsOf(await lab.logs(service.name, since), service.host, since));
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

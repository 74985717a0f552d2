/**
 * The page's link to its console: JSON requests (the token travels in the HttpOnly
 * cookie the console set, never in script), and one EventSource for live updates.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let value: unknown;
  try {
    value = text ? JSON.parse(text) : undefined;
  } catch {
    value = { error: text };
  }
  if (!res.ok) throw new ApiError(res.status, (value as { error?: string } | undefined)?.error ?? `${res.status} ${res.statusText}`);
  return value as T;
}

export const get = <T>(path: string): Promise<T> => call<T>('GET', path);
export const post = <T>(path: string, body: unknown = {}): Promise<T> => call<T>('POST', path, body);

/** A fresh id for a run, so the page knows its events from the first one. */
export function newId(): string {
  return crypto.randomUUID();
}

type Listener = (data: any) => void; // eslint-disable-line @typescript-eslint/no-explicit-any -- each event type has its own shape

const listeners = new Map<string, Set<Listener>>();
let source: EventSource | undefined;

/** Listen to one type of live event (`lab`, `wire`, `run`); returns how to stop. */
export function on(type: string, listener: Listener): () => void {
  if (!source) source = new EventSource('/api/events');
  if (!listeners.has(type)) {
    listeners.set(type, new Set());
    source.addEventListener(type, (e) => {
      const data: unknown = JSON.parse((e as MessageEvent<string>).data);
      for (const l of listeners.get(type) ?? []) l(data);
    });
  }
  listeners.get(type)!.add(listener);
  return () => listeners.get(type)?.delete(listener);
}

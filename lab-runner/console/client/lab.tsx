import { useEffect, useState } from 'preact/hooks';
import type { LabView, ServiceView } from '../labView';
import { get, post } from './api';
import { announce } from './live';

/**
 * The Lab page: the lab network as a drawing (each host with its address, and the
 * services on it with their ports and where they really listen, coloured by health),
 * then a card per service with its state, health, the lab actions and its log.
 */

interface Host {
  host: string;
  address: string;
  services: ServiceView[];
}

function hostsOf(view: LabView): Host[] {
  const hosts: Host[] = [];
  for (const s of view.services) {
    const known = hosts.find((h) => h.host === s.host);
    if (known) known.services.push(s);
    else hosts.push({ host: s.host, address: s.address.replace(/ \(shared\)$/, ''), services: [s] });
  }
  return hosts;
}

const good = (s: ServiceView): boolean => s.state === 'running' && (s.health === 'up' || s.health === 'healthy');
const healthClass = (s: ServiceView): string => (good(s) ? 'ok' : s.state === 'paused' || s.health === 'starting' ? 'warn' : 'bad');

/** The drawing: the lab network as a line, the hosts above and below it, you (the browser) at its left. */
function Topology({ view }: { view: LabView }) {
  const hosts = hostsOf(view);
  const perRow = Math.ceil(hosts.length / 2);
  const W = 210;
  const GAP = 18;
  const LEFT = 150;
  const lineH = 17;
  const boxH = (h: Host): number => 44 + h.services.reduce((n, s) => n + s.ports.length, 0) * lineH;
  const topH = Math.max(...hosts.slice(0, perRow).map(boxH));
  const bottomH = Math.max(0, ...hosts.slice(perRow).map(boxH));
  const busY = topH + 40;
  const width = LEFT + perRow * (W + GAP);
  const height = busY + 40 + bottomH + 10;
  const network = view.services.find((s) => s.name === 'dns')?.address.replace(/\.\d+$/, '.0/24') ?? 'lab network';
  return (
    <svg class="topology" viewBox={`0 0 ${width} ${height}`} width={width} height={height} role="img" aria-labelledby="topo-title">
      <title id="topo-title">{`The lab network ${network}: ${hosts.map((h) => `${h.host} (${h.services.map((s) => s.name).join(', ')})`).join('; ')}. The table of services below says the same in words.`}</title>
      <line x1={20} y1={busY} x2={width - 10} y2={busY} class="bus" />
      <text x={24} y={busY - 8} class="bus-label">
        lab network {network}
      </text>
      <rect x={20} y={busY + 14} width={110} height={46} rx={7} class="you" />
      <text x={75} y={busY + 34} class="hostname">
        you
      </text>
      <text x={75} y={busY + 50} class="small">
        {view.backend === 'embedded' ? 'via 127.0.0.1' : 'the console'}
      </text>
      {hosts.map((h, i) => {
        const top = i < perRow;
        const col = top ? i : i - perRow;
        const x = LEFT + col * (W + GAP);
        const y = top ? busY - 30 - boxH(h) : busY + 30;
        let line = 0;
        return (
          <g key={h.host} class="host" data-host={h.host}>
            <line x1={x + W / 2} y1={top ? y + boxH(h) : y} x2={x + W / 2} y2={busY} class="drop" />
            <rect x={x} y={y} width={W} height={boxH(h)} rx={8} class={`hostbox ${h.services.every(good) ? 'ok' : h.services.some(good) ? 'warn' : 'bad'}`} />
            <text x={x + 10} y={y + 19} class="hostname start">
              {h.host}
            </text>
            <text x={x + 10} y={y + 35} class="small start">
              {h.address}
            </text>
            {h.services.flatMap((s) =>
              s.ports.map((p) => {
                const ty = y + 55 + line++ * lineH;
                return (
                  <g key={`${s.name}-${p.name}`} class={`svc ${healthClass(s)}`}>
                    <circle cx={x + 15} cy={ty - 4} r={4.5} class="dot" />
                    <text x={x + 26} y={ty} class="svc-text start">
                      {`${s.name} :${p.lab}${p.where ? ` → ${p.where.replace(/^127\.0\.0\.1/, '')}` : ''}`}
                    </text>
                  </g>
                );
              }),
            )}
          </g>
        );
      })}
    </svg>
  );
}

function ServiceCard({ s, actions, onLogs, busy, act }: { s: ServiceView; actions: string[]; onLogs(): void; busy?: string; act(action: string): void }) {
  return (
    <li class={`service ${healthClass(s)}`} data-service={s.name}>
      <h3>
        <span class="dot" aria-hidden="true" /> {s.name} <span class="host">{s.host}</span>
      </h3>
      <p class="state">
        <span class="badge-state" data-state={s.state}>
          {s.state}
        </span>{' '}
        health: <b class="health">{s.health}</b>
      </p>
      <p class="ports">{s.ports.map((p) => `:${p.lab}/${p.transport}${p.where ? ` at ${p.where}` : ''}`).join(' · ')}</p>
      <p class="desc">{s.description}</p>
      {s.info.fingerprint ? <p class="small">host key {s.info.fingerprint}</p> : null}
      <div class="buttons" role="group" aria-label={`actions on ${s.name}`}>
        {actions.map((a) => (
          <button type="button" key={a} disabled={busy !== undefined} aria-label={`${a} ${s.name}`} onClick={() => act(a)}>
            {busy === a ? `${a}…` : a}
          </button>
        ))}
        <button type="button" class="link" aria-label={`log of ${s.name}`} onClick={onLogs}>
          log
        </button>
      </div>
    </li>
  );
}

export function LabPage({ view, onLoaded }: { view?: LabView; onLoaded?: () => void }) {
  const [busy, setBusy] = useState<Record<string, string>>({});
  const [error, setError] = useState<string>();
  const [logOf, setLogOf] = useState<string>();
  const [lines, setLines] = useState<string[]>([]);
  useEffect(() => {
    if (view) onLoaded?.();
  }, [Boolean(view)]);
  useEffect(() => {
    if (!logOf) return;
    let stop = false;
    const load = (): void =>
      void get<{ lines: string[] }>(`/api/lab/${logOf}/logs`).then((r) => {
        if (!stop) setLines(r.lines);
      });
    load();
    const timer = setInterval(load, 2000);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [logOf]);
  if (!view) return <p class="loading">Asking the lab…</p>;
  const act = async (service: string, action: string): Promise<void> => {
    setBusy((b) => ({ ...b, [service]: action }));
    setError(undefined);
    try {
      const status = await post<{ state: string }>(`/api/lab/${service}/${action}`);
      announce(`${action} ${service}: now ${status.state}`);
    } catch (err) {
      setError((err as Error).message);
      announce(`${action} ${service} failed: ${(err as Error).message}`);
    } finally {
      setBusy((b) => {
        const next = { ...b };
        delete next[service];
        return next;
      });
    }
  };
  return (
    <section aria-labelledby="lab-h">
      <h2 id="lab-h">The lab</h2>
      <p class="intro">
        Every service of your lab ({view.backend === 'embedded' ? 'embedded, in one process on 127.0.0.1' : `in Docker`}), where it listens and whether it answers, live. Stop <b>app</b> and ask <b>shop.lab.test</b> in Try it: the proxy answers 502.
      </p>
      <figure class="topo">
        <Topology view={view} />
      </figure>
      {error ? (
        <p class="problem" role="alert">
          {error}
        </p>
      ) : null}
      <ul class="services">
        {view.services.map((s) => (
          <ServiceCard key={s.name} s={s} actions={view.actions} busy={busy[s.name]} act={(a) => void act(s.name, a)} onLogs={() => setLogOf(s.name)} />
        ))}
      </ul>
      {logOf ? (
        <section class="log" aria-labelledby="log-h">
          <h3 id="log-h">
            Log of {logOf}{' '}
            <button type="button" class="small" onClick={() => setLogOf(undefined)}>
              close
            </button>
          </h3>
          <pre tabIndex={0} aria-label={`last lines of ${logOf}'s log`}>{lines.join('\n') || '(nothing yet)'}</pre>
        </section>
      ) : null}
    </section>
  );
}

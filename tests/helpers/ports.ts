import { randomInt } from 'node:crypto';
import { canBind, freePort } from '../../lab-runner/grade/target';

/**
 * A port free on 127.0.0.1 (for TCP, and UDP too with `freePort(true)`), for a server
 * that cannot bind port 0 and say which port it got (nginx, dnsmasq, a process under
 * test). Servers that can, bind port 0. The grader's own: its ports lie below the
 * kernel's ephemeral range, so no port-0 bind of another test can take one between
 * the check and the bind, and one process never hands out a port twice.
 */
export { freePort };

/** Can this port be bound on 127.0.0.1 right now (nobody listens on it)? */
export function isFree(port: number): Promise<boolean> {
  return canBind(port, 'tcp');
}

/**
 * `n` consecutive ports that are free now on 127.0.0.1 (an FTP passive range): between
 * the lab's own passive ports (30000-30009) and Linux's ephemeral ports (32768 and up),
 * which outgoing connections take at any moment; apart from freePort's (20000-29999),
 * which may be handed out and not bound yet.
 */
export async function freePortRange(n: number): Promise<{ from: number; to: number }> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const from = randomInt(30100, 32700 - n);
    const ports = Array.from({ length: n }, (_, i) => from + i);
    if ((await Promise.all(ports.map(isFree))).every(Boolean)) return { from, to: from + n - 1 };
  }
  throw new Error(`found no ${n} consecutive free ports between 30100 and 32700 on 127.0.0.1`);
}

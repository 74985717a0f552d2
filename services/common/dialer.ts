import type { Endpoint } from './dnsClient';

/**
 * How a service reaches other lab hosts: which DNS server to ask, and where an
 * address and port really are. In a container both are what they say (the lab DNS at
 * its address, every address as it is). In the embedded lab everything listens on
 * 127.0.0.1, so the backend hands services a dialer that routes, for example,
 * 172.28.0.26:25 (mail.example.test) to 127.0.0.1:2526. A dialer throws for an
 * address that is not in the lab: services never send traffic out of it.
 */
export interface LabDialer {
  dns(): Endpoint;
  route(address: string, port: number): Endpoint;
}

/** For containers: ask `dns`, connect to addresses as they are. */
export function directDialer(dns: Endpoint): LabDialer {
  return { dns: () => dns, route: (host, port) => ({ host, port }) };
}

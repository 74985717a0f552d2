import type { Endpoint } from '../../services/common/dnsClient';

export type { Endpoint };

/**
 * Where a lab address and port really are, and what to call them in a transcript:
 * `www.lab.test:80` may really be 127.0.0.1:8080 (embedded) or 172.28.0.80:80 (Docker).
 */
export interface Route extends Endpoint {
  /** The service behind it, if it is one of the lab's. */
  service?: string;
  /** `www.lab.test:80`: the name a ladder diagram puts on the column. */
  label: string;
}

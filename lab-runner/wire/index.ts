/**
 * The wire layer: what crosses the wire, and how the runner reaches the lab. Executors
 * and backends both build on it; neither reaches into the other.
 *
 * - recorder:   the transcript of a step (Wire, WireEvent), one event per message
 * - plan:       the lab's hosts, addresses and ports (STACK)
 * - network:    names resolved through the lab DNS, lab address:port routed to where a service listens
 * - tcp:        one TCP connect, recorded with both ends of the connection
 * - connection: a recorded request/reply conversation over TCP (HTTP, SMTP, POP3)
 * - dns:        one recorded DNS exchange, laid out as dig prints it
 * - serviceLog: what the services did on their own (their `wire` log lines) as transcript events
 * - errors:     StepError, the failure a person reads and a scenario checks by code
 */
export {
  CLIENT,
  WIRE_KINDS,
  Wire,
  certificateSchema,
  eventBytes,
  mergeByTime,
  nowMs,
  tlsHandshakeSchema,
  wireEventSchema,
  type CertificateView,
  type SocketAddress,
  type TlsHandshake,
  type WireEvent,
  type WireKind,
} from './recorder';
export { StepError } from './errors';
export { FTP_ACTIVE_PORTS, FTP_PASSIVE_PORTS, LAB_PREFIX, PROXY_TIMEOUT_MS, STACK, findService, hasTls, mainPort, type PortPlan, type ServicePlan } from './plan';
export type { Endpoint, Route } from './route';
export { LabNetwork, isLoopback, splitHostPort, type NetworkOptions } from './network';
export { connect, recordConnect, socketEnds, StreamOffsets } from './tcp';
export { Connection, takeLine, type ReadOptions, type ReplyParser } from './connection';
export { dnsExchange, dnsRecorder } from './dns';
export { FLAG_NAMES, flagsOf, formatMessage, rdataText, summarize, txtStrings, type FlagName, type LooseRecord } from './dnsFormat';
export { serviceWireEvents, wireEventsOf, type ServiceLogs } from './serviceLog';

/**
 * Packets: what really crossed the network during a run, captured by the kernel,
 * read from pcapng and decoded header by header. See README.md.
 */
export { PacketCapture, CaptureError, portFilter, captureCommand, type CaptureOptions } from './capture';
export { captureAccess, runInNamespace, bringLoopbackUp, namespaceCommand, enterCommand, whyNoNamespace, findProgram, NAMESPACE_ENV, type CaptureAccess, type CaptureTool } from './namespace';
export { CaptureReader, readCapture, writePcapng, CaptureFormatError, type CaptureInterface, type CapturedPacket } from './pcapng';
export { decodePacket, type DecodedPacket } from './decode';
export { conversations, packetsCarrying, endpointText, normalizeAddress, type Conversation, type FlowPacket, type Endpoint, type Side, type TimeWindow } from './flows';
export { DecodeError } from './bytes';

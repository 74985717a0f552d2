/**
 * The lab plan moved to the wire layer (lab-runner/wire/plan.ts). This re-export keeps
 * backends/docker/ compiling while it is being reworked; new code imports from '../wire'.
 */
export { FTP_PASSIVE_PORTS, LAB_PREFIX, PROXY_TIMEOUT_MS, STACK, findService, mainPort, type PortPlan, type ServicePlan } from '../wire/plan';

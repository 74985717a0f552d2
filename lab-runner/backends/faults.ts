import { TLS_FAULTS, type TlsFault } from '../../services/common/tlsFaults';
import { hasTls, STACK, type ServicePlan } from '../wire';
import type { LabActionOptions } from './types';

/**
 * The fault a `tls-fault` lab step sets (undefined: none), for a service that speaks
 * TLS. Every backend checks the same way, the Docker ones before they reach a container.
 */
export function tlsFaultOf(plan: ServicePlan, options: LabActionOptions): TlsFault | undefined {
  if (!hasTls(plan)) throw new Error(`${plan.name} speaks no TLS: the certificate lessons are for ${STACK.filter(hasTls).map((s) => s.name).join(', ')}`);
  if (!options.fault) throw new Error(`tls-fault needs a fault: ${TLS_FAULTS.join(', ')}, or none`);
  return options.fault === 'none' ? undefined : options.fault;
}

/**
 * An error the runner shows a person as it is: short, in lab terms ("connection
 * refused by www.lab.test:80"), with no stack trace, and a code a scenario can check
 * (`expect: { code: ECONNREFUSED }`): ECONNREFUSED, ETIMEDOUT, ENOTFOUND, EPROTO...
 *
 * `output` holds what the action learnt before it failed, for the step's output beside
 * `error` and `code`: a refused certificate's `tls` (the chain, and why the client
 * refused it), so `expect: { tls.error: CERT_HAS_EXPIRED }` can judge the failure.
 */
export class StepError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    readonly output?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'StepError';
  }
}

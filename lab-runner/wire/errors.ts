/**
 * An error the runner shows a person as it is: short, in lab terms ("connection
 * refused by www.lab.test:80"), with no stack trace, and a code a scenario can check
 * (`expect: { code: ECONNREFUSED }`): ECONNREFUSED, ETIMEDOUT, ENOTFOUND, EPROTO...
 */
export class StepError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
    this.name = 'StepError';
  }
}

import type { RunResult } from '../result';
import { gradescopeReport } from './gradescope';
import { htmlReport } from './html';
import { junitReport } from './junit';
import { maskSecrets } from './mask';

/**
 * The reports, all written from one result model. `renderReport` masks the scenarios'
 * secrets first, whatever the format; the terminal report is written while the run goes
 * on, so it masks through `maskingListener` and `maskSecrets` instead.
 */

export type ReportFormat = 'terminal' | 'json' | 'junit' | 'gradescope' | 'html';

export const REPORT_FORMATS: readonly ReportFormat[] = ['terminal', 'json', 'junit', 'gradescope', 'html'];

/** What `--out` is usually called for each written format. */
export const REPORT_FILE_NAMES: Record<Exclude<ReportFormat, 'terminal'>, string> = {
  json: 'result.json',
  junit: 'junit.xml',
  gradescope: 'results.json',
  html: 'report.html',
};

/** A run as a report file's text: JSON, JUnit XML, Gradescope's results.json, or one HTML page. */
export function renderReport(format: Exclude<ReportFormat, 'terminal'>, result: RunResult): string {
  const masked = maskSecrets(result);
  switch (format) {
    case 'json':
      return JSON.stringify(masked, null, 2) + '\n';
    case 'junit':
      return junitReport(masked);
    case 'gradescope':
      return gradescopeReport(masked);
    case 'html':
      return htmlReport(masked);
  }
}

export { maskSecrets, maskStep, maskScenario, maskingListener, Masker, MASK } from './mask';

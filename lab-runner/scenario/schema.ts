import { z } from 'zod';
import { ACTION_NAMES, EXECUTORS } from '../executors/registry';
import { durationSchema } from './duration';

/**
 * The scenario file format. One zod schema validates a file when it loads and is
 * also written out as scenario.schema.json, so an editor completes and checks
 * scenario files as you type (`# yaml-language-server: $schema=../scenario.schema.json`).
 */

const variableName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a variable name: letters, digits and _');

/** Who sees a result, with the values Gradescope's autograder uses (a report passes them on). */
export const VISIBILITIES = ['visible', 'hidden', 'after_due_date', 'after_published'] as const;
export type Visibility = (typeof VISIBILITIES)[number];
const visibility = z.enum(VISIBILITIES);

/** Everything a step has besides its action. */
const stepFields = {
  name: z.string().min(1).describe('What the step does, as the report shows it.'),
  expect: z
    .record(z.string(), z.unknown())
    .optional()
    .describe('Checks on the result: a path (status, headers.content-type, answers[0].data) and a value or operators.'),
  save: z
    .record(variableName, z.string())
    .optional()
    .describe('Variables to keep for later steps: name -> path into the result. Use them as ${name}.'),
  points: z.number().min(0).default(1).describe('Points earned when every expectation holds.'),
  hint: z.string().optional().describe('Shown when the step fails: point the student at the cause.'),
  timeout: durationSchema.optional().describe('How long the action may take (default 5s).'),
  retry: z
    .object({
      attempts: z.number().int().min(1).max(1000).describe('How many times to try in all.'),
      interval: durationSchema.default(200).describe('Pause between attempts.'),
    })
    .strict()
    .optional()
    .describe('Run the step again until its expectations hold, e.g. while a service comes back.'),
  visibility: visibility
    .optional()
    .describe("Who sees this step's result in a grading report: visible, hidden, after_due_date, after_published (default: the scenario's)."),
};

const actionFields = Object.fromEntries(ACTION_NAMES.map((name) => [name, EXECUTORS[name].schema.optional()])) as {
  [K in keyof typeof EXECUTORS]: z.ZodOptional<(typeof EXECUTORS)[K]['schema']>;
};

function exactlyOneAction(step: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const actions = ACTION_NAMES.filter((a) => step[a] !== undefined);
  if (actions.length !== 1) {
    ctx.addIssue({
      code: 'custom',
      message: actions.length
        ? `a step has one action, this one has ${actions.join(' and ')}: split it into steps`
        : `a step needs one action: ${ACTION_NAMES.join(', ')}`,
    });
  }
}

export const stepSchema = z.object({ ...stepFields, ...actionFields }).strict().superRefine(exactlyOneAction);

const scenarioFields = {
  title: z.string().min(1).describe('The scenario title.'),
  description: z.string().optional().describe('What the scenario teaches.'),
  tags: z.array(z.string()).default([]),
  vars: z.record(variableName, z.unknown()).default({}).describe('Variables known from the start.'),
  secrets: z
    .array(z.string().min(1))
    .default([])
    .describe(
      'Values masked as **** in every report: the name of a variable (from vars: or a save:), whose value is masked, or a literal string such as a password. Base64 forms (AUTH PLAIN, AUTH LOGIN, Basic) are masked too.',
    ),
  visibility: visibility
    .default('visible')
    .describe("Who sees the scenario's results in a grading report: visible, hidden (instructors only), after_due_date, after_published."),
};

export const scenarioSchema = z.object({ ...scenarioFields, steps: z.array(stepSchema).min(1) }).strict();

/**
 * The same shape with each action left unchecked: actions may hold `${...}`
 * placeholders, so they are validated again when the step runs, after interpolation.
 */
const looseActions = Object.fromEntries(ACTION_NAMES.map((a) => [a, z.unknown().optional()])) as Record<
  (typeof ACTION_NAMES)[number],
  z.ZodOptional<z.ZodUnknown>
>;
const looseStep = z.object({ ...stepFields, ...looseActions }).strict();
export const looseScenarioSchema = z.object({ ...scenarioFields, steps: z.array(looseStep).min(1) }).strict();

export type ScenarioData = z.infer<typeof looseScenarioSchema>;

/** scenario.schema.json, for editors. */
export function scenarioJsonSchema(): object {
  const schema = z.toJSONSchema(scenarioSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  // A refinement does not carry into JSON Schema: say "exactly one action" there too.
  const steps = (schema.properties as Record<string, { items: Record<string, unknown> }>).steps.items;
  steps.oneOf = ACTION_NAMES.map((a) => ({ required: [a] }));
  return { $id: 'https://wirelab.test/scenario.schema.json', title: 'wirelab scenario', ...schema };
}

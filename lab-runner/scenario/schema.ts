import { z } from 'zod';
import { ACTION_NAMES, EXECUTORS, type ActionName } from '../executors/registry';
import { checkedResultSchema } from '../executors/types';
import { descriptionOf, levelOf, type Level } from '../expect/fields';
import { NESTING_HELP, OPERATORS } from '../expect/operators';
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

/**
 * scenario.schema.json, for editors: the zod schema, and what zod cannot say by itself.
 * Exactly one action per step. Under each action's `expect:` and `save:`, only the
 * fields its output has (executors/<name>: `output`), and under a plain value only
 * operators. Inside an action, a `${variable}` wherever the value will be a number, a
 * name from a list or a formatted string: the loader checks those after filling in.
 */
export function scenarioJsonSchema(): object {
  const schema = z.toJSONSchema(scenarioSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const step = (schema.properties as Record<string, { items: JsonSchema }>).steps.items;
  // A refinement does not carry into JSON Schema: say "exactly one action" there too.
  step.oneOf = ACTION_NAMES.map((a) => ({ required: [a] }));
  const actions = step.properties as Record<string, JsonSchema>;
  for (const action of ACTION_NAMES) actions[action] = allowPlaceholders(actions[action]!, true);
  step.allOf = ACTION_NAMES.map((a) => ({ if: { required: [a] }, then: { properties: { expect: expectSchema(a), save: saveSchema(a) } } }));
  return {
    $id: 'https://wirelab.test/scenario.schema.json',
    title: 'wirelab scenario',
    ...schema,
    $defs: { value: VALUE_SCHEMA, operators: OPERATORS_SCHEMA, placeholder: PLACEHOLDER_SCHEMA },
  };
}

type JsonSchema = Record<string, unknown>;

const OPERATORS_REF = { $ref: '#/$defs/operators' };

/** What a plain value (a number, text, true or false) is checked with: a value, or operators. */
const VALUE_SCHEMA: JsonSchema = { anyOf: [{ not: { type: 'object' } }, OPERATORS_REF] };

const OPERATORS_SCHEMA: JsonSchema = {
  description: 'Operators on the value: equals, oneOf, contains, regex, lt, lte, gt, gte, exists, length, not.',
  type: 'object',
  minProperties: 1,
  properties: {
    ...Object.fromEntries(Object.entries(OPERATORS).map(([name, op]) => [name, { description: op.help }])),
    oneOf: { description: OPERATORS.oneOf!.help, type: 'array' },
    exists: { description: OPERATORS.exists!.help, type: 'boolean' },
    ...Object.fromEntries(Object.entries(NESTING_HELP).map(([name, help]) => [name, { description: help }])),
    length: { description: NESTING_HELP.length, $ref: '#/$defs/value' },
  },
  additionalProperties: false,
};

const PLACEHOLDER_SCHEMA: JsonSchema = {
  description: 'A ${variable} (from vars: or an earlier save:), checked once it is filled in when the step runs.',
  type: 'string',
  pattern: '\\$\\{[A-Za-z_]',
};

/** What an action's `expect:` may say: its output's fields, and dotted paths into them. */
function expectSchema(action: ActionName): JsonSchema {
  return expectationOf(levelOf([checkedResultSchema(EXECUTORS[action].output)]), false);
}

/**
 * The expectation a value at this level takes. A plain value: the value itself, or
 * operators. An object (or a record): operators, or its fields (any key of a record),
 * each again an expectation, and `field.sub` / `field[0]` paths. Open data: anything.
 */
function expectationOf(level: Level, nested = true): JsonSchema {
  if (level.kind === 'open') return {};
  if (level.kind === 'value') return { $ref: '#/$defs/value' };
  // A list: operators (contains, length...), or its elements by index.
  if (level.kind === 'list') return { anyOf: [{ $ref: '#/$defs/value' }, { type: 'object', propertyNames: { pattern: '^\\d+$' } }] };
  const fields: JsonSchema =
    level.kind === 'map'
      ? { type: 'object', additionalProperties: expectationOf(levelOf(level.values)) }
      : {
          type: 'object',
          properties: Object.fromEntries(
            [...level.fields].map(([name, schemas]) => [name, { ...describe(schemas), ...expectationOf(levelOf(schemas)) }]),
          ),
          patternProperties: { [`^${oneOfFields([...level.fields.keys()])}[.[]`]: {} },
          additionalProperties: false,
        };
  return nested ? { anyOf: [OPERATORS_REF, fields] } : fields;
}

/** What an action's `save:` may name: paths into its output. */
function saveSchema(action: ActionName): JsonSchema {
  const level = levelOf([EXECUTORS[action].output]);
  const fields = level.kind === 'object' ? [...level.fields.keys()] : [];
  return { additionalProperties: { type: 'string', pattern: `^${oneOfFields(fields)}([.[]|$)` } };
}

/** `(status|headers)`: a regular expression for any of these field names. */
const oneOfFields = (fields: string[]): string => `(${fields.map((f) => f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`;

const describe = (schemas: z.ZodType[]): JsonSchema => {
  const description = descriptionOf(schemas);
  return description ? { description } : {};
};

/** A string that names a variable is accepted wherever the value will be something else once filled in. */
function allowPlaceholders(node: JsonSchema, root = false): JsonSchema {
  const { description, default: fallback, ...rest } = node;
  const meta = { ...(description !== undefined ? { description } : {}), ...(fallback !== undefined ? { default: fallback } : {}) };
  if (rest.properties) rest.properties = Object.fromEntries(Object.entries(rest.properties as Record<string, JsonSchema>).map(([k, v]) => [k, allowPlaceholders(v)]));
  if (rest.additionalProperties && typeof rest.additionalProperties === 'object') rest.additionalProperties = allowPlaceholders(rest.additionalProperties as JsonSchema);
  if (rest.items && typeof rest.items === 'object') rest.items = allowPlaceholders(rest.items as JsonSchema);
  if (Array.isArray(rest.anyOf)) {
    const options = (rest.anyOf as JsonSchema[]).map((o) => allowPlaceholders(o));
    return { ...meta, ...rest, anyOf: options.some(takesAnyText) ? options : [...options, PLACEHOLDER_REF] };
  }
  if (root || takesAnyText(rest)) return { ...meta, ...rest };
  return { ...meta, anyOf: [rest, PLACEHOLDER_REF] };
}

const PLACEHOLDER_REF = { $ref: '#/$defs/placeholder' };

/** Any string (or anything at all) passes: nothing to add. */
function takesAnyText(node: JsonSchema): boolean {
  if (Object.keys(node).length === 0) return true;
  if (node.$ref === PLACEHOLDER_REF.$ref) return true;
  return node.type === 'string' && !('format' in node || 'pattern' in node || 'enum' in node || 'const' in node || 'maxLength' in node);
}

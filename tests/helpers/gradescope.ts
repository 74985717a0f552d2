import { z } from 'zod';

/**
 * Gradescope's results.json as its autograder specification lists it
 * (gradescope-autograders.readthedocs.io, "Autograder Specifications", "Output
 * format"), as a schema: exactly the fields it lists, no others (.strict()).
 */
const visibility = z.enum(['hidden', 'after_due_date', 'after_published', 'visible']);
const format = z.enum(['text', 'html', 'simple_format', 'md', 'ansi']);
const testCase = z
  .object({
    score: z.number().optional(),
    max_score: z.number().optional(),
    status: z.enum(['passed', 'failed']).optional(),
    name: z.string().optional(),
    name_format: format.optional(),
    number: z.string().optional(),
    output: z.string().optional(),
    output_format: format.optional(),
    tags: z.array(z.string()).optional(),
    visibility: visibility.optional(),
    extra_data: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export const gradescopeSpec = z
  .object({
    score: z.number().optional(),
    execution_time: z.number().int().optional(),
    output: z.string().optional(),
    output_format: format.optional(),
    test_output_format: format.optional(),
    test_name_format: format.optional(),
    visibility: visibility.optional(),
    stdout_visibility: visibility.optional(),
    extra_data: z.record(z.string(), z.unknown()).optional(),
    tests: z.array(testCase).optional(),
    leaderboard: z.array(z.object({ name: z.string(), value: z.union([z.number(), z.string()]), order: z.enum(['asc', 'desc']).optional() }).strict()).optional(),
  })
  .strict()
  .refine((r) => r.score !== undefined || (r.tests ?? []).every((t) => t.score !== undefined), 'score is required unless every test has one');

export type GradescopeResultsFile = z.infer<typeof gradescopeSpec>;

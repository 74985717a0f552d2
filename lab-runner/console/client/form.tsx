/**
 * A form made from an executor's input schema (JSON Schema, from its zod schema): the
 * same fields a scenario step takes, so the form can never ask for what the executor
 * refuses, and a new executor gets a form with no code here. Each kind of field gets
 * an ordinary control (text, number, select, checkbox, text area, rows of name/value,
 * a list of actions), with its label and the schema's description as help.
 */

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  description?: string;
  additionalProperties?: boolean | JsonSchema;
  minimum?: number;
  maximum?: number;
}

export type Value = Record<string, unknown>;

interface FieldProps {
  name: string;
  /** A unique prefix for element ids. */
  id: string;
  schema: JsonSchema;
  value: unknown;
  set(value: unknown): void;
  textarea?: boolean;
  required?: boolean;
}

const variants = (s: JsonSchema): JsonSchema[] => s.anyOf ?? s.oneOf ?? [];
const typesOf = (s: JsonSchema): string[] => (s.enum ? ['string'] : s.const !== undefined ? [typeof s.const] : Array.isArray(s.type) ? s.type : s.type ? [s.type] : variants(s).flatMap(typesOf));

/** A union whose every option is an object of one key (FTP's `{ list: path }`, `{ upload: {...} }`): a kind to pick, then its value. */
function isKeyedUnion(s: JsonSchema): boolean {
  const v = variants(s);
  return v.length > 1 && v.every((o) => o.type === 'object' && o.properties && Object.keys(o.properties).length === 1);
}

/** Text typed into a field of several types, as the value the schema takes: 3 -> number, true -> boolean, a, b -> list. */
export function coerce(text: string, s: JsonSchema): unknown {
  const types = typesOf(s);
  const t = text.trim();
  if (t === '') return undefined;
  if ((types.includes('integer') || types.includes('number')) && /^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  if (types.includes('boolean') && (t === 'true' || t === 'false')) return t === 'true';
  if (types.includes('array') && t.includes(',')) {
    const items = variants(s).find((o) => o.type === 'array')?.items ?? {};
    return t.split(',').map((p) => coerce(p, items) ?? p.trim());
  }
  return text;
}

const shown = (v: unknown): string => (v === undefined || v === null ? '' : Array.isArray(v) ? v.join(', ') : typeof v === 'object' ? JSON.stringify(v) : String(v));

function Help({ id, schema }: { id: string; schema: JsonSchema }) {
  const text = [schema.description, schema.default !== undefined && schema.default !== '' && !(typeof schema.default === 'object') ? `Default: ${String(schema.default)}.` : ''].filter(Boolean).join(' ');
  return text ? (
    <span class="help" id={`${id}-help`}>
      {text}
    </span>
  ) : null;
}

function Field(props: FieldProps) {
  const { name, id, schema, value, set } = props;
  const help = schema.description || schema.default !== undefined ? `${id}-help` : undefined;
  const label = (
    <label for={id}>
      {name}
      {props.required ? <span class="req" aria-hidden="true"> *</span> : null}
    </label>
  );
  // A fixed set of words: a select.
  if (schema.enum) {
    return (
      <div class="field">
        {label}
        <select id={id} aria-describedby={help} value={value === undefined ? '' : String(value)} onChange={(e) => set(e.currentTarget.value || undefined)}>
          {props.required && schema.default === undefined ? null : <option value="">{schema.default !== undefined ? `(default: ${String(schema.default)})` : '(none)'}</option>}
          {schema.enum.map((o) => (
            <option key={String(o)} value={String(o)}>
              {String(o)}
            </option>
          ))}
        </select>
        <Help id={id} schema={schema} />
      </div>
    );
  }
  if (schema.type === 'boolean') {
    const checked = value === undefined ? schema.default === true : value === true;
    return (
      <div class="field check">
        <input id={id} type="checkbox" aria-describedby={help} checked={checked} onChange={(e) => set(e.currentTarget.checked)} />
        {label}
        <Help id={id} schema={schema} />
      </div>
    );
  }
  if (schema.type === 'integer' || schema.type === 'number') {
    return (
      <div class="field">
        {label}
        <input id={id} type="number" aria-describedby={help} min={schema.minimum} max={schema.maximum} value={shown(value)} placeholder={shown(schema.default)} onInput={(e) => set(e.currentTarget.value === '' ? undefined : Number(e.currentTarget.value))} />
        <Help id={id} schema={schema} />
      </div>
    );
  }
  if (schema.type === 'object' && schema.properties) {
    return (
      <fieldset class="field group">
        <legend>{name}</legend>
        <Help id={id} schema={schema} />
        <Fields id={id} schema={schema} value={(value as Value | undefined) ?? {}} set={(v) => set(Object.keys(v).length ? v : undefined)} />
      </fieldset>
    );
  }
  if (schema.type === 'object' && schema.additionalProperties && typeof schema.additionalProperties === 'object') {
    return <Pairs {...props} />;
  }
  if (schema.type === 'array' && schema.items && isKeyedUnion(schema.items)) return <ActionList {...props} items={schema.items} />;
  if (schema.type === 'array' && schema.items && typesOf(schema.items).every((t) => t === 'string')) {
    // One item per line (SMTP's raw lines, a TCP request's lines).
    const lines = Array.isArray(value) ? (value as string[]) : [];
    return (
      <div class="field">
        {label}
        <textarea id={id} rows={Math.max(3, lines.length + 1)} aria-describedby={help} value={lines.join('\n')} onInput={(e) => set(e.currentTarget.value === '' ? undefined : e.currentTarget.value.split('\n'))} />
        <span class="help">One per line.</span>
        <Help id={id} schema={schema} />
      </div>
    );
  }
  if (!schema.type && !variants(schema).length && !schema.enum) {
    // Any value (a JSON body): JSON when it parses, else the text.
    return (
      <div class="field">
        {label}
        <textarea id={id} rows={3} aria-describedby={help} value={value === undefined ? '' : JSON.stringify(value)} onInput={(e) => {
          const text = e.currentTarget.value;
          try {
            set(text.trim() ? JSON.parse(text) : undefined);
          } catch {
            set(text);
          }
        }} />
        <Help id={id} schema={schema} />
      </div>
    );
  }
  // Text, or text that is read as a number, a yes/no or a list when the schema takes one.
  const options = variants(schema).flatMap((o) => (o.enum ?? []).map(String));
  const control = props.textarea ? (
    <textarea id={id} rows={4} aria-describedby={help} value={shown(value)} onInput={(e) => set(e.currentTarget.value === '' ? undefined : e.currentTarget.value)} />
  ) : (
    <input id={id} type="text" aria-describedby={help} list={options.length ? `${id}-list` : undefined} value={shown(value)} placeholder={shown(schema.default)} spellcheck={false} onInput={(e) => set(variants(schema).length ? coerce(e.currentTarget.value, schema) : e.currentTarget.value || undefined)} />
  );
  return (
    <div class="field">
      {label}
      {control}
      {options.length ? (
        <datalist id={`${id}-list`}>
          {options.map((o) => (
            <option key={o} value={o} />
          ))}
        </datalist>
      ) : null}
      <Help id={id} schema={schema} />
    </div>
  );
}

/** Rows of name and value: HTTP's headers, SMTP's extra header fields. */
function Pairs({ name, id, schema, value, set }: FieldProps) {
  const rows = Object.entries((value as Record<string, unknown> | undefined) ?? {});
  const update = (next: [string, unknown][]): void => set(next.length ? Object.fromEntries(next) : undefined);
  return (
    <fieldset class="field group pairs">
      <legend>{name}</legend>
      <Help id={id} schema={schema} />
      {rows.map(([k, v], i) => (
        <div class="pair" key={i}>
          <input type="text" aria-label={`${name} ${i + 1}: name`} value={k} spellcheck={false} onInput={(e) => update(rows.map((r, j) => (j === i ? [e.currentTarget.value, r[1]] : r)))} />
          <input type="text" aria-label={`${name} ${i + 1}: value`} value={String(v)} spellcheck={false} onInput={(e) => update(rows.map((r, j) => (j === i ? [r[0], e.currentTarget.value] : r)))} />
          <button type="button" class="small" aria-label={`remove ${name} ${k || i + 1}`} onClick={() => update(rows.filter((_, j) => j !== i))}>
            ✕
          </button>
        </div>
      ))}
      <button type="button" class="small" onClick={() => update([...rows, [rows.some(([k]) => k === '') ? `X-Field-${rows.length}` : '', '']])}>
        + add
      </button>
    </fieldset>
  );
}

/** A list of actions, each of one kind (FTP's and SFTP's list, download, upload...). */
function ActionList({ name, id, value, set, items }: FieldProps & { items: JsonSchema }) {
  const list = Array.isArray(value) ? (value as Value[]) : [];
  const kinds = variants(items).map((o) => ({ key: Object.keys(o.properties!)[0]!, schema: Object.values(o.properties!)[0]! }));
  const update = (next: Value[]): void => set(next.length ? next : undefined);
  return (
    <fieldset class="field group actions">
      <legend>{name}</legend>
      <ol>
        {list.map((item, i) => {
          const key = Object.keys(item)[0] ?? kinds[0]!.key;
          const kind = kinds.find((k) => k.key === key) ?? kinds[0]!;
          return (
            <li key={i} class="action-row">
              <select aria-label={`${name} ${i + 1}: what`} value={key} onChange={(e) => update(list.map((r, j) => (j === i ? { [e.currentTarget.value]: kinds.find((k) => k.key === e.currentTarget.value)!.schema.type === 'object' ? {} : '' } : r)))}>
                {kinds.map((k) => (
                  <option key={k.key} value={k.key}>
                    {k.key}
                  </option>
                ))}
              </select>
              {kind.schema.type === 'object' ? (
                <Fields id={`${id}-${i}`} schema={kind.schema} value={(item[key] as Value | undefined) ?? {}} set={(v) => update(list.map((r, j) => (j === i ? { [key]: v } : r)))} textareas={['content']} />
              ) : (
                <input type="text" aria-label={`${name} ${i + 1}: ${key}`} value={shown(item[key])} spellcheck={false} onInput={(e) => update(list.map((r, j) => (j === i ? { [key]: e.currentTarget.value } : r)))} />
              )}
              <button type="button" class="small" aria-label={`remove ${name} ${i + 1}`} onClick={() => update(list.filter((_, j) => j !== i))}>
                ✕
              </button>
            </li>
          );
        })}
      </ol>
      <button type="button" class="small" onClick={() => update([...list, { [kinds[0]!.key]: kinds[0]!.schema.type === 'object' ? {} : '' }])}>
        + add
      </button>
    </fieldset>
  );
}

export interface FieldsProps {
  id: string;
  schema: JsonSchema;
  value: Value;
  set(value: Value): void;
  /** These first, in this order; the others under "More options". */
  first?: string[];
  hidden?: string[];
  textareas?: string[];
}

/** An object's fields: the ones that matter first, the rest folded away. */
export function Fields({ id, schema, value, set, first, hidden = [], textareas = [] }: FieldsProps) {
  const all = Object.keys(schema.properties ?? {}).filter((k) => !hidden.includes(k));
  const head = first ? first.filter((k) => all.includes(k)) : all;
  const rest = all.filter((k) => !head.includes(k));
  const field = (k: string) => (
    <Field
      key={k}
      name={k}
      id={`${id}-${k}`}
      schema={schema.properties![k]!}
      value={value[k]}
      required={schema.required?.includes(k) && schema.properties![k]!.default === undefined}
      textarea={textareas.includes(k)}
      set={(v) => {
        const next = { ...value };
        if (v === undefined) delete next[k];
        else next[k] = v;
        set(next);
      }}
    />
  );
  return (
    <div class="fields">
      {head.map(field)}
      {rest.length ? (
        <details class="more" open={rest.some((k) => value[k] !== undefined)}>
          <summary>More options ({rest.join(', ')})</summary>
          {rest.map(field)}
        </details>
      ) : null}
    </div>
  );
}

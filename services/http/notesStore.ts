import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { seedFile } from '../common/paths';
import { writeFileAtomic } from './atomicFile';

/**
 * The notes of the JSON API, kept in memory and saved to one JSON file in the data
 * directory after every change. The file starts as a copy of lab/api/notes.json.
 */

/** What a client sends: a title, and optionally a body. Other fields are ignored. */
export const NoteInput = z.object({
  title: z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
  body: z.string().max(10_000, 'must be at most 10000 characters').optional(),
});
export type NoteInput = z.infer<typeof NoteInput>;

export const Note = z.object({ id: z.string(), title: z.string(), body: z.string() });
export type Note = z.infer<typeof Note>;

/** A note id is 1-64 letters, digits, `-` or `_`: safe in a URL without encoding. */
export const NOTE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export class NotesStore {
  private readonly notes = new Map<string, Note>();
  /** Saves run one after another, so an older snapshot never overwrites a newer one. */
  private saving: Promise<void> = Promise.resolve();

  constructor(
    readonly file: string,
    /** Copied to `file` when `file` does not exist yet. */
    readonly seed?: string,
  ) {}

  async open(): Promise<void> {
    if (this.seed && existsSync(this.seed)) await seedFile(this.seed, this.file);
    this.notes.clear();
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // no seed: start empty
      throw err;
    }
    let list: Note[];
    try {
      list = z.array(Note).parse(JSON.parse(text));
    } catch {
      throw new Error(`${this.file} is not a JSON list of notes ({id, title, body}); fix it, or delete it to start again from the seed`);
    }
    for (const note of list) this.notes.set(note.id, note);
  }

  list(): Note[] {
    return [...this.notes.values()];
  }

  get(id: string): Note | undefined {
    return this.notes.get(id);
  }

  async create(input: NoteInput): Promise<Note> {
    const note = { id: this.nextId(), title: input.title, body: input.body ?? '' };
    this.notes.set(note.id, note);
    await this.save();
    return note;
  }

  /** Replace the note with this id, or create it: `created` says which. */
  async put(id: string, input: NoteInput): Promise<{ note: Note; created: boolean }> {
    const created = !this.notes.has(id);
    const note = { id, title: input.title, body: input.body ?? '' };
    this.notes.set(id, note);
    await this.save();
    return { note, created };
  }

  /** False when there was no such note. */
  async remove(id: string): Promise<boolean> {
    if (!this.notes.delete(id)) return false;
    await this.save();
    return true;
  }

  /** Resolves when every change made so far is on disk. */
  async flush(): Promise<void> {
    await this.saving;
  }

  /** One more than the largest numeric id. */
  private nextId(): string {
    let max = 0;
    for (const id of this.notes.keys()) if (/^\d+$/.test(id)) max = Math.max(max, Number(id));
    return String(max + 1);
  }

  private save(): Promise<void> {
    const text = JSON.stringify(this.list(), null, 2) + '\n';
    const next = this.saving.then(() => writeFileAtomic(this.file, text));
    this.saving = next.catch(() => {}); // one failed save must not block the next ones
    return next;
  }
}

import { readJson } from './body';
import { NOTE_ID, NoteInput } from './notesStore';
import { HttpError } from '../common/httpRules';
import { reply, replyJson, type Exchange } from './reply';
import { Status } from '../common/httpStatus';

/**
 * The notes API, for the lesson on methods and status codes (RFC 9110 §9.3, §15):
 *
 *   GET    /api/notes       200 and the list
 *   POST   /api/notes       201 Created, Location: /api/notes/<new id>
 *   GET    /api/notes/:id   200, or 404 Not Found
 *   PUT    /api/notes/:id   200 when it replaced a note, 201 when it created one
 *   DELETE /api/notes/:id   204 No Content, then 404 for the same id
 *
 * GET is safe (changes nothing); PUT and DELETE are idempotent (doing them twice
 * leaves the same state as once); POST is neither: two POSTs make two notes.
 */

export async function listNotes(ex: Exchange): Promise<void> {
  replyJson(ex, Status.OK, ex.site.notes.list());
}

export async function getNote(ex: Exchange): Promise<void> {
  const note = ex.site.notes.get(noteId(ex));
  if (!note) throw noSuchNote(ex);
  replyJson(ex, Status.OK, note);
}

export async function createNote(ex: Exchange): Promise<void> {
  const input = parseNote(await readJson(ex));
  const note = await ex.site.notes.create(input);
  // RFC 9110 §15.3.2: 201 names the new resource in Location.
  replyJson(ex, Status.Created, note, { Location: `/api/notes/${note.id}` });
}

export async function putNote(ex: Exchange): Promise<void> {
  const id = noteId(ex);
  if (!NOTE_ID.test(id)) throw new HttpError(Status.BadRequest, 'a note id is 1 to 64 letters, digits, "-" or "_"');
  const input = parseNote(await readJson(ex));
  const { note, created } = await ex.site.notes.put(id, input);
  // RFC 9110 §9.3.4: 201 if PUT created the resource, 200 (or 204) if it replaced it.
  if (created) replyJson(ex, Status.Created, note, { Location: `/api/notes/${note.id}` });
  else replyJson(ex, Status.OK, note);
}

export async function deleteNote(ex: Exchange): Promise<void> {
  if (!(await ex.site.notes.remove(noteId(ex)))) throw noSuchNote(ex);
  reply(ex, Status.NoContent, '');
}

function noteId(ex: Exchange): string {
  return ex.params.id ?? '';
}

function noSuchNote(ex: Exchange): HttpError {
  return new HttpError(Status.NotFound, `there is no note with id ${JSON.stringify(noteId(ex))}`);
}

function parseNote(value: unknown): NoteInput {
  const result = NoteInput.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue?.path.length ? `"${issue.path.join('.')}" ${issue.message}` : issue?.message;
  throw new HttpError(
    Status.BadRequest,
    `not a note (${where}): send a JSON object like {"title": "Buy milk", "body": "2 litres"}; "title" is required`,
  );
}

/** Anything else under /api/: a JSON 404 that lists what there is. */
export async function noSuchEndpoint(ex: Exchange): Promise<void> {
  throw new HttpError(Status.NotFound, `there is no API at ${ex.path}; try /api/notes, /api/login or /api/me`);
}

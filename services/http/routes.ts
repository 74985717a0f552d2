import { createNote, deleteNote, getNote, listNotes, noSuchEndpoint, putNote } from './api';
import { login, me } from './auth';
import { inspect } from './inspect';
import type { Route } from './router';
import { serveSite } from './static';
import { serveUserPage } from './userPages';

/**
 * Every URL this server answers, in one table. The first matching path wins;
 * a method not listed gets 405 with Allow, OPTIONS gets 204 with Allow, and HEAD
 * is answered by the GET handler without the body.
 */
export const ROUTES: readonly Route[] = [
  { path: '/api/notes', methods: { GET: listNotes, POST: createNote } },
  { path: '/api/notes/:id', methods: { GET: getNote, PUT: putNote, DELETE: deleteNote } },
  { path: '/api/login', methods: { POST: login } },
  { path: '/api/me', methods: { GET: me } },
  { path: '/api/*', methods: { '*': noSuchEndpoint } },
  { path: '/inspect', methods: { '*': inspect } },
  { path: '/~:user/*', methods: { GET: serveUserPage } },
  { path: '/*', methods: { GET: serveSite } },
];

/**
 * The IMAP session's states (RFC 9051 3):
 *
 *            greeting (* OK)
 *                 |
 *                 v
 *   +--> NOT AUTHENTICATED --(LOGIN or AUTHENTICATE accepted)--+
 *   |             |                                             v
 *   |             |                          +---------> AUTHENTICATED <--------+
 *   |             |                          |                |                 |
 *   |             |                          |   (SELECT or EXAMINE accepted)   |
 *   |             |                          |                v                 |
 *   |             |                          +---- SELECTED (a mailbox is open) |
 *   |             |          (CLOSE, UNSELECT, or a SELECT that fails)    ------+
 *   |             v                                   |
 *   |           LOGOUT <----------- LOGOUT, or the server ends the session
 *   |             |
 *   |          (* BYE, then the connection closes)
 *
 * STARTTLS keeps the session NOT AUTHENTICATED (the client then logs in inside TLS). A
 * SELECT while a mailbox is selected closes that mailbox first, without expunging, and
 * stays SELECTED when the new one opens.
 *
 * Each command in verbs.ts names the states it is allowed in; this file holds the moves,
 * so a move that should not happen fails loudly instead of silently.
 */

export type State = 'not authenticated' | 'authenticated' | 'selected' | 'logout';

/** What moves a session on. */
export type StateEvent = 'login' | 'select' | 'close' | 'logout';

const TRANSITIONS: Record<State, Partial<Record<StateEvent, State>>> = {
  // RFC 9051 3.1: "the client MUST supply authentication credentials before most commands will be permitted".
  'not authenticated': { login: 'authenticated', logout: 'logout' },
  // RFC 9051 3.2: "the client MUST select a mailbox to access before commands that affect messages will be permitted".
  authenticated: { select: 'selected', logout: 'logout' },
  // RFC 9051 3.3: CLOSE, UNSELECT, or a failed SELECT/EXAMINE return to AUTHENTICATED.
  selected: { select: 'selected', close: 'authenticated', logout: 'logout' },
  // RFC 9051 3.4: the connection is being closed.
  logout: {},
};

export function transition(from: State, event: StateEvent): State {
  const to = TRANSITIONS[from][event];
  if (!to) throw new Error(`imap: no move from ${from} on ${event}`);
  return to;
}

/** Why a command that exists cannot be used now: the text of the BAD. */
export function notAllowed(command: string, state: State, allowed: readonly State[]): string {
  if (state === 'not authenticated') return `${command} needs a login first: LOGIN user password (after STARTTLS), or AUTHENTICATE PLAIN`;
  if (allowed.includes('not authenticated')) return `${command} is for before login, and you are logged in`;
  if (state === 'authenticated') return `${command} needs a selected mailbox first: SELECT INBOX`;
  return `${command} is only allowed in the authenticated state, before SELECT (or after CLOSE)`;
}

/**
 * The POP3 session's state machine (RFC 1939 3):
 *
 *   greeting --> AUTHORIZATION --(USER + PASS accepted, maildrop locked)--> TRANSACTION
 *                      |                                                      |
 *                    QUIT: close, nothing changed                          QUIT
 *                                                                             v
 *                                                  UPDATE: remove the messages marked
 *                                                  by DELE, unlock, +OK, close
 *
 * A connection that ends any other way (the client vanishes, the idle timer fires, the
 * server shuts down) never reaches UPDATE: nothing is removed.
 *
 * Each verb in verbs.ts names the states it is allowed in; this file holds the moves
 * between states, so a move that should not happen fails loudly instead of silently.
 */

export type State = 'AUTHORIZATION' | 'TRANSACTION' | 'UPDATE';

/** What moves a session on: a successful login, and QUIT. */
export type StateEvent = 'login' | 'quit';

const TRANSITIONS: Record<State, Partial<Record<StateEvent, State>>> = {
  // RFC 1939 4: once the client has proved who it is, the server locks the maildrop,
  // answers +OK, and "the POP3 session now enters the TRANSACTION state".
  // (QUIT here ends the session without a move: there is nothing to update.)
  AUTHORIZATION: { login: 'TRANSACTION' },
  // RFC 1939 6: "When the client issues the QUIT command from the TRANSACTION state, the
  // POP3 session enters the UPDATE state."
  TRANSACTION: { quit: 'UPDATE' },
  // The last state: the server answers QUIT and closes the connection.
  UPDATE: {},
};

export function transition(from: State, event: StateEvent): State {
  const to = TRANSITIONS[from][event];
  if (!to) throw new Error(`pop3: no move from ${from} on ${event}`);
  return to;
}

/** Why a verb that exists cannot be used now: the text of the -ERR. */
export function notAllowed(verb: string, state: State): string {
  if (state === 'AUTHORIZATION') return `${verb} needs a login first: USER name, then PASS password`;
  if (state === 'TRANSACTION') return `${verb} is for before login, and you are logged in`;
  return `${verb} is not allowed while the maildrop is being updated`;
}

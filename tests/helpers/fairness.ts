/**
 * "One student cannot take the lab from the others": a client opens connections, one
 * after the other, until the server refuses one. The test then checks that a client from
 * another address is still served.
 */

/** What the greedy client got: the connections it holds, and the server's answer to the first one refused. */
export interface Greedy<T> {
  held: T[];
  refusal: string;
}

/**
 * Open connections with `open` until one is refused (`open` resolves with the server's
 * answer as a string) or `max` are held (then it throws: the server has no share per
 * address, or a bigger one than the test expects).
 */
export async function takeEveryPlace<T>(open: (n: number) => Promise<T | string>, max = 100): Promise<Greedy<T>> {
  const held: T[] = [];
  for (let n = 0; n < max; n++) {
    const got = await open(n);
    if (typeof got === 'string') return { held, refusal: got };
    held.push(got);
  }
  throw new Error(`${max} connections from one address, and none refused: the server lets one client take every place`);
}

import type { Exchange } from './reply';

/**
 * The router: a route is a path pattern and the methods it answers.
 *
 *   '/api/notes/:id'   `:id` matches one segment and lands in ex.params.id
 *   '/~:user/*'        a segment may start with fixed text; `*` matches the rest
 *
 * The first route whose pattern matches wins. If it has no handler for the method,
 * the answer is 405 Method Not Allowed with an Allow header (RFC 9110 §15.5.6),
 * not 404: the resource exists, it just does not do that.
 */
export type Handler = (ex: Exchange) => Promise<void>;

export interface Route {
  path: string;
  /** Method -> handler. `'*'` answers every method. HEAD falls back to GET (RFC 9110 §9.3.2). */
  methods: Partial<Record<string, Handler>>;
}

export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

export function findRoute(routes: readonly Route[], path: string): RouteMatch | undefined {
  for (const route of routes) {
    const params = matchPath(route.path, path);
    if (params) return { route, params };
  }
  return undefined;
}

export function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/');
  const got = path.split('/');
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const part = want[i]!;
    if (part === '*') {
      params['*'] = got.slice(i).join('/');
      return params;
    }
    const segment = got[i];
    if (segment === undefined) return undefined;
    const colon = part.indexOf(':');
    if (colon < 0) {
      if (part !== segment) return undefined;
    } else {
      const prefix = part.slice(0, colon);
      if (!segment.startsWith(prefix) || segment.length === prefix.length) return undefined;
      params[part.slice(colon + 1)] = segment.slice(prefix.length);
    }
  }
  return want.length === got.length ? params : undefined;
}

export function handlerFor(route: Route, method: string): Handler | undefined {
  const { methods } = route;
  return methods[method] ?? (method === 'HEAD' ? methods.GET : undefined) ?? methods['*'];
}

/** The Allow header's methods (RFC 9110 §10.2.1): the route's own, HEAD with GET, and OPTIONS. */
export function allowedMethods(route: Route): string[] {
  const allowed = new Set(Object.keys(route.methods).filter((m) => m !== '*'));
  if (allowed.has('GET')) allowed.add('HEAD');
  allowed.add('OPTIONS');
  const order = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
  const rank = (m: string): number => (order.includes(m) ? order.indexOf(m) : order.length);
  return [...allowed].sort((a, b) => rank(a) - rank(b));
}

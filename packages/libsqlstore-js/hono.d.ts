import type { Context, ErrorHandler, Hono, MiddlewareHandler } from 'hono';
import type { CookieOptions, Pool, RequestSession, Session } from './index.js';

export { scheduledSweep, sweepAll, sweeper } from './index.js';

/** What the middleware puts on the context: `c.get('session')`, `c.get('sessions')`. */
export type SessionVariables = { session: Session; sessions: RequestSession };
export type SessionEnv = { Variables: SessionVariables };

export interface SessionMiddlewareOptions {
  /** A StorePool, or a function of the first request's context that makes one (e.g. `(c) => createStorePool(c.env)`). */
  pool: Pool | ((c: Context) => Pool);
  /** How long a fresh session lasts at most: ms, or a duration such as `24h` (default 24h). */
  lifetime?: number | string;
  /** A session unused this long ends: ms, or a duration such as `30m` (default: never). */
  idleTimeout?: number | string;
  cookie?: CookieOptions;
  log?: (message: string) => void;
  /** Redacted from the log. */
  authToken?: string;
  now?: () => number;
}

export function sessionMiddleware(options: SessionMiddlewareOptions): MiddlewareHandler<SessionEnv>;
export function sessionErrorHandler(options?: { log?: (message: string) => void; authToken?: string }): ErrorHandler;
export function sessionRoutes(options: SessionMiddlewareOptions): Hono<SessionEnv>;

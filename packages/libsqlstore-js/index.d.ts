// Types of the runtime-neutral entry point (sessions.js, store.js, pool.js, cron.js).

/** The WIT error cases of a store call. */
export type StoreErrorKind = 'invalid-token' | 'invalid-input' | 'too-large' | 'invalid-config' | 'unavailable' | 'storage';

/** A store call that failed; `detail` is the component's message (`too-large`: the limit in bytes). */
export class StoreError extends Error {
  constructor(kind: StoreErrorKind, detail: unknown);
  readonly name: 'StoreError';
  kind: StoreErrorKind;
  detail: unknown;
}

/** A malformed setting; `variable` names it. */
export class SettingsError extends Error {
  constructor(variable: string, message: string);
  readonly name: 'SettingsError';
  variable: string;
}

export interface OwnedSession { id: string; owner: string; expiry: number }

/** One component instance's store and sweeper calls; times are ms since the epoch. */
export class SessionStore {
  constructor(exports: unknown);
  broken: boolean;
  checkConfig(): Promise<void>;
  find(token: string): Promise<Uint8Array | undefined>;
  update(token: string, data: Uint8Array, expiryMs: number): Promise<boolean>;
  delete(token: string): Promise<void>;
  create(data: Uint8Array, expiryMs: number): Promise<string>;
  setOwner(token: string, owner: string | undefined): Promise<boolean>;
  sessionsOf(owner: string): Promise<OwnedSession[]>;
  revokeOwner(owner: string, keep?: string): Promise<number>;
  revoke(id: string): Promise<boolean>;
  rotate(token: string, expiryMs: number): Promise<string | undefined>;
  stats(): Promise<{ active: number; expired: number }>;
  sweep(): Promise<{ removed: number; more: boolean }>;
  cleanupInterval(): Promise<number | undefined>;
}

export interface SweepReport { removed: number; batches: number }
export function sweepUntilDone(store: SessionStore): Promise<SweepReport>;

/** Lends a store instance to one request (or sweep) at a time. */
export interface Pool {
  use<T>(fn: (store: SessionStore) => Promise<T>): Promise<T>;
}

/** Instances a StorePool holds by default. */
export const DEFAULT_POOL_SIZE: number;
/** How long (ms) a request waits for an instance by default. */
export const DEFAULT_POOL_WAIT_MS: number;
/** No instance came back within the pool's wait: a StoreError `unavailable` (503, retry). */
export class PoolBusyError extends StoreError {
  constructor(size: number, waitMs: number);
}
/**
 * A fixed number of instances, made ahead of need by `warm()` (or on first use), each lent to
 * one request at a time; a request waits up to `waitMs` for one, then gets PoolBusyError.
 */
export class StorePool implements Pool {
  constructor(options: {
    instantiate: (getCoreModule: (name: string) => WebAssembly.Module | Promise<WebAssembly.Module>, imports: object) => Promise<unknown>;
    getCoreModule: (name: string) => WebAssembly.Module | Promise<WebAssembly.Module>;
    env: Record<string, string>;
    size?: number;
    waitMs?: number;
    preopens?: Record<string, string>;
    adaptImports?: (imports: Record<string, any>) => void;
    shims?: Record<string, any>;
  });
  readonly size: number;
  readonly instancesMade: number;
  warm(): Promise<void>;
  use<T>(fn: (store: SessionStore) => Promise<T>): Promise<T>;
}

/** The session cookie's name and attributes; defaults are session-core's cookie. */
export interface CookieOptions {
  /** default `session` */
  name?: string;
  /** default `/` */
  path?: string;
  domain?: string;
  /** default: when the request came over https */
  secure?: boolean;
  /** default `Lax`; false leaves the attribute out */
  sameSite?: 'Strict' | 'Lax' | 'None' | false;
  /** default true */
  httpOnly?: boolean;
}
export function cookieOptions(options?: CookieOptions): Required<Omit<CookieOptions, 'domain' | 'secure'>> & Pick<CookieOptions, 'domain' | 'secure'>;

export type SessionStatus = 'unmodified' | 'modified' | 'renewed' | 'destroyed';
export type SessionValues = Record<string, unknown>;

/** One request's session. */
export class Session {
  constructor(init: { token?: string; deadline: number; values?: SessionValues; status?: SessionStatus });
  token: string | undefined;
  deadline: number;
  values: SessionValues;
  status: SessionStatus;
  get<T = unknown>(key: string): T | undefined;
  put(key: string, value: unknown): void;
  /** A new token for the same data when saved; the old one stops working. */
  renew(): void;
  /** The logged-in user (its `user` value). */
  user(): string | undefined;
  /** Ends the session: data deleted, cookie cleared. */
  destroy(): void;
}

export type Saved =
  | { kind: 'unchanged' }
  | { kind: 'live'; token: string; expiry: number }
  | { kind: 'ended' }
  | { kind: 'ended-meanwhile' };

export class SessionManager {
  constructor(store: SessionStore, options?: { now?: () => number; lifetimeMs?: number; secure?: boolean; cookie?: CookieOptions });
  store: SessionStore;
  load(cookieHeader: string | null | undefined): Promise<Session>;
  save(session: Session): Promise<Saved>;
  login(session: Session, user: string): Promise<{ saved: Saved; error?: StoreError; record?: { deadline: number; values: SessionValues } }>;
  setCookie(saved: Saved): string | undefined;
  clearCookie(): string;
}

/** What a route gets besides its Session (the Hono middleware's `c.get('sessions')`). */
export class RequestSession {
  constructor(manager: SessionManager, session: Session);
  session: Session;
  manager: SessionManager;
  readonly store: SessionStore;
  saved: Saved | undefined;
  abandoned: boolean;
  /** Logs in as `user` (new token at once); false when the session ended meanwhile (409). Throws `invalid-input` for a refused name. */
  login(user: string): Promise<boolean>;
  /** The user's active sessions, soonest expiry first; undefined when not logged in. */
  devices(): Promise<{ id: string; expiry: number }[] | undefined>;
  /** Ends every other session of the user; how many; undefined when not logged in. */
  logoutEverywhere(): Promise<number | undefined>;
  finish(response: Response): Promise<Response>;
}

export interface HandlerOptions {
  pool: Pool;
  lifetimeMs?: number;
  cookie?: CookieOptions;
  log?: (message: string) => void;
  authToken?: string;
  now?: () => number;
}
export function sessionHandler(options: HandlerOptions): (request: Request, route: (scope: RequestSession) => Promise<Response> | Response) => Promise<Response>;

export interface Settings { storeEnv: Record<string, string>; lifetimeMs: number }
export function readSettings(env: Record<string, unknown>): Settings;
/** EDGE_POOL_SIZE and EDGE_POOL_WAIT of `env`, each undefined when unset. */
export function readPoolSettings(env: Record<string, unknown>): { size?: number; waitMs?: number };
export function parseDuration(text: string, variable: string): number;
export function refuseDatabase(database: string | undefined): string | undefined;
export function redact(text: string, authToken?: string): string;
export function cookieValue(header: string, name: string): string | undefined;
export function offset(nowMs: number, ms: number): number;
export function maxAgeSeconds(expiryMs: number, nowMs: number): number;
export function encodeRecord(deadline: number, values: SessionValues): Uint8Array;
export function decodeRecord(data: Uint8Array): { deadline: number; values: SessionValues } | undefined;
export function refuseRequest(path: string, method: string): Response | undefined;
export function runRoute(path: string, scope: RequestSession, query: URLSearchParams): Promise<Response> | Response;
export function failureAnswer(error: unknown, options?: { path?: string; log?: (message: string) => void; authToken?: string }): Response;
export function sessionEndedAnswer(): Response;
export function notLoggedInAnswer(): Response;
export function bodyTooLargeAnswer(limit?: number): Response;
export function missingUserAnswer(): Response;
export function bodyTooLarge(request: Request, limit?: number): Promise<boolean>;

export interface App {
  fetch(request: Request): Promise<Response>;
  sweep(): Promise<SweepReport>;
  logFailure(what: string, error: unknown): void;
}
export function createApp(options: { pool: Pool; settings: Settings; log?: (message: string) => void; now?: () => number; cookie?: CookieOptions }): App;

export const COOKIE_NAME: 'session';
export const DEFAULT_MESSAGE: string;
export const DEFAULT_LIFETIME_MS: number;
export const MAX_REQUEST_BODY_BYTES: number;
export const MAX_TIMESTAMP: number;
export const MAX_AGE_CAP_S: number;
export const ROUTE_METHODS: Readonly<Record<string, readonly string[]>>;

export function sweepAll(pool: Pool): Promise<SweepReport>;
export function sweeper(
  pool: Pool | (() => Pool),
  options?: { log?: (message: string) => void; onError?: (error: unknown) => void },
): () => Promise<SweepReport | undefined>;
export function scheduledSweep<Env = unknown>(
  pool: Pool | ((env: Env) => Pool),
  options?: { log?: (message: string) => void },
): (controller: { cron?: string; scheduledTime?: number }, env: Env, ctx?: unknown) => Promise<SweepReport>;

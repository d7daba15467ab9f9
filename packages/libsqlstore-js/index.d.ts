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

/** One session of an owner, as `sessionsOf` lists it (times in ms since the epoch). */
export interface OwnedSession { id: string; owner: string | undefined; expiry: number; created: number | undefined; lastSeen: number | undefined; label: string | undefined }

/** When a session ends: at `absolute` (ms since the epoch) at the latest, and after `idleMs` without a read or write, if given. */
export interface Deadlines { absolute: number; idleMs?: number | undefined }

/** An active session as `find` reads it (times in ms since the epoch; `version` names it for a conditional `update`). */
export interface FoundSession {
  data: Uint8Array;
  version: bigint;
  expiry: number;
  absolute: number | undefined;
  idle: number | undefined;
  created: number | undefined;
  lastSeen: number | undefined;
  label: string | undefined;
  owner: string | undefined;
}

/** One component instance's store (`edge:sessions/store@0.3.0`) and sweeper calls; times are ms since the epoch. */
export class SessionStore {
  constructor(exports: unknown);
  broken: boolean;
  checkConfig(): Promise<void>;
  /** The active session, or undefined; the store records the read (last seen, idle expiry slid). */
  find(token: string): Promise<FoundSession | undefined>;
  /** Conditional update: the new version, or undefined (nothing stored) if another write came first or the session ended. */
  update(token: string, data: Uint8Array, version: bigint): Promise<bigint | undefined>;
  delete(token: string): Promise<void>;
  /** Stores `data` under a fresh token, listed on devices pages as `label`. */
  create(data: Uint8Array, deadlines: Deadlines, label?: string): Promise<string>;
  setOwner(token: string, owner: string | undefined): Promise<boolean>;
  sessionsOf(owner: string): Promise<OwnedSession[]>;
  revokeOwner(owner: string, keep?: string): Promise<number>;
  revoke(id: string): Promise<boolean>;
  /** A fresh token takes over the session (data, owner, label, creation time), which starts over with `deadlines`. */
  rotate(token: string, deadlines: Deadlines): Promise<string | undefined>;
  /** Active sessions `[id, data]` in id order after `after`, at most `limit`. */
  page(after: string | undefined, limit: number): Promise<[string, Uint8Array][]>;
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
/** A lease longer than this many times the pool's wait takes its instance as stuck: it is replaced. */
export const STUCK_LEASE_WAITS: number;
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
    /** Told of each instance replaced as stuck (default console.error). */
    log?: (message: string) => void;
  });
  readonly size: number;
  readonly instancesMade: number;
  readonly instancesStuck: number;
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
  constructor(init: { token?: string; version?: bigint; deadline: number; values?: SessionValues; status?: SessionStatus });
  /** A new, empty session ending `lifetimeMs` after `nowMs`. */
  static fresh(nowMs: number, lifetimeMs: number): Session;
  token: string | undefined;
  /** The stored version it was read at; undefined for a fresh session. */
  version: bigint | undefined;
  deadline: number;
  values: SessionValues;
  status: SessionStatus;
  /** The values this request put (put again over newer stored values on a conflict). */
  changes: SessionValues;
  clone(): Session;
  get<T = unknown>(key: string): T | undefined;
  put(key: string, value: unknown): void;
  /** A new token for the same data when saved; the old one stops working. */
  renew(): void;
  /** The logged-in user (its `user` value). */
  user(): string | undefined;
  /** Ends the session: data deleted, cookie cleared. */
  destroy(): void;
  /** The deadlines the store keeps when it creates or rotates this session. */
  deadlines(idleTimeoutMs?: number): Deadlines;
  /** The record in `data` with this request's own values put over it; undefined if `data` is no record. */
  rebased(data: Uint8Array): { deadline: number; values: SessionValues } | undefined;
}

export type Saved =
  | { kind: 'unchanged' }
  | { kind: 'live'; token: string; expiry: number }
  | { kind: 'ended' }
  | { kind: 'ended-meanwhile' }
  | { kind: 'conflict' };

/** The next store call of a Save, or what it did. */
export type SaveStep =
  | { call: 'create'; data: Uint8Array; deadlines: Deadlines; label: string | undefined }
  | { call: 'rotate'; token: string; deadlines: Deadlines }
  | { call: 'find'; token: string }
  | { call: 'update'; token: string; data: Uint8Array; version: bigint }
  | { call: 'delete'; token: string }
  | { call: 'done'; saved: Saved };

/** Saving one request's session, step by step (session-core's `Save`). */
export class Save {
  constructor(session: Session, options?: { idleTimeoutMs?: number; label?: string; token?: string; deadlines?: Deadlines });
  written: { token: string; version: bigint; record: { deadline: number; values: SessionValues } } | undefined;
  first(): SaveStep;
  created(token: string): SaveStep;
  rotated(token: string | undefined): SaveStep;
  found(found: { data: Uint8Array; version: bigint } | undefined): SaveStep;
  updated(version: bigint | undefined): SaveStep;
  deleted(): SaveStep;
}

/** Runs the saves of one token one after another in this process. */
export class TokenQueue {
  run<T>(token: string | undefined, fn: () => Promise<T> | T): Promise<T> | T;
}

export class SessionManager {
  constructor(
    store: SessionStore,
    options?: { now?: () => number; lifetimeMs?: number; idleTimeoutMs?: number; secure?: boolean; cookie?: CookieOptions; saves?: TokenQueue },
  );
  store: SessionStore;
  load(cookieHeader: string | null | undefined): Promise<Session>;
  save(session: Session, options?: { label?: string }): Promise<Saved>;
  login(session: Session, user: string, options?: { label?: string }): Promise<{ saved: Saved; error?: StoreError; conflict?: boolean; session?: Session }>;
  setCookie(saved: Saved): string | undefined;
  clearCookie(): string;
}

/** One row of a devices page (times in ms since the epoch; undefined where the store recorded nothing). */
export interface Device { id: string; expiry: number; created?: number | undefined; lastSeen?: number | undefined; label?: string | undefined }

/** What a route gets besides its Session (the Hono middleware's `c.get('sessions')`). */
export class RequestSession {
  constructor(manager: SessionManager, session: Session, options?: { label?: string });
  session: Session;
  manager: SessionManager;
  /** What a session this request creates is listed as on /devices. */
  label: string | undefined;
  readonly store: SessionStore;
  saved: Saved | undefined;
  conflict: boolean;
  abandoned: boolean;
  /** Logs in as `user` (new token at once); false when the session ended meanwhile or other writes kept the user out (409). Throws `invalid-input` for a refused name. */
  login(user: string): Promise<boolean>;
  /** The user's active sessions, soonest expiry first; undefined when not logged in. */
  devices(): Promise<Device[] | undefined>;
  /** Ends every other session of the user; how many; undefined when not logged in. */
  logoutEverywhere(): Promise<number | undefined>;
  finish(response: Response): Promise<Response>;
}

export interface HandlerOptions {
  pool: Pool;
  lifetimeMs?: number;
  idleTimeoutMs?: number;
  cookie?: CookieOptions;
  log?: (message: string) => void;
  authToken?: string;
  now?: () => number;
}
export function sessionHandler(options: HandlerOptions): (request: Request, route: (scope: RequestSession) => Promise<Response> | Response) => Promise<Response>;

export interface Settings { storeEnv: Record<string, string>; lifetimeMs: number; idleTimeoutMs?: number }
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
/** 400 for /login without a user, /set without a key or with a key `checkKey` refuses; else undefined. */
export function refuseQuery(path: string, query: URLSearchParams): Response | undefined;
/** session-core's `device_label`: "Firefox on Linux", "curl", or undefined. */
export function deviceLabel(userAgent: string | null | undefined): string | undefined;
/** session-core's `check_key`: whether /set may store `key`. */
export function checkKey(key: string): boolean;
/** The /devices body: `{"sessions":[{"id","expiry","created","last_seen","label"},…]}`. */
export function devicesJson(sessions: Device[]): string;
export function runRoute(path: string, scope: RequestSession, query: URLSearchParams): Promise<Response> | Response;
export function failureAnswer(error: unknown, options?: { path?: string; log?: (message: string) => void; authToken?: string }): Response;
export function sessionEndedAnswer(): Response;
export function conflictAnswer(): Response;
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
export const SAVE_ATTEMPTS: number;
export const USER_KEY: 'user';
export const MAX_KEY_BYTES: number;
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

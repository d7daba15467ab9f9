// `wasi:http`'s outgoing requests over node:http and node:https, for the JSPI transpilation on
// Node (node.js): the libSQL server's requests go out on keep-alive connections shared by
// every instance of the process, without fetch's per-request streams and gzip (fetch asks for
// gzip, and inflating a small reply cost more CPU than the rest of a store call). The streams
// and pollables are preview2-shim's Web ones (`io`), which JSPI waits on. Bodies are sent
// once the guest finishes them (with Content-Length); replies are read as they arrive.
import http from 'node:http';
import https from 'node:https';

const agents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };
const transports = { 'http:': http, 'https:': https };
/** Headers of the connection, not of the message: never fields (wasi:http forbids them). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive']);

/** The wasi:http error-code of a failed node:http request. */
function errorCode(error) {
  switch (error.code) {
    case 'ECONNREFUSED':
      return { tag: 'connection-refused' };
    case 'ETIMEDOUT':
    case 'libsqlstore-timeout':
      return { tag: 'connection-timeout' };
    case 'ECONNRESET':
    case 'EPIPE':
      return { tag: 'connection-terminated' };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { tag: 'DNS-error', val: { rcode: error.code, infoCode: undefined } };
    default:
      if (/CERT|SSL|TLS/.test(error.code ?? '')) return { tag: 'TLS-protocol-error' };
      return { tag: 'internal-error', val: error.message };
  }
}

/**
 * The wasi:http implementation: preview2-shim's Web `http` (`types.Fields`, `RequestOptions`,
 * ...) with the outgoing request and everything a reply is read through replaced, on `io`,
 * the shim's Web `io` namespace.
 */
export function nodeHttp(web, io) {
  const { Fields } = web.types;
  const { inputStreamCreate, outputStreamCreate, pollableCreate, ioErrorCreate } = io;
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();

  class OutgoingBody {
    #chunks = [];
    #stream;
    #finished = false;
    #resolve;
    /** Resolves with the body's bytes once the guest finishes it. */
    done = new Promise((resolve) => (this.#resolve = resolve));

    constructor() {
      const chunks = this.#chunks;
      const body = this;
      this.#stream = outputStreamCreate({
        write(buf) {
          if (body.#finished) throw { tag: 'closed' };
          chunks.push(Buffer.from(buf));
        },
        blockingFlush() {},
        subscribe: () => pollableCreate(),
      });
    }

    write() {
      const stream = this.#stream;
      if (!stream) throw undefined;
      this.#stream = undefined;
      return stream;
    }

    static finish(body, trailers) {
      if (trailers) throw { tag: 'internal-error', val: 'trailers unsupported' };
      if (body.#finished) throw { tag: 'internal-error', val: 'body already finished' };
      body.#finished = true;
      body.#resolve(Buffer.concat(body.#chunks));
    }
  }

  class OutgoingRequest {
    #method = { tag: 'get' };
    #scheme;
    #authority;
    #pathWithQuery;
    #headers;
    #body = new OutgoingBody();
    #bodyTaken = false;

    constructor(headers) {
      this.#headers = headers;
    }
    body() {
      if (this.#bodyTaken) throw undefined;
      this.#bodyTaken = true;
      return this.#body;
    }
    method() {
      return this.#method;
    }
    setMethod(method) {
      if (method.tag === 'other' && !/^[A-Za-z-]+$/.test(method.val)) throw undefined;
      this.#method = method;
    }
    scheme() {
      return this.#scheme;
    }
    setScheme(scheme) {
      this.#scheme = scheme;
    }
    authority() {
      return this.#authority;
    }
    setAuthority(authority) {
      if (authority !== undefined && !/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$/.test(authority)) throw undefined;
      this.#authority = authority;
    }
    pathWithQuery() {
      return this.#pathWithQuery;
    }
    setPathWithQuery(path) {
      if (path !== undefined && !/^[A-Za-z0-9.\-_~!$&'()*+,;=:@%?/]+$/.test(path)) throw undefined;
      this.#pathWithQuery = path;
    }
    headers() {
      return this.#headers;
    }
    /** What node:http needs to send it; the body once the guest has finished it. */
    static parts(request) {
      const { tag, val } = request.#method;
      const headers = {};
      for (const [name, value] of request.#headers.entries()) {
        const key = name.toLowerCase();
        if (HOP_BY_HOP.has(key) || key === 'host') continue;
        const text = decoder.decode(value);
        headers[key] = key in headers ? `${headers[key]}, ${text}` : text;
      }
      const scheme = request.#scheme?.tag === 'HTTP' ? 'http:' : request.#scheme?.tag === 'HTTPS' || !request.#scheme ? 'https:' : undefined;
      return {
        scheme,
        method: (val ?? tag).toUpperCase(),
        authority: request.#authority ?? '',
        path: request.#pathWithQuery,
        headers,
        body: request.#bodyTaken ? request.#body.done : Promise.resolve(undefined),
      };
    }
  }

  class IncomingBody {
    #stream;
    constructor(stream) {
      this.#stream = stream;
    }
    stream() {
      const stream = this.#stream;
      if (!stream) throw undefined;
      this.#stream = undefined;
      return stream;
    }
    static finish() {
      return new FutureTrailers();
    }
  }

  class FutureTrailers {
    #taken = false;
    subscribe() {
      return pollableCreate();
    }
    get() {
      if (this.#taken) return { tag: 'err', val: undefined };
      this.#taken = true;
      return { tag: 'ok', val: { tag: 'ok', val: undefined } };
    }
  }

  class IncomingResponse {
    #status;
    #headers;
    #body;
    constructor(res) {
      this.#status = res.statusCode;
      const raw = res.rawHeaders;
      const entries = [];
      for (let i = 0; i < raw.length; i += 2) {
        const name = raw[i].toLowerCase();
        // Connection-level headers (a Node server's `Connection: keep-alive`) are no fields.
        if (!HOP_BY_HOP.has(name)) entries.push([name, encoder.encode(raw[i + 1])]);
      }
      this.#headers = Fields.fromList(entries);
      this.#body = new IncomingBody(replyStream(res));
    }
    status() {
      return this.#status;
    }
    headers() {
      return this.#headers;
    }
    consume() {
      const body = this.#body;
      if (!body) throw undefined;
      this.#body = undefined;
      return body;
    }
  }

  /** The reply body of `res` as a wasi:io input-stream. */
  function replyStream(res) {
    const chunks = [];
    let ended = false;
    let failure;
    let wake;
    let waiting;
    const ready = () => chunks.length > 0 || ended || failure !== undefined;
    const notify = () => {
      wake?.();
      wake = undefined;
      waiting = undefined;
    };
    res.on('data', (chunk) => {
      chunks.push(chunk);
      notify();
    });
    res.on('end', () => {
      ended = true;
      notify();
    });
    res.on('error', (e) => {
      failure = e;
      notify();
    });
    const wait = () => (ready() ? Promise.resolve() : (waiting ??= new Promise((resolve) => (wake = resolve))));
    const read = (len) => {
      if (chunks.length > 0) {
        const max = Number(len);
        const chunk = chunks[0];
        if (chunk.byteLength <= max) {
          chunks.shift();
          return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        }
        chunks[0] = chunk.subarray(max);
        return new Uint8Array(chunk.buffer, chunk.byteOffset, max);
      }
      if (failure !== undefined) throw { tag: 'last-operation-failed', val: ioErrorCreate(failure.message) };
      if (ended) throw { tag: 'closed' };
      return new Uint8Array(0);
    };
    return inputStreamCreate({
      read,
      blockingRead: (len) => (ready() ? read(len) : wait().then(() => read(len))),
      subscribe: () => pollableCreate({ ready, wait }),
      drop() {
        // A reply left unread cannot give its connection back: close it.
        if (!ended) res.destroy();
        chunks.length = 0;
      },
    });
  }

  class FutureIncomingResponse {
    #result;
    #settled;
    #request;

    constructor(parts, timeoutMs) {
      this.#settled = this.#send(parts, timeoutMs)
        .then((res) => {
          try {
            return new IncomingResponse(res);
          } catch {
            res.destroy();
            throw new Error('the answer has a header field wasi:http refuses');
          }
        })
        .then(
          (response) => {
            this.#result = { tag: 'ok', val: { tag: 'ok', val: response } };
          },
          (error) => {
            this.#result = { tag: 'ok', val: { tag: 'err', val: errorCode(error) } };
          },
        );
    }

    async #send({ scheme, method, authority, path, headers, body }, timeoutMs) {
      const bytes = await body;
      if (bytes?.byteLength || method !== 'GET') headers['content-length'] = String(bytes?.byteLength ?? 0);
      return new Promise((resolve, reject) => {
        const req = transports[scheme].request(`${scheme}//${authority}${path}`, { method, headers, agent: agents[scheme] }, (res) => {
          clearTimeout(timer);
          resolve(res);
        });
        this.#request = req;
        const timer = setTimeout(() => req.destroy(Object.assign(new Error('timed out'), { code: 'libsqlstore-timeout' })), timeoutMs);
        req.on('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
        req.end(bytes);
      });
    }

    subscribe() {
      return pollableCreate(this.#settled);
    }
    get() {
      const result = this.#result;
      if (result === undefined) return undefined;
      this.#result = { tag: 'err', val: undefined };
      return result;
    }
    [Symbol.dispose]() {
      // Dropped before its reply came: the request is abandoned.
      if (this.#result === undefined) this.#request?.destroy();
    }
  }

  /** The first of the connect and first-byte timeouts of `options`, in ms (10 minutes without). */
  function timeoutMs(options) {
    const ns = [options?.connectTimeout?.(), options?.firstByteTimeout?.()].filter((t) => t !== undefined);
    return ns.length ? Number(ns.reduce((a, b) => (a < b ? a : b)) / 1_000_000n) : 600_000;
  }

  return {
    types: { ...web.types, OutgoingRequest, OutgoingBody, IncomingResponse, IncomingBody, FutureIncomingResponse, FutureTrailers },
    outgoingHandler: {
      handle(request, options) {
        const parts = OutgoingRequest.parts(request);
        if (!parts.path) throw { tag: 'HTTP-request-URI-invalid' };
        if (!parts.scheme) throw { tag: 'HTTP-protocol-error' };
        return new FutureIncomingResponse(parts, timeoutMs(options));
      },
    },
    incomingHandler: web.incomingHandler,
  };
}

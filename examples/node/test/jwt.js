// Auth tokens as a libSQL server checks them (Turso's scheme): an Ed25519 key pair whose
// public half sqld loads (--auth-jwt-key-file), and EdDSA-signed JWTs that clients send as
// `Authorization: Bearer …` (SESSIONS_AUTH_TOKEN). Run directly, it prints one such set as
// JSON for the Python tests: {"publicKeyPem", "token", "foreignToken"}.

import { generateKeyPairSync, sign } from 'node:crypto';
import { argv } from 'node:process';
import { fileURLToPath } from 'node:url';

const base64url = (data) => Buffer.from(data).toString('base64url');

/** A JWT granting read-write access, signed with `privateKey`. */
function token(privateKey) {
  const header = base64url(JSON.stringify({ alg: 'EdDSA', typ: 'JWT' }));
  const claims = base64url(JSON.stringify({ a: 'rw', iat: Math.floor(Date.now() / 1000) }));
  const signature = sign(null, Buffer.from(`${header}.${claims}`), privateKey);
  return `${header}.${claims}.${base64url(signature)}`;
}

/**
 * A key for the server and two tokens: `token`, signed with that key, and `foreignToken`,
 * well-formed but signed with another key (the server must refuse it).
 */
export function mintAuth() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const foreign = generateKeyPairSync('ed25519').privateKey;
  return {
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }),
    token: token(privateKey),
    foreignToken: token(foreign),
  };
}

if (argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(mintAuth()));
}

// Shared plumbing for issuer.mjs and wallet.mjs: argument parsing, an HTTPS fetch with a
// given CA, small HTTP server helpers, and the crypto callbacks that @openid4vc/openid4vci
// and @openid4vc/oauth2 ask their integrator for (hash, generateRandom, signJwt, verifyJwt),
// implemented with `jose` and node:crypto. Same shape as interop/openid4vp/common.mjs; kept
// separate so each harness installs and runs on its own.
//
// Nothing protocol-specific lives here: the OpenID4VCI / OAuth logic is the library's.

import { createHash, randomBytes } from 'node:crypto'
import https from 'node:https'

import * as jose from 'jose'

// ---------------------------------------------------------------------------------------
// Arguments and output
// ---------------------------------------------------------------------------------------

/** `--name value` flags and positional arguments. Boolean flags are listed in `booleans`. */
export function parseArgs(argv, { booleans = [] } = {}) {
  const flags = {}
  const positional = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (!a.startsWith('--')) {
      positional.push(a)
      continue
    }
    const name = a.slice(2)
    if (booleans.includes(name)) {
      flags[name] = true
      continue
    }
    const value = argv[++i]
    if (value === undefined) fail(2, `--${name} needs a value`)
    flags[name] = value
  }
  return { flags, positional }
}

export function required(flags, name) {
  if (flags[name] === undefined) fail(2, `--${name} is required`)
  return flags[name]
}

/** A positive integer flag, or `fallback`. */
export function intFlag(flags, name, fallback) {
  if (flags[name] === undefined) return fallback
  const n = Number(flags[name])
  if (!Number.isInteger(n) || n < 0) fail(2, `--${name} must be a non-negative integer`)
  return n
}

/** Prints `message` (and the cause chain) on stderr and exits with `code`. */
export function fail(code, message, error) {
  process.stderr.write(`${message}${error ? `: ${describe(error)}` : ''}\n`)
  process.exit(code)
}

export function describe(error) {
  const parts = []
  for (let e = error, depth = 0; e && depth < 6; e = e.cause, depth++) {
    let text = e instanceof Error ? `${e.name}: ${e.message}` : String(e)
    if (e?.errorResponse) text += ` ${JSON.stringify(e.errorResponse)}`
    if (e?.responseText) text += ` body=${String(e.responseText).slice(0, 500)}`
    parts.push(text)
  }
  return parts.join(' <- ')
}

export function log(...args) {
  if (process.env.OID4VCI_INTEROP_DEBUG) process.stderr.write(`[${process.argv[1].split('/').pop()}] ${args.join(' ')}\n`)
}

export const randomToken = (bytes = 32) => randomBytes(bytes).toString('base64url')

/** GenerateRandomCallback. */
export const generateRandom = (length) => new Uint8Array(randomBytes(length))

export const nowSeconds = () => Math.floor(Date.now() / 1000)

// ---------------------------------------------------------------------------------------
// HTTPS client
// ---------------------------------------------------------------------------------------

/**
 * A WHATWG-style fetch over node:https that trusts exactly `ca` (PEM text), never follows
 * redirects, always sends Content-Length and gives up after `timeoutMs`. `onResponse` sees
 * every ({url, method}, Response) pair before the caller does.
 */
export function makeFetch({ ca, timeoutMs = 15000, onResponse } = {}) {
  return async function fetch(input, init = {}) {
    const url = new URL(typeof input === 'string' ? input : (input?.url ?? String(input)))
    const method = (init.method ?? 'GET').toUpperCase()
    const headers = Object.fromEntries(new Headers(init.headers ?? {}).entries())
    const rawBody = init.body instanceof URLSearchParams ? init.body.toString() : (init.body ?? undefined)
    if (url.protocol !== 'https:') throw new Error(`refusing non-https URL ${url}`)
    const body = rawBody === undefined ? undefined : Buffer.from(rawBody)
    if (body !== undefined || method === 'POST') headers['content-length'] = String(body?.length ?? 0)
    log(`${method} ${url.origin}${url.pathname}`)
    const response = await new Promise((resolve, reject) => {
      const req = https.request(url, { method, headers, ca, agent: false, timeout: timeoutMs }, (res) => {
        const chunks = []
        res.on('data', (c) => chunks.push(c))
        res.on('error', reject)
        res.on('end', () => {
          const out = new Headers()
          for (const [k, v] of Object.entries(res.headers)) {
            if (Array.isArray(v)) v.forEach((x) => out.append(k, x))
            else if (v != null) out.set(k, String(v))
          }
          const status = res.statusCode ?? 500
          const buf = Buffer.concat(chunks)
          log(`  -> ${status}`)
          resolve(new Response([204, 205, 304].includes(status) ? null : buf, { status, headers: out }))
        })
      })
      req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)))
      req.on('error', reject)
      if (body !== undefined) req.write(body)
      req.end()
    })
    if (onResponse) onResponse({ url, method }, response)
    return response
  }
}

// ---------------------------------------------------------------------------------------
// HTTP server helpers
// ---------------------------------------------------------------------------------------

/** Reads a request body (at most `limit` bytes). */
export function readBody(req, limit = 1024 * 1024) {
  return new Promise((resolve, reject) => {
    const chunks = []
    let size = 0
    req.on('data', (c) => {
      size += c.length
      if (size > limit) {
        reject(new Error('body too large'))
        req.destroy()
      } else chunks.push(c)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

/** Sends `body` with `Cache-Control: no-store` and any `extraHeaders`. */
export function send(res, status, contentType, body, extraHeaders = {}) {
  const buf = Buffer.from(body ?? '')
  const headers = { 'cache-control': 'no-store', ...extraHeaders }
  if (contentType) headers['content-type'] = contentType
  if (status !== 204) headers['content-length'] = buf.length
  res.writeHead(status, headers)
  res.end(status === 204 ? undefined : buf)
}

export const sendJson = (res, status, value, extraHeaders) => send(res, status, 'application/json', JSON.stringify(value), extraHeaders)

/** The library's RequestLike ({method, url, headers}) for an incoming node request. */
export function requestLike(req, origin) {
  const headers = new Headers()
  for (const [k, v] of Object.entries(req.headers)) {
    if (Array.isArray(v)) v.forEach((x) => headers.append(k, x))
    else if (v != null) headers.set(k, String(v))
  }
  return { method: req.method, url: new URL(req.url, origin).toString(), headers }
}

// ---------------------------------------------------------------------------------------
// Crypto callbacks for @openid4vc/oauth2's CallbackContext
// ---------------------------------------------------------------------------------------

const HASHES = { 'sha-256': 'sha256', 'sha-384': 'sha384', 'sha-512': 'sha512' }

/** HashCallback: (data, 'sha-256' | ...) => bytes. */
export function hash(data, alg) {
  const name = HASHES[alg]
  if (!name) throw new Error(`unsupported hash ${alg}`)
  return new Uint8Array(createHash(name).update(data).digest())
}

const enc = new TextEncoder()
const dec = new TextDecoder()

/** A fresh ES256 key pair: { privateKey, publicJwk }. */
export async function generateEs256(kid) {
  const { privateKey, publicKey } = await jose.generateKeyPair('ES256', { extractable: true })
  const publicJwk = await jose.exportJWK(publicKey)
  if (kid) publicJwk.kid = kid
  return { privateKey, publicJwk }
}

/** RFC 7638 SHA-256 thumbprint of a public JWK. */
export const thumbprint = (jwk) => jose.calculateJwkThumbprint(jwk, 'sha256')

/** Signs `{header, payload}` as a compact JWS with `key` (a KeyObject or CryptoKey). */
export async function signCompact(key, header, payload) {
  return new jose.CompactSign(enc.encode(JSON.stringify(payload))).setProtectedHeader(header).sign(key)
}

/**
 * SignJwtCallback: `keyFor(signer)` returns `{ privateKey, publicJwk }` for a signer the
 * caller holds. ES256 only.
 */
export function signJwtCallback(keyFor) {
  return async (signer, { header, payload }) => {
    const { privateKey, publicJwk } = await keyFor(signer)
    if (header.alg !== 'ES256') throw new Error(`only ES256, not ${header.alg}`)
    return { jwt: await signCompact(privateKey, header, payload), signerJwk: publicJwk }
  }
}

/**
 * VerifyJwtCallback for `jwk` signers (DPoP proofs, key proofs, access tokens against the
 * AS JWKS): ES256 only, and a key that carries private parts is refused.
 */
export function verifyJwtCallback() {
  return async (signer, { compact }) => {
    try {
      if (signer.method !== 'jwk') throw new Error(`signer method ${signer.method} is not supported here`)
      const jwk = signer.publicJwk
      if (jwk.d !== undefined || jwk.p !== undefined || jwk.k !== undefined) throw new Error('the JWK carries private key material')
      if (jwk.kty !== 'EC' || jwk.crv !== 'P-256') throw new Error(`only P-256 keys, not ${jwk.kty}/${jwk.crv}`)
      const key = await jose.importJWK({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, 'ES256')
      await jose.compactVerify(compact, key, { algorithms: ['ES256'] })
      return { verified: true, signerJwk: jwk }
    } catch (error) {
      log(`verifyJwt failed: ${describe(error)}`)
      return { verified: false }
    }
  }
}

// ---------------------------------------------------------------------------------------
// SD-JWT helpers for @sd-jwt/core (hasher, salts, ES256 signer over raw signing input)
// ---------------------------------------------------------------------------------------

export const sdHasher = (data, alg) => hash(typeof data === 'string' ? enc.encode(data) : new Uint8Array(data), alg)

export const saltGenerator = (length) => randomBytes(length).toString('base64url')

/** @sd-jwt Signer: signing input -> base64url signature (ES256 via jose's JWS). */
export function sdSigner(privateKey) {
  return async (data) => {
    const [h, p] = data.split('.')
    const header = JSON.parse(dec.decode(jose.base64url.decode(h)))
    // Re-sign exactly these bytes: jose's FlattenedSign takes the header and payload bytes.
    const jws = await new jose.FlattenedSign(jose.base64url.decode(p)).setProtectedHeader(header).sign(privateKey)
    if (jws.protected !== h) throw new Error('header re-encoding changed the signing input')
    return jws.signature
  }
}

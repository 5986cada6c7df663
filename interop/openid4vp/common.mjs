// Shared plumbing for verifier.mjs and wallet.mjs: argument parsing, an HTTPS fetch with a
// given CA, X.509 chain validation, and the crypto callbacks that @openid4vc/openid4vp asks
// its integrator for (hash, signJwt, verifyJwt, encryptJwe, decryptJwe,
// getX509CertificateMetadata), implemented with `jose` and node:crypto.
//
// Nothing protocol-specific lives here: the OpenID4VP logic is the library's.

import { createHash, randomBytes, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import https from 'node:https'

import * as jose from 'jose'

// ---------------------------------------------------------------------------------------
// Arguments and output
// ---------------------------------------------------------------------------------------

/**
 * `--name value` flags (names in `repeatable` collect arrays) and positional arguments.
 * Boolean flags are listed in `booleans`.
 */
export function parseArgs(argv, { repeatable = [], booleans = [] } = {}) {
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
    if (repeatable.includes(name)) (flags[name] ??= []).push(value)
    else flags[name] = value
  }
  return { flags, positional }
}

export function required(flags, name) {
  if (flags[name] === undefined) fail(2, `--${name} is required`)
  return flags[name]
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
    parts.push(text)
  }
  return parts.join(' <- ')
}

export function log(...args) {
  if (process.env.OID4VP_INTEROP_DEBUG) process.stderr.write(`[${process.argv[1].split('/').pop()}] ${args.join(' ')}\n`)
}

export const randomToken = (bytes = 32) => randomBytes(bytes).toString('base64url')

// ---------------------------------------------------------------------------------------
// PEM / X.509
// ---------------------------------------------------------------------------------------

/** The DER certificates of a PEM file, in file order. */
export function readPemCertificates(path) {
  const text = readFileSync(path, 'utf8')
  const blocks = [...text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)]
  if (blocks.length === 0) fail(2, `${path}: no certificate`)
  return blocks.map((m) => Buffer.from(m[1].replace(/\s+/g, ''), 'base64'))
}

/** subjectAltName dNSName and URI entries (what the library's x509_san_* checks need). */
export function certificateSans(cert) {
  const san = cert.subjectAltName ?? ''
  const entries = san.split(/,\s*/).filter(Boolean)
  const take = (prefix) => entries.filter((e) => e.startsWith(prefix)).map((e) => e.slice(prefix.length))
  return { sanDnsNames: take('DNS:'), sanUriNames: take('URI:') }
}

/**
 * Validates an `x5c` chain (base64 DER, leaf first) up to one of `anchors` (DER): validity
 * periods, each signature, CA flags, and HAIP §5: the chain does not contain the anchor and
 * the leaf is not self-signed. Returns the leaf certificate.
 */
export function validateX5c(x5c, anchors, now = new Date()) {
  if (!Array.isArray(x5c) || x5c.length === 0) throw new Error('x5c is empty')
  const certs = x5c.map((b64) => new X509Certificate(Buffer.from(b64, 'base64')))
  const roots = anchors.map((der) => new X509Certificate(der))
  const inPeriod = (c) => new Date(c.validFrom) <= now && now <= new Date(c.validTo)
  certs.forEach((c, i) => {
    if (!inPeriod(c)) throw new Error(`x5c[${i}] is outside its validity period`)
    if (roots.some((r) => r.fingerprint256 === c.fingerprint256)) throw new Error(`x5c[${i}] is a trust anchor (HAIP §5)`)
    if (i > 0 && !c.ca) throw new Error(`x5c[${i}] is not a CA certificate`)
  })
  const leaf = certs[0]
  if (leaf.ca) throw new Error('the leaf certificate is a CA certificate')
  if (leaf.checkIssued(leaf) && leaf.verify(leaf.publicKey)) throw new Error('the leaf certificate is self-signed (HAIP §5)')
  for (let i = 0; i + 1 < certs.length; i++) {
    if (!certs[i].checkIssued(certs[i + 1]) || !certs[i].verify(certs[i + 1].publicKey)) throw new Error(`x5c[${i}] is not signed by x5c[${i + 1}]`)
  }
  const last = certs[certs.length - 1]
  const root = roots.find((r) => last.checkIssued(r) && last.verify(r.publicKey))
  if (!root) throw new Error('the x5c chain does not lead to a trust anchor')
  if (!inPeriod(root)) throw new Error('the trust anchor is outside its validity period')
  return leaf
}

// ---------------------------------------------------------------------------------------
// HTTPS
// ---------------------------------------------------------------------------------------

/**
 * A WHATWG-style fetch over node:https that trusts exactly `ca` (PEM text), never follows
 * redirects, always sends Content-Length and gives up after `timeoutMs`. `rewrite` may
 * change a request before it goes out ({url, method, headers, body} -> same).
 */
export function makeFetch({ ca, timeoutMs = 15000, rewrite } = {}) {
  return async function fetch(input, init = {}) {
    let request = {
      url: new URL(typeof input === 'string' ? input : (input?.url ?? String(input))),
      method: (init.method ?? 'GET').toUpperCase(),
      headers: Object.fromEntries(new Headers(init.headers ?? {}).entries()),
      body: init.body instanceof URLSearchParams ? init.body.toString() : (init.body ?? undefined),
    }
    if (rewrite) request = rewrite(request)
    if (request.url.protocol !== 'https:') throw new Error(`refusing non-https URL ${request.url}`)
    const body = request.body === undefined ? undefined : Buffer.from(request.body)
    const headers = { ...request.headers }
    if (body !== undefined) headers['content-length'] = String(body.length)
    log(`${request.method} ${request.url} ${body ? body.toString().slice(0, 200) : ''}`)
    return new Promise((resolve, reject) => {
      const req = https.request(request.url, { method: request.method, headers, ca, agent: false, timeout: timeoutMs }, (res) => {
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
          resolve(new Response([204, 205, 304].includes(status) ? null : buf, { status, headers: out }))
        })
      })
      req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)))
      req.on('error', reject)
      if (body !== undefined) req.write(body)
      req.end()
    })
  }
}

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

export function send(res, status, contentType, body) {
  const buf = Buffer.from(body)
  res.writeHead(status, { 'content-type': contentType, 'content-length': buf.length, 'cache-control': 'no-store' })
  res.end(buf)
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

/** Signs `{header, payload}` as a compact JWS with `key` (a KeyObject or CryptoKey). */
export async function signCompact(key, header, payload) {
  return new jose.CompactSign(enc.encode(JSON.stringify(payload))).setProtectedHeader(header).sign(key)
}

/**
 * SignJwtCallback for signers whose private key is known: `keys` maps a signer to
 * `{ privateKey, publicJwk }`.
 */
export function signJwtCallback(keyFor) {
  return async (signer, { header, payload }) => {
    const { privateKey, publicJwk } = keyFor(signer)
    if (header.alg !== 'ES256') throw new Error(`only ES256, not ${header.alg}`)
    return { jwt: await signCompact(privateKey, header, payload), signerJwk: publicJwk }
  }
}

/**
 * VerifyJwtCallback: `x5c` signers are validated against `anchors` (DER) first, then the
 * signature with the leaf key; `jwk` signers with the header key. ES256 only.
 */
export function verifyJwtCallback({ anchors = [] } = {}) {
  return async (signer, { compact }) => {
    try {
      let key
      if (signer.method === 'x5c') {
        const leaf = validateX5c(signer.x5c, anchors)
        key = leaf.publicKey
      } else if (signer.method === 'jwk') {
        key = await jose.importJWK(signer.publicJwk, 'ES256')
      } else {
        throw new Error(`signer method ${signer.method} is not supported here`)
      }
      await jose.compactVerify(compact, key, { algorithms: ['ES256'] })
      const signerJwk = await jose.exportJWK(key)
      return { verified: true, signerJwk }
    } catch (error) {
      log(`verifyJwt failed: ${describe(error)}`)
      return { verified: false }
    }
  }
}

/** getX509CertificateMetadata: base64 DER -> SAN names. */
export function x509Metadata(certificate) {
  return certificateSans(new X509Certificate(Buffer.from(certificate, 'base64')))
}

const ENCS = ['A128GCM', 'A256GCM']

/**
 * EncryptJweCallback: ECDH-ES (direct key agreement) on P-256 to the verifier's JWK, `kid`
 * copied into the header (§8.3), `apu`/`apv` passed through as the library asks.
 */
export async function encryptJwe(encryptor, data) {
  const jwk = encryptor.publicJwk
  if (encryptor.alg !== 'ECDH-ES') throw new Error(`only ECDH-ES, not ${encryptor.alg}`)
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256') throw new Error('only P-256 keys')
  if (!ENCS.includes(encryptor.enc)) throw new Error(`unsupported enc ${encryptor.enc}`)
  const key = await jose.importJWK({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, 'ECDH-ES')
  const header = { alg: encryptor.alg, enc: encryptor.enc }
  if (jwk.kid) header.kid = jwk.kid
  const jwe = new jose.CompactEncrypt(enc.encode(data)).setProtectedHeader(header)
  const params = {}
  if (encryptor.apu) params.apu = jose.base64url.decode(encryptor.apu)
  if (encryptor.apv) params.apv = jose.base64url.decode(encryptor.apv)
  if (Object.keys(params).length) jwe.setKeyManagementParameters(params)
  return { jwe: await jwe.encrypt(key), encryptionJwk: jwk }
}

/**
 * DecryptJweCallback for one ephemeral key: the JWE must name its `kid`, use ECDH-ES and an
 * `enc` from `encs`, and have no `zip`.
 */
export function decryptJweCallback({ privateKey, publicJwk, encs = ENCS }) {
  return async (jwe) => {
    try {
      const header = jose.decodeProtectedHeader(jwe)
      if (header.kid !== publicJwk.kid) throw new Error(`JWE kid ${header.kid} is not ${publicJwk.kid}`)
      if (header.zip) throw new Error('zip is not accepted')
      const { plaintext } = await jose.compactDecrypt(jwe, privateKey, {
        keyManagementAlgorithms: ['ECDH-ES'],
        contentEncryptionAlgorithms: encs,
      })
      return { decrypted: true, decryptionJwk: publicJwk, payload: dec.decode(plaintext) }
    } catch (error) {
      log(`decryptJwe failed: ${describe(error)}`)
      return { decrypted: false }
    }
  }
}

// ---------------------------------------------------------------------------------------
// SD-JWT helpers for @sd-jwt/core (hasher, salts, ES256 signer/verifier over raw signing input)
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

/** @sd-jwt Verifier: (signing input, signature) with a fixed key, ES256 only. */
export async function sdVerifyWith(key, data, signature) {
  try {
    await jose.compactVerify(`${data}.${signature}`, key, { algorithms: ['ES256'] })
    return true
  } catch (error) {
    log(`SD-JWT signature check failed: ${describe(error)}`)
    return false
  }
}

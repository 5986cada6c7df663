#!/usr/bin/env node
// The OpenWallet Foundation's @openid4vc/openid4vp as an OpenID4VP 1.0 VERIFIER.
//
//   node verifier.mjs --tls-cert TLS.pem --tls-key TLS.key --signer-cert LEAF.pem
//        --signer-key LEAF.key --issuer-jwk ISSUER.jwk [--client-id-prefix x509_hash|x509_san_dns]
//        [--response-mode direct_post.jwt|direct_post] [--request-uri-method get|post]
//        [--host 127.0.0.1] [--public-host HOST] [--port 0] [--timeout SECONDS]
//
// It listens on HTTPS, creates a signed authorization request with the library (DCQL query for
// a dc+sd-jwt `urn:eudi:pid:1` asking for age_equal_or_over/18, the request object signed with
// the leaf key and its x5c chain, served by reference), prints the authorization request URL
// as the first stdout line, serves the request_uri (GET, and POST with wallet_nonce) and the
// response_uri. The first response is parsed with the library (decryption, state, vp_token
// shape), each presentation verified with @sd-jwt/sd-jwt-vc (issuer signature, KB-JWT
// signature + nonce + sd_hash; aud, iat and typ checked here) and matched against the query
// with `dcql`. On success it prints one JSON line {"verified":true,"claims":{...},...} and
// exits 0; on failure it answers the wallet 400, prints the reason on stderr and exits 1.
// Nothing arriving within --timeout seconds exits 3; usage errors exit 2.

import { readFileSync } from 'node:fs'
import https from 'node:https'

import { calculateX509HashClientIdPrefixValue, Openid4vpVerifier, parseOpenid4vpAuthorizationResponse } from '@openid4vc/openid4vp'
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc'
import { DcqlPresentationResult, DcqlQuery } from 'dcql'
import * as jose from 'jose'

import {
  decryptJweCallback,
  describe,
  fail,
  hash,
  log,
  parseArgs,
  randomToken,
  readBody,
  readPemCertificates,
  required,
  sdHasher,
  sdVerifyWith,
  send,
  signJwtCallback,
  verifyJwtCallback,
  x509Metadata,
} from './common.mjs'

const STATIC_AUDIENCE = 'https://self-issued.me/v2'
const VCT = 'urn:eudi:pid:1'
const DCQL = {
  credentials: [
    {
      id: 'pid',
      format: 'dc+sd-jwt',
      meta: { vct_values: [VCT] },
      claims: [{ path: ['age_equal_or_over', '18'] }],
    },
  ],
}
/** Claims that describe the credential, not the holder (left out of the printed claims). */
const CREDENTIAL_CLAIMS = ['iss', 'iat', 'nbf', 'exp', 'cnf', 'vct', 'vct#integrity', 'status', '_sd_alg']
/** How old a KB-JWT may be (seconds), and how far in the future its iat may lie. */
const KB_MAX_AGE = 300
const KB_SKEW = 60

const { flags } = parseArgs(process.argv.slice(2))
const prefix = flags['client-id-prefix'] ?? 'x509_hash'
const responseMode = flags['response-mode'] ?? 'direct_post.jwt'
const requestUriMethod = flags['request-uri-method'] ?? 'get'
const host = flags.host ?? '127.0.0.1'
const timeout = Number(flags.timeout ?? 50)
if (!['x509_hash', 'x509_san_dns'].includes(prefix)) fail(2, `unsupported --client-id-prefix ${prefix}`)
if (!['direct_post.jwt', 'direct_post'].includes(responseMode)) fail(2, `unsupported --response-mode ${responseMode}`)
if (!['get', 'post'].includes(requestUriMethod)) fail(2, `unsupported --request-uri-method ${requestUriMethod}`)

const tlsCert = readFileSync(required(flags, 'tls-cert'), 'utf8')
const tlsKey = readFileSync(required(flags, 'tls-key'), 'utf8')
const signerChain = readPemCertificates(required(flags, 'signer-cert'))
const signerKey = await jose.importPKCS8(readFileSync(required(flags, 'signer-key'), 'utf8'), 'ES256', { extractable: true })
const issuerJwk = JSON.parse(readFileSync(required(flags, 'issuer-jwk'), 'utf8'))
const issuerKey = await jose.importJWK({ kty: issuerJwk.kty, crv: issuerJwk.crv, x: issuerJwk.x, y: issuerJwk.y }, 'ES256')

// The request signer: the leaf key, x5c = the given chain (leaf first, no anchor).
const x5c = signerChain.map((der) => der.toString('base64'))
const signerPublicJwk = await jose.exportJWK(signerKey).then(({ d, ...pub }) => pub)

// A fresh response encryption key for this request (HAIP §5), nonce and state.
const encKid = randomToken(16)
const { privateKey: encPrivateKey, publicKey: encPublicKey } = await jose.generateKeyPair('ECDH-ES', { crv: 'P-256', extractable: true })
const encPublicJwk = { ...(await jose.exportJWK(encPublicKey)), kid: encKid, use: 'enc', alg: 'ECDH-ES' }
const nonce = randomToken()
const state = randomToken()

const callbacks = {
  hash,
  signJwt: signJwtCallback(() => ({ privateKey: signerKey, publicJwk: signerPublicJwk })),
  verifyJwt: verifyJwtCallback(),
  decryptJwe: decryptJweCallback({ privateKey: encPrivateKey, publicJwk: encPublicJwk }),
  encryptJwe: async () => {
    throw new Error('the verifier encrypts nothing')
  },
  getX509CertificateMetadata: x509Metadata,
}
const verifier = new Openid4vpVerifier({ callbacks })

const server = https.createServer({ cert: tlsCert, key: tlsKey })
await new Promise((resolve, reject) => {
  server.once('error', reject)
  server.listen(Number(flags.port ?? 0), host, resolve)
})
const publicHost = flags['public-host'] ?? host
const base = `https://${publicHost}:${server.address().port}`
const requestUri = `${base}/request/${randomToken(16)}`
const responseUri = `${base}/response`

let clientId
if (prefix === 'x509_hash') {
  clientId = `x509_hash:${await calculateX509HashClientIdPrefixValue({ x509Certificate: x5c[0], hash })}`
} else {
  const { sanDnsNames } = x509Metadata(x5c[0])
  if (!sanDnsNames.includes(publicHost)) fail(2, `x509_san_dns: the leaf has no dNSName ${publicHost} (it has ${sanDnsNames})`)
  clientId = `x509_san_dns:${publicHost}`
}

const clientMetadata = {
  vp_formats_supported: { 'dc+sd-jwt': { 'sd-jwt_alg_values': ['ES256'], 'kb-jwt_alg_values': ['ES256'] } },
  ...(responseMode === 'direct_post.jwt'
    ? { jwks: { keys: [encPublicJwk] }, encrypted_response_enc_values_supported: ['A128GCM', 'A256GCM'] }
    : {}),
}

const authorizationRequestPayload = {
  response_type: 'vp_token',
  client_id: clientId,
  response_uri: responseUri,
  response_mode: responseMode,
  nonce,
  state,
  dcql_query: DCQL,
  client_metadata: clientMetadata,
}

/** The library's authorization request (JAR by reference), with `wallet_nonce` when given. */
async function createRequest(walletNonce) {
  return verifier.createOpenId4vpAuthorizationRequest({
    authorizationRequestPayload: walletNonce ? { ...authorizationRequestPayload, wallet_nonce: walletNonce } : authorizationRequestPayload,
    wallet: walletNonce ? { expectedNonce: walletNonce } : undefined,
    jar: {
      requestUri,
      jwtSigner: { method: 'x5c', x5c, alg: 'ES256' },
      expiresInSeconds: 300,
      // Workaround (README): the library defaults `aud` to the request_uri; §5.8 wants
      // https://self-issued.me/v2 for static discovery.
      additionalJwtPayload: { aud: STATIC_AUDIENCE },
    },
  })
}

const created = await createRequest()
let authorizationRequest = created.authorizationRequest
if (requestUriMethod === 'post') {
  // Workaround (README): the library cannot put request_uri_method into the outer request.
  const url = new URL(authorizationRequest)
  url.searchParams.set('request_uri_method', 'post')
  authorizationRequest = url.toString()
}

// ---------------------------------------------------------------------------------------
// Response verification
// ---------------------------------------------------------------------------------------

const sdjwt = new SDJwtVcInstance({
  hasher: sdHasher,
  verifier: (data, sig) => sdVerifyWith(issuerKey, data, sig),
  kbVerifier: async (data, sig, payload) => {
    const jwk = payload?.cnf?.jwk
    if (!jwk) return false
    return sdVerifyWith(await jose.importJWK(jwk, 'ES256'), data, sig)
  },
})

/** The frame of every claim path the query names (which disclosures may be presented). */
function frameOf(claims) {
  const frame = {}
  for (const { path } of claims ?? []) {
    let node = frame
    path.forEach((step, i) => {
      if (step === null || typeof step === 'number') throw new Error('array paths are not used in this test')
      node = node[step] = i === path.length - 1 ? true : typeof node[step] === 'object' ? node[step] : {}
    })
  }
  return frame
}

/** Verifies one presentation of `query`; returns the verified payload and KB-JWT. */
async function verifyPresentation(query, presentation) {
  if (typeof presentation !== 'string') throw new Error('a dc+sd-jwt presentation must be a string (B.3.6)')
  const { payload, header, kb } = await sdjwt.verify(presentation, { keyBindingNonce: nonce })
  if (header?.typ !== 'dc+sd-jwt') throw new Error(`issuer JWT typ ${header?.typ}`)
  if (!kb) throw new Error('no KB-JWT')
  if (kb.payload.aud !== clientId) throw new Error(`KB-JWT aud ${JSON.stringify(kb.payload.aud)} is not ${clientId}`)
  const now = Math.floor(Date.now() / 1000)
  if (!(kb.payload.iat <= now + KB_SKEW && kb.payload.iat >= now - KB_MAX_AGE)) throw new Error(`KB-JWT iat ${kb.payload.iat} is not fresh`)
  if (!query.meta.vct_values.includes(payload.vct)) throw new Error(`vct ${payload.vct} was not asked for`)
  // Over-disclosure: every presented disclosure must be needed for a requested claim.
  const decoded = await sdjwt.decode(presentation)
  const needed = await decoded.getPresentDisclosures(frameOf(query.claims), sdHasher)
  const neededDigests = new Set(await Promise.all(needed.map((d) => d.digest({ hasher: sdHasher, alg: 'sha-256' }))))
  for (const d of decoded.disclosures ?? []) {
    const digest = await d.digest({ hasher: sdHasher, alg: 'sha-256' })
    if (!neededDigests.has(digest)) throw new Error(`disclosure ${d.key ?? '(array element)'} was not asked for`)
  }
  return { payload, kb }
}

async function handleResponse(body, contentType) {
  if (!contentType?.toLowerCase().startsWith('application/x-www-form-urlencoded')) throw new Error(`content type ${contentType}`)
  const form = Object.fromEntries(new URLSearchParams(body))
  if (responseMode === 'direct_post.jwt' && (Object.keys(form).length !== 1 || !form.response)) {
    throw new Error(`direct_post.jwt carries only "response" (§8.3.1), got ${Object.keys(form)}`)
  }
  // Workaround (README): Openid4vpVerifier.parseOpenid4vpAuthorizationResponse does not pass
  // the verifier's callbacks on, so the standalone function is called with them.
  const parsed = await parseOpenid4vpAuthorizationResponse({
    authorizationResponse: form,
    authorizationRequestPayload,
    callbacks,
  })
  if (parsed.type !== 'dcql') throw new Error(`expected a DCQL response, got ${parsed.type}`)
  // The library accepts a bare string per query; §8.1 wants arrays: check the raw shape.
  const rawVpToken = parsed.authorizationResponsePayload.vp_token
  const vpToken = typeof rawVpToken === 'string' ? JSON.parse(rawVpToken) : rawVpToken
  for (const [id, list] of Object.entries(vpToken)) {
    if (!Array.isArray(list) || list.length === 0) throw new Error(`vp_token.${id} must be a non-empty array (§8.1)`)
  }
  if (parsed.authorizationResponsePayload.state !== state) throw new Error('state mismatch')
  if (parsed.jarm && parsed.jarm.type !== 'Encrypted') throw new Error(`unexpected JARM mode ${parsed.jarm.type}`)
  if (responseMode === 'direct_post.jwt' && !parsed.jarm) throw new Error('the response was not encrypted')

  const query = DcqlQuery.parse(parsed.dcql.query)
  DcqlQuery.validate(query)
  const verified = {}
  const dcqlPresentations = {}
  for (const [id, list] of Object.entries(parsed.dcql.presentations)) {
    const cq = query.credentials.find((c) => c.id === id)
    if (!cq) throw new Error(`vp_token.${id} answers no query`)
    if (list.length > 1 && !cq.multiple) throw new Error(`vp_token.${id} allows one presentation`)
    verified[id] = []
    dcqlPresentations[id] = []
    for (const p of list) {
      const v = await verifyPresentation(cq, p)
      verified[id].push(v)
      dcqlPresentations[id].push({ credential_format: 'dc+sd-jwt', vct: v.payload.vct, claims: v.payload, cryptographic_holder_binding: true })
    }
  }
  const result = DcqlPresentationResult.fromDcqlPresentation(dcqlPresentations, { dcqlQuery: query })
  if (!result.can_be_satisfied) throw new Error(`the presentations do not satisfy the DCQL query: ${JSON.stringify(result)}`)
  DcqlPresentationResult.validate(result)

  const { payload, kb } = verified.pid[0]
  const claims = Object.fromEntries(Object.entries(payload).filter(([k]) => !CREDENTIAL_CLAIMS.includes(k)))
  return {
    verified: true,
    client_id: clientId,
    response_mode: responseMode,
    encrypted: Boolean(parsed.jarm),
    jwe_enc: form.response ? jose.decodeProtectedHeader(form.response).enc : undefined,
    query_id: 'pid',
    vct: payload.vct,
    iss: payload.iss,
    kb_aud: kb.payload.aud,
    request_fetches: fetches,
    claims,
  }
}

// ---------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------

let done = false
/** How the request object was fetched: [{method, wallet_nonce, wallet_metadata}]. */
const fetches = []
const timer = setTimeout(() => fail(3, `no response within ${timeout} s`), timeout * 1000)

function finish(code, line) {
  done = true
  clearTimeout(timer)
  if (line) process.stdout.write(`${JSON.stringify(line)}\n`)
  // Let the reply reach the wallet before exiting.
  server.close()
  setTimeout(() => process.exit(code), 200)
}

server.on('request', async (req, res) => {
  const path = new URL(req.url, base).pathname
  log(`${req.method} ${path}`)
  try {
    if (path === new URL(requestUri).pathname && (req.method === 'GET' || req.method === 'POST')) {
      let jwt = created.jar.authorizationRequestJwt
      const fetch = { method: req.method, wallet_nonce: false, wallet_metadata: false }
      fetches.push(fetch)
      if (req.method === 'POST') {
        const form = new URLSearchParams(await readBody(req))
        const walletNonce = form.get('wallet_nonce')
        const walletMetadata = form.get('wallet_metadata')
        if (walletMetadata) log(`wallet_metadata ${walletMetadata}`)
        if (walletMetadata) JSON.parse(walletMetadata) // §5.10: a JSON object in a string
        fetch.wallet_nonce = Boolean(walletNonce)
        fetch.wallet_metadata = Boolean(walletMetadata)
        if (walletNonce) jwt = (await createRequest(walletNonce)).jar.authorizationRequestJwt
      }
      return send(res, 200, 'application/oauth-authz-req+jwt', jwt)
    }
    if (path === '/response' && req.method === 'POST') {
      const body = await readBody(req)
      if (done) return send(res, 400, 'application/json', JSON.stringify({ error: 'invalid_request' }))
      try {
        const line = await handleResponse(body, req.headers['content-type'])
        send(res, 200, 'application/json', JSON.stringify({ redirect_uri: `${base}/done?response_code=${randomToken()}` }))
        return finish(0, line)
      } catch (error) {
        send(res, 400, 'application/json', JSON.stringify({ error: 'invalid_request' }))
        process.stderr.write(`response rejected: ${describe(error)}\n`)
        return finish(1)
      }
    }
    send(res, 404, 'application/json', JSON.stringify({ error: 'not_found' }))
  } catch (error) {
    process.stderr.write(`${req.method} ${path}: ${describe(error)}\n`)
    if (!res.headersSent) send(res, 500, 'application/json', JSON.stringify({ error: 'server_error' }))
  }
})

process.stdout.write(`${authorizationRequest}\n`)

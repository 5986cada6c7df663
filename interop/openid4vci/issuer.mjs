#!/usr/bin/env node
// The OpenWallet Foundation's @openid4vc/openid4vci (+ @openid4vc/oauth2) as an OpenID4VCI 1.0
// CREDENTIAL ISSUER and AUTHORIZATION SERVER (same origin), over HTTPS on 127.0.0.1.
//
//   node issuer.mjs --cert CERT.pem --key KEY.pem --port PORT --issuer-key ISSUER_PRIVATE.jwk
//        [--tx-code CODE] [--batch-size N] [--authorization-code] [--resource-dpop-nonce]
//        [--offer-by-reference]
//
// Credential Issuer Identifier (= AS issuer): https://127.0.0.1:PORT (PORT 0 picks a free port).
// Prints one JSON line {"listening": ID, "offer": "openid-credential-offer://?credential_offer=..."}
// on stdout, then logs each request (method, path, status, error code; never tokens) on
// stderr, and runs until killed.
//
// Library APIs used: Openid4vciIssuer (createCredentialIssuerMetadata, createCredentialOffer,
// createNonceResponse, parseCredentialRequest, verifyCredentialRequestJwtProof,
// createCredentialResponse), Oauth2AuthorizationServer (createAuthorizationServerMetadata,
// parseAccessTokenRequest, verifyPreAuthorizedCodeAccessTokenRequest,
// verifyAuthorizationCodeAccessTokenRequest, createAccessTokenResponse,
// parsePushedAuthorizationRequest, verifyPushedAuthorizationRequest,
// createPushedAuthorizationResponse), Oauth2ResourceServer (verifyResourceRequest: JWT access
// token + DPoP binding) and parsePushedAuthorizationRequestUriReferenceValue. Checks the
// library leaves out (DPoP nonce/iat/jti, proof iat/aud/iss rules, PKCE method, one-time
// codes, ...) are added here and listed in README.md. Credentials: @sd-jwt/sd-jwt-vc.

import { readFileSync } from 'node:fs'
import https from 'node:https'

import {
  Oauth2AuthorizationServer,
  Oauth2ResourceServer,
  Oauth2ResourceUnauthorizedError,
  Oauth2ServerErrorResponseError,
  parsePushedAuthorizationRequestUriReferenceValue,
  pushedAuthorizationRequestUriPrefix,
} from '@openid4vc/oauth2'
import { Openid4vciIssuer, Openid4vciVersion } from '@openid4vc/openid4vci'
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc'
import * as jose from 'jose'

import {
  describe,
  fail,
  generateEs256,
  generateRandom,
  hash,
  intFlag,
  nowSeconds,
  parseArgs,
  randomToken,
  readBody,
  requestLike,
  saltGenerator,
  sdHasher,
  sdSigner,
  send,
  sendJson,
  signJwtCallback,
  thumbprint,
  verifyJwtCallback,
} from './common.mjs'

const PRE_AUTH_GRANT = 'urn:ietf:params:oauth:grant-type:pre-authorized_code'
const CONFIG_ID = 'pid'
const VCT = 'urn:eudi:pid:1'
const OFFER_TTL = 600 // pre-authorized code and issuer_state lifetime (s)
const NONCE_TTL = 300 // c_nonce and DPoP nonce lifetime (s)
const TOKEN_TTL = 300 // access token lifetime (s)
const MAX_TX_CODE_ATTEMPTS = 3
const IAT_FUTURE = 60 // accepted clock skew for DPoP / key proof iat (s)
const IAT_PAST = 300 // maximum age of a DPoP / key proof (s)

// ---------------------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------------------

const { flags } = parseArgs(process.argv.slice(2), { booleans: ['authorization-code', 'resource-dpop-nonce', 'offer-by-reference'] })
const tlsCert = readFileSync(required('cert'))
const tlsKey = readFileSync(required('key'))
const port = intFlag(flags, 'port', undefined)
if (port === undefined) fail(2, '--port is required')
const issuerJwk = JSON.parse(readFileSync(required('issuer-key'), 'utf8'))
if (issuerJwk.kty !== 'EC' || issuerJwk.crv !== 'P-256' || !issuerJwk.d) fail(2, '--issuer-key must be a private P-256 JWK')
const issuerKey = await jose.importJWK(issuerJwk, 'ES256')
const txCode = flags['tx-code']
const batchSize = intFlag(flags, 'batch-size', 1)
const authorizationCodeFlow = Boolean(flags['authorization-code'])
const resourceDpopNonce = Boolean(flags['resource-dpop-nonce'])
const offerByReference = Boolean(flags['offer-by-reference'])

function required(name) {
  if (flags[name] === undefined) fail(2, `--${name} is required`)
  return flags[name]
}

// ---------------------------------------------------------------------------------------
// State (in memory; everything single-use or short-lived)
// ---------------------------------------------------------------------------------------

/** A map whose entries expire. */
class Expiring extends Map {
  put(key, value, ttlSeconds) {
    return this.set(key, { value, expiresAt: Date.now() + ttlSeconds * 1000 })
  }
  /** The live value, or undefined (expired entries are dropped). */
  live(key) {
    const e = super.get(key)
    if (!e) return undefined
    if (Date.now() > e.expiresAt) {
      this.delete(key)
      return undefined
    }
    return e.value
  }
  expiresAt(key) {
    const e = super.get(key)
    return e ? new Date(e.expiresAt) : undefined
  }
}

const preAuthorizedCodes = new Expiring() // code -> { txAttempts }
const issuerStates = new Expiring() // issuer_state -> {}
const pushedRequests = new Expiring() // request_uri reference -> { authorizationRequest, dpopJkt, authorizationDetails }
const authorizationCodes = new Expiring() // code -> { clientId, redirectUri, codeChallenge, codeChallengeMethod, dpopJkt, scope, authorizationDetails }
const asDpopNonces = new Expiring() // DPoP nonces issued by the token endpoint
const rsDpopNonces = new Expiring() // DPoP nonces issued by the credential issuer (--resource-dpop-nonce)
const cNonces = new Expiring() // c_nonce values from the nonce endpoint
const seenJtis = new Expiring() // `${htu} ${jti}` of accepted DPoP proofs (replay window)
const sessions = new Map() // access token `sub` -> { anonymous, clientId, configurationIds, credentialIdentifiers: Map id -> configuration id }
const notifications = new Map() // notification_id -> { sub, events: [] }

// ---------------------------------------------------------------------------------------
// Library objects and metadata (built once the port is known)
// ---------------------------------------------------------------------------------------

const accessTokenKey = await generateEs256('at-1')

let ORIGIN // the Credential Issuer Identifier and AS issuer
let asMetadata
let credentialIssuerMetadata
let issuerMetadataResult // the library's IssuerMetadataResult shape, for parse/verify calls
let offerUri
let offerObject // served at /offer/<id> with --offer-by-reference
let offerPath

const callbacks = {
  hash,
  generateRandom,
  signJwt: signJwtCallback(async (signer) => {
    if (signer.method === 'jwk' && signer.publicJwk?.kid === accessTokenKey.publicJwk.kid) return accessTokenKey
    throw new Error('no key for this signer')
  }),
  verifyJwt: verifyJwtCallback(),
  clientAuthentication: () => {},
  // The resource server fetches the AS jwks_uri; that is this process, so answer in memory.
  fetch: async (input) => {
    const url = typeof input === 'string' ? input : input.url
    if (url === asMetadata.jwks_uri) {
      return new Response(JSON.stringify({ keys: [accessTokenKey.publicJwk] }), { status: 200, headers: { 'content-type': 'application/jwk-set+json' } })
    }
    throw new Error(`unexpected outgoing fetch ${url}`)
  },
}
const issuer = new Openid4vciIssuer({ callbacks })
const authorizationServer = new Oauth2AuthorizationServer({ callbacks })
const resourceServer = new Oauth2ResourceServer({ callbacks })
const sdjwt = new SDJwtVcInstance({ signer: sdSigner(issuerKey), signAlg: 'ES256', hasher: sdHasher, hashAlg: 'sha-256', saltGenerator })

async function setUp(origin) {
  ORIGIN = origin
  credentialIssuerMetadata = issuer.createCredentialIssuerMetadata({
    credential_issuer: ORIGIN,
    credential_endpoint: `${ORIGIN}/credential`,
    nonce_endpoint: `${ORIGIN}/nonce`,
    notification_endpoint: `${ORIGIN}/notification`,
    ...(batchSize >= 2 ? { batch_credential_issuance: { batch_size: batchSize } } : {}),
    display: [{ name: 'oid4vc-ts interop issuer', locale: 'en' }],
    credential_configurations_supported: {
      [CONFIG_ID]: {
        format: 'dc+sd-jwt',
        vct: VCT,
        scope: 'pid',
        cryptographic_binding_methods_supported: ['jwk'],
        credential_signing_alg_values_supported: ['ES256'],
        proof_types_supported: { jwt: { proof_signing_alg_values_supported: ['ES256'] } },
        credential_metadata: {
          display: [{ name: 'PID', locale: 'en' }],
          claims: [
            { path: ['given_name'], display: [{ name: 'Given name', locale: 'en' }] },
            { path: ['family_name'], display: [{ name: 'Family name', locale: 'en' }] },
            { path: ['birthdate'], display: [{ name: 'Date of birth', locale: 'en' }] },
            { path: ['age_equal_or_over', '18'], display: [{ name: 'Adult', locale: 'en' }] },
          ],
        },
      },
    },
  })
  asMetadata = authorizationServer.createAuthorizationServerMetadata({
    issuer: ORIGIN,
    token_endpoint: `${ORIGIN}/token`,
    jwks_uri: `${ORIGIN}/jwks`,
    grant_types_supported: authorizationCodeFlow ? ['authorization_code', PRE_AUTH_GRANT] : [PRE_AUTH_GRANT],
    token_endpoint_auth_methods_supported: ['none'],
    'pre-authorized_grant_anonymous_access_supported': true,
    dpop_signing_alg_values_supported: ['ES256'],
    ...(authorizationCodeFlow
      ? {
          authorization_endpoint: `${ORIGIN}/authorize`,
          pushed_authorization_request_endpoint: `${ORIGIN}/par`,
          require_pushed_authorization_requests: true,
          response_types_supported: ['code'],
          code_challenge_methods_supported: ['S256'],
          authorization_response_iss_parameter_supported: true,
          scopes_supported: ['pid'],
        }
      : {}),
  })
  issuerMetadataResult = {
    originalDraftVersion: Openid4vciVersion.V1,
    credentialIssuer: credentialIssuerMetadata,
    authorizationServers: [asMetadata],
    knownCredentialConfigurations: issuer.getKnownCredentialConfigurationsSupported(credentialIssuerMetadata),
  }

  const grants = {}
  if (authorizationCodeFlow) {
    const issuerState = randomToken()
    issuerStates.put(issuerState, {}, OFFER_TTL)
    grants.authorization_code = { issuer_state: issuerState }
  } else {
    const code = randomToken()
    preAuthorizedCodes.put(code, { txAttempts: 0 }, OFFER_TTL)
    grants[PRE_AUTH_GRANT] = {
      'pre-authorized_code': code,
      ...(txCode !== undefined
        ? { tx_code: { input_mode: /^[0-9]+$/.test(txCode) ? 'numeric' : 'text', length: txCode.length, description: 'The transaction code printed by the test' } }
        : {}),
    }
  }
  if (offerByReference) offerPath = `/offer/${randomToken(16)}`
  const { credentialOffer, credentialOfferObject } = await issuer.createCredentialOffer({
    issuerMetadata: issuerMetadataResult,
    credentialConfigurationIds: [CONFIG_ID],
    grants,
    credentialOfferUri: offerByReference ? `${ORIGIN}${offerPath}` : undefined,
  })
  offerUri = credentialOffer
  offerObject = credentialOfferObject
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/** An error the handler turns into an HTTP response. */
class HttpError extends Error {
  constructor(status, body, headers = {}) {
    super(body?.error ?? `HTTP ${status}`)
    this.status = status
    this.body = body
    this.headers = headers
  }
}

// VCI §8.3.1.2 / RFC 6749 §5.2: error_description is restricted to %x20-21 / %x23-5B / %x5D-7E.
const asciiDescription = (s) => String(s ?? '').replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]+/g, ' ').trim().slice(0, 500)

const oauthError = (error, description, status = 400, headers = {}) =>
  new HttpError(status, { error, ...(description ? { error_description: asciiDescription(description) } : {}) }, headers)

/** Runs a library call and keeps its error response (it throws Oauth2ServerErrorResponseError). */
async function lib(fn) {
  try {
    return await fn()
  } catch (error) {
    if (error instanceof Oauth2ServerErrorResponseError) {
      const body = { ...error.errorResponse }
      if (body.error_description) body.error_description = asciiDescription(body.error_description)
      throw new HttpError(error.status ?? 400, body)
    }
    throw error
  }
}

// ---------------------------------------------------------------------------------------
// DPoP checks the library does not make (RFC 9449 §4.3 steps 9-11, §8, §11.1)
// ---------------------------------------------------------------------------------------

/** Decodes a DPoP proof's payload without verifying it (for the nonce check before verification). */
function dpopPayload(jwt, asResource) {
  try {
    return jose.decodeJwt(jwt)
  } catch {
    throw asResource ? resourceError('invalid_dpop_proof', 'malformed DPoP proof') : oauthError('invalid_dpop_proof', 'malformed DPoP proof')
  }
}

/** `use_dpop_nonce` unless the proof carries a nonce from `store` (RFC 9449 §8, §9). */
function requireDpopNonce(payload, store, asResource) {
  if (typeof payload.nonce === 'string' && store.live(payload.nonce)) return
  const nonce = randomToken()
  store.put(nonce, {}, NONCE_TTL)
  if (asResource) {
    throw new HttpError(401, { error: 'use_dpop_nonce', error_description: 'Resource server requires nonce in DPoP proof' }, {
      'www-authenticate': 'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof", algs="ES256"',
      'dpop-nonce': nonce,
    })
  }
  throw new HttpError(400, { error: 'use_dpop_nonce', error_description: 'Authorization server requires nonce in DPoP proof' }, { 'dpop-nonce': nonce })
}

/** iat window and jti replay, after the library verified the proof. */
function checkDpopFreshness(payload, asResource) {
  const bad = (d) => (asResource ? resourceError('invalid_dpop_proof', d) : oauthError('invalid_dpop_proof', d))
  const now = nowSeconds()
  if (typeof payload.iat !== 'number' || payload.iat > now + IAT_FUTURE || payload.iat < now - IAT_PAST) throw bad('DPoP proof iat is outside the accepted window')
  if (typeof payload.jti !== 'string' || payload.jti.length < 8 || payload.jti.length > 256) throw bad('DPoP proof jti is missing or of a bad length')
  const key = `${payload.htu} ${payload.jti}`
  if (seenJtis.live(key)) throw bad('DPoP proof jti was already used')
  seenJtis.put(key, {}, IAT_PAST + IAT_FUTURE)
}

function resourceError(error, description, status = 401) {
  const d = asciiDescription(description)
  return new HttpError(status, { error, error_description: d }, { 'www-authenticate': `DPoP error="${error}", error_description="${d}", algs="ES256"` })
}

// ---------------------------------------------------------------------------------------
// Authorization server: token, PAR, authorization endpoints
// ---------------------------------------------------------------------------------------

/** application/x-www-form-urlencoded body -> object; repeated parameters are refused (RFC 6749 §3.1). */
function formBody(req, body) {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase()
  if (type !== 'application/x-www-form-urlencoded') throw oauthError('invalid_request', 'expected application/x-www-form-urlencoded')
  const out = {}
  for (const [k, v] of new URLSearchParams(body)) {
    if (k in out) throw oauthError('invalid_request', `parameter ${k} is repeated`)
    out[k] = v
  }
  return out
}

/** `authorization_details` (JSON text) -> validated openid_credential entries, or undefined. */
function parseAuthorizationDetails(text) {
  if (text === undefined) return undefined
  let details
  try {
    details = JSON.parse(text)
  } catch {
    throw oauthError('invalid_authorization_details', 'authorization_details is not JSON')
  }
  if (!Array.isArray(details) || details.length === 0) throw oauthError('invalid_authorization_details', 'authorization_details must be a non-empty array')
  const credentialDetails = details.filter((d) => d?.type === 'openid_credential')
  for (const d of credentialDetails) {
    if (typeof d.credential_configuration_id !== 'string') throw oauthError('invalid_authorization_details', 'credential_configuration_id is required')
    if (!(d.credential_configuration_id in credentialIssuerMetadata.credential_configurations_supported)) throw oauthError('invalid_authorization_details', `unknown credential_configuration_id ${d.credential_configuration_id}`)
    if (d.locations !== undefined && !(Array.isArray(d.locations) && d.locations.includes(ORIGIN))) throw oauthError('invalid_authorization_details', 'locations does not name this credential issuer')
  }
  return credentialDetails.length ? credentialDetails : undefined
}

async function tokenEndpoint(req, body) {
  const request = requestLike(req, ORIGIN)
  const params = formBody(req, body)
  const parsed = await lib(() => authorizationServer.parseAccessTokenRequest({ accessTokenRequest: params, request }))
  if (!parsed.dpop?.jwt) throw oauthError('invalid_dpop_proof', 'a DPoP proof is required')
  const dpop = dpopPayload(parsed.dpop.jwt, false)
  requireDpopNonce(dpop, asDpopNonces, false)
  if (params.resource !== undefined && params.resource !== ORIGIN) throw oauthError('invalid_target', 'resource is not this credential issuer')

  const dpopOptions = { jwt: parsed.dpop.jwt, required: true, allowedSigningAlgs: ['ES256'] }
  let session
  let dpopResult
  let authorizationDetails
  if (parsed.grant.grantType === PRE_AUTH_GRANT) {
    const code = parsed.grant.preAuthorizedCode
    const state = preAuthorizedCodes.live(code)
    if (state && state.txAttempts >= MAX_TX_CODE_ATTEMPTS) {
      preAuthorizedCodes.delete(code)
      throw oauthError('invalid_grant', 'too many wrong tx_code attempts; the code is revoked')
    }
    try {
      const verified = await lib(() =>
        authorizationServer.verifyPreAuthorizedCodeAccessTokenRequest({
          grant: parsed.grant,
          accessTokenRequest: parsed.accessTokenRequest,
          request,
          dpop: dpopOptions,
          authorizationServerMetadata: asMetadata,
          // An unknown code is compared against a value it can never equal, so the library answers invalid_grant.
          expectedPreAuthorizedCode: state ? code : `unknown:${randomToken()}`,
          expectedTxCode: txCode,
          preAuthorizedCodeExpiresAt: preAuthorizedCodes.expiresAt(code),
        }),
      )
      dpopResult = verified.dpop
    } catch (error) {
      if (state && error instanceof HttpError && error.body?.error === 'invalid_grant') state.txAttempts++
      throw error
    }
    preAuthorizedCodes.delete(code) // single use
    authorizationDetails = parseAuthorizationDetails(params.authorization_details)
    session = { anonymous: params.client_id === undefined, clientId: params.client_id, configurationIds: [CONFIG_ID] }
  } else if (parsed.grant.grantType === 'authorization_code' && authorizationCodeFlow) {
    const code = parsed.grant.code
    const entry = authorizationCodes.live(code)
    const verified = await lib(() =>
      authorizationServer.verifyAuthorizationCodeAccessTokenRequest({
        grant: parsed.grant,
        accessTokenRequest: parsed.accessTokenRequest,
        request,
        authorizationServerMetadata: asMetadata,
        expectedCode: entry ? code : `unknown:${randomToken()}`,
        codeExpiresAt: authorizationCodes.expiresAt(code),
        pkce: entry ? { codeVerifier: parsed.pkceCodeVerifier, codeChallenge: entry.codeChallenge, codeChallengeMethod: entry.codeChallengeMethod } : undefined,
        dpop: { ...dpopOptions, expectedJwkThumbprint: entry?.dpopJkt },
      }),
    )
    if (!parsed.pkceCodeVerifier) throw oauthError('invalid_grant', 'code_verifier is required')
    if (!/^[A-Za-z0-9._~-]{43,128}$/.test(parsed.pkceCodeVerifier)) throw oauthError('invalid_grant', 'code_verifier is malformed (RFC 7636 4.1)')
    if (params.redirect_uri !== entry.redirectUri) throw oauthError('invalid_grant', 'redirect_uri does not match the authorization request')
    if (params.client_id !== entry.clientId) throw oauthError('invalid_grant', 'client_id does not match the authorization request')
    authorizationCodes.delete(code) // single use
    dpopResult = verified.dpop
    authorizationDetails = parseAuthorizationDetails(params.authorization_details) ?? entry.authorizationDetails
    session = { anonymous: false, clientId: entry.clientId, configurationIds: entry.configurationIds }
  } else {
    throw oauthError('unsupported_grant_type', `grant_type ${params.grant_type} is not supported`)
  }
  checkDpopFreshness(dpop, false)

  // VCI §6.2: authorization_details in the request => credential_identifiers in the response.
  session.credentialIdentifiers = new Map()
  let responseDetails
  if (authorizationDetails) {
    responseDetails = authorizationDetails.map((d) => {
      const id = `${d.credential_configuration_id}-${randomToken(9)}`
      session.credentialIdentifiers.set(id, d.credential_configuration_id)
      return { ...d, credential_identifiers: [id] }
    })
    session.configurationIds = authorizationDetails.map((d) => d.credential_configuration_id)
  }
  const sub = randomToken(16)
  sessions.set(sub, session)
  const response = await authorizationServer.createAccessTokenResponse({
    authorizationServer: ORIGIN,
    audience: ORIGIN,
    expiresInSeconds: TOKEN_TTL,
    subject: sub,
    clientId: session.clientId,
    signer: { method: 'jwk', alg: 'ES256', publicJwk: accessTokenKey.publicJwk },
    dpop: { jwk: dpopResult.jwk },
    additionalAccessTokenResponsePayload: responseDetails ? { authorization_details: responseDetails } : undefined,
  })
  if (response.token_type !== 'DPoP') throw new Error(`library produced token_type ${response.token_type}`)
  return { status: 200, json: response }
}

async function parEndpoint(req, body) {
  const request = requestLike(req, ORIGIN)
  const params = formBody(req, body)
  // RFC 9126 §2.1: request_uri MUST be refused in a PAR; this AS takes no JAR either.
  if ('request_uri' in params) throw oauthError('invalid_request', 'request_uri is not allowed in a pushed authorization request')
  if ('request' in params) throw oauthError('invalid_request', 'request objects are not supported here')
  const parsed = await lib(() => authorizationServer.parsePushedAuthorizationRequest({ authorizationRequest: params, request }))
  const ar = parsed.authorizationRequest
  if (ar.response_type !== 'code') throw oauthError('unsupported_response_type', 'only response_type=code')
  if (!ar.redirect_uri) throw oauthError('invalid_request', 'redirect_uri is required')
  // RFC 7636 + HAIP: PKCE required, S256 only (a missing method means plain, §4.3).
  if (!ar.code_challenge) throw oauthError('invalid_request', 'code_challenge is required (PKCE)')
  if (ar.code_challenge_method !== 'S256') throw oauthError('invalid_request', 'code_challenge_method must be S256')
  if (!/^[A-Za-z0-9_-]{43}$/.test(ar.code_challenge)) throw oauthError('invalid_request', 'code_challenge is not a base64url SHA-256 value')
  if (!ar.issuer_state || !issuerStates.live(ar.issuer_state)) throw oauthError('invalid_request', 'issuer_state is missing, unknown or expired')
  if (ar.resource !== undefined && ar.resource !== ORIGIN) throw oauthError('invalid_target', 'resource is not this credential issuer')
  const authorizationDetails = parseAuthorizationDetails(params.authorization_details)
  const scopes = (ar.scope ?? '').split(' ').filter(Boolean)
  const configurationIds = authorizationDetails?.map((d) => d.credential_configuration_id) ?? (scopes.includes('pid') ? [CONFIG_ID] : [])
  if (configurationIds.length === 0) throw oauthError('invalid_scope', 'request scope pid or openid_credential authorization_details')

  let dpopJkt
  if (parsed.dpop) {
    const verified = await lib(() =>
      authorizationServer.verifyPushedAuthorizationRequest({
        authorizationRequest: ar,
        request,
        dpop: { ...parsed.dpop, allowedSigningAlgs: ['ES256'] },
        authorizationServerMetadata: asMetadata,
      }),
    )
    dpopJkt = verified.dpop?.jwkThumbprint
    if (parsed.dpop.jwt) checkDpopFreshness(dpopPayload(parsed.dpop.jwt, false), false)
  }
  const reference = randomToken()
  pushedRequests.put(reference, { authorizationRequest: ar, dpopJkt, authorizationDetails, configurationIds }, 60)
  const { pushedAuthorizationResponse } = authorizationServer.createPushedAuthorizationResponse({
    requestUri: `${pushedAuthorizationRequestUriPrefix}${reference}`,
    expiresInSeconds: 60,
  })
  return { status: 201, json: pushedAuthorizationResponse }
}

/** GET /authorize?client_id&request_uri: no user, authorises by issuer_state alone, 302 to redirect_uri. */
async function authorizeEndpoint(url) {
  const q = url.searchParams
  const requestUri = q.get('request_uri')
  if (!requestUri) throw oauthError('invalid_request', 'this authorization server requires pushed authorization requests')
  const reference = await lib(() => parsePushedAuthorizationRequestUriReferenceValue({ uri: requestUri }))
  const entry = pushedRequests.live(reference)
  pushedRequests.delete(reference) // one-time use (RFC 9126 §4)
  if (!entry) throw oauthError('invalid_request', 'request_uri is unknown, used or expired')
  const ar = entry.authorizationRequest
  if (q.get('client_id') !== ar.client_id) throw oauthError('invalid_request', 'client_id does not match the pushed request')

  const redirect = new URL(ar.redirect_uri)
  if (ar.state !== undefined) redirect.searchParams.set('state', ar.state)
  redirect.searchParams.set('iss', ORIGIN) // RFC 9207, also on errors
  if (!issuerStates.live(ar.issuer_state)) {
    redirect.searchParams.set('error', 'access_denied')
    return { status: 302, location: redirect.toString() }
  }
  issuerStates.delete(ar.issuer_state) // single use
  const code = randomToken()
  authorizationCodes.put(
    code,
    {
      clientId: ar.client_id,
      redirectUri: ar.redirect_uri,
      codeChallenge: ar.code_challenge,
      codeChallengeMethod: ar.code_challenge_method,
      dpopJkt: entry.dpopJkt,
      authorizationDetails: entry.authorizationDetails,
      configurationIds: entry.configurationIds,
    },
    60,
  )
  redirect.searchParams.set('code', code)
  return { status: 302, location: redirect.toString() }
}

// ---------------------------------------------------------------------------------------
// Credential issuer: nonce, credential, notification endpoints
// ---------------------------------------------------------------------------------------

/** The access token check at the credential issuer (DPoP only; RFC 9449 §7). */
async function authenticate(req) {
  const request = requestLike(req, ORIGIN)
  const proof = request.headers.get('dpop')
  if (resourceDpopNonce && proof) requireDpopNonce(dpopPayload(proof, true), rsDpopNonces, true)
  let verified
  try {
    verified = await resourceServer.verifyResourceRequest({
      request,
      resourceServer: ORIGIN,
      authorizationServers: [asMetadata],
      allowedAuthenticationSchemes: ['DPoP'],
    })
  } catch (error) {
    if (error instanceof Oauth2ResourceUnauthorizedError) {
      // The library's toHeaderValue() renders absent values as bare names
      // (`DPoP error, error_description, scope`), so the challenge is written here.
      const first = error.wwwAuthenticateHeaders[0] ?? {}
      throw resourceError(first.error ?? 'invalid_token', first.error_description ?? 'a DPoP-bound access token is required')
    }
    throw error
  }
  if (!verified.dpop) throw resourceError('invalid_token', 'the access token is not DPoP-bound')
  checkDpopFreshness(dpopPayload(proof, true), true)
  const session = sessions.get(verified.tokenPayload.sub)
  if (!session) throw resourceError('invalid_token', 'unknown access token')
  return { session, sub: verified.tokenPayload.sub }
}

function nonceEndpoint() {
  const cNonce = randomToken()
  cNonces.put(cNonce, {}, NONCE_TTL)
  const headers = {}
  if (resourceDpopNonce) {
    const dpopNonce = randomToken()
    rsDpopNonces.put(dpopNonce, {}, NONCE_TTL)
    headers['dpop-nonce'] = dpopNonce
  }
  return { status: 200, json: issuer.createNonceResponse({ cNonce }), headers }
}

const credentialError = (error, description) => oauthError(error, description, 400)

function jsonBody(req, body, errorCode) {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase()
  if (type !== 'application/json') throw credentialError(errorCode, 'expected application/json')
  try {
    const value = JSON.parse(body)
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object')
    return value
  } catch {
    throw credentialError(errorCode, 'the body is not a JSON object')
  }
}

async function credentialEndpoint(req, body) {
  const { session, sub } = await authenticate(req)
  const json = jsonBody(req, body, 'invalid_credential_request')

  // Checks ahead of the library, which still accepts pre-1.0 shapes (README).
  if ('proof' in json) throw credentialError('invalid_credential_request', 'the singular proof parameter is pre-1.0; use proofs')
  if ('format' in json) throw credentialError('invalid_credential_request', 'format-based requests are pre-1.0; use credential_configuration_id or credential_identifier')
  if ('credential_response_encryption' in json) throw credentialError('invalid_credential_request', 'credential response encryption is not supported by this issuer')
  if (json.credential_configuration_id !== undefined && json.credential_identifier !== undefined)
    throw credentialError('invalid_credential_request', 'credential_configuration_id and credential_identifier are mutually exclusive')
  if (typeof json.credential_configuration_id === 'string' && !(json.credential_configuration_id in credentialIssuerMetadata.credential_configurations_supported))
    throw credentialError('unknown_credential_configuration', `unknown credential_configuration_id ${json.credential_configuration_id}`)

  const parsed = await lib(() => issuer.parseCredentialRequest({ issuerMetadata: issuerMetadataResult, credentialRequest: json }))

  // VCI §8.2: credential_identifier iff the token response carried authorization_details.
  let configurationId
  if (session.credentialIdentifiers.size > 0) {
    if (parsed.credentialIdentifier === undefined) throw credentialError('invalid_credential_request', 'the token response had authorization_details: send credential_identifier')
    configurationId = session.credentialIdentifiers.get(parsed.credentialIdentifier)
    if (!configurationId) throw credentialError('unknown_credential_identifier', 'unknown credential_identifier')
  } else {
    if (parsed.credentialIdentifier !== undefined) throw credentialError('unknown_credential_identifier', 'no credential_identifier was issued for this access token')
    if (parsed.credentialConfigurationId === undefined) throw credentialError('invalid_credential_request', 'credential_configuration_id is required')
    configurationId = parsed.credentialConfigurationId
    if (!session.configurationIds.includes(configurationId)) throw credentialError('credential_request_denied', 'the access token does not cover this credential configuration')
  }

  const jwts = parsed.proofs?.jwt
  if (!json.proofs) throw credentialError('invalid_proof', 'proofs is required (the configuration has proof_types_supported)')
  if (!Array.isArray(jwts)) throw credentialError('invalid_proof', 'only the jwt proof type is supported')
  if (jwts.length === 0) throw credentialError('invalid_proof', 'proofs.jwt is empty')
  if (jwts.length > Math.max(batchSize, 1)) throw credentialError('invalid_credential_request', `at most ${Math.max(batchSize, 1)} proofs (batch_size)`)

  const holderKeys = []
  const thumbprints = new Set()
  const usedNonces = new Set()
  for (const jwt of jwts) {
    let header
    let payload
    try {
      header = jose.decodeProtectedHeader(jwt)
      payload = jose.decodeJwt(jwt)
    } catch {
      throw credentialError('invalid_proof', 'a proof is not a JWT')
    }
    if (!header.jwk || header.kid !== undefined || header.x5c !== undefined || header.trust_chain !== undefined || header.key_attestation !== undefined)
      throw credentialError('invalid_proof', 'the proof must carry its key as jwk (binding method jwk), and nothing else')
    if (typeof payload.nonce !== 'string') throw credentialError('invalid_proof', 'the proof has no nonce (this issuer has a nonce endpoint)')
    if (!cNonces.live(payload.nonce)) throw credentialError('invalid_nonce', 'the proof nonce is not a current c_nonce')
    if (typeof payload.aud !== 'string' || payload.aud !== ORIGIN) throw credentialError('invalid_proof', 'aud must be the credential issuer identifier (a string)')
    if (session.anonymous && payload.iss !== undefined) throw credentialError('invalid_proof', 'iss must be omitted after anonymous pre-authorized access (VCI F.1)')
    const now = nowSeconds()
    if (typeof payload.iat !== 'number' || payload.iat > now + IAT_FUTURE || payload.iat < now - IAT_PAST) throw credentialError('invalid_proof', 'proof iat is outside the accepted window')
    const verified = await lib(() =>
      issuer.verifyCredentialRequestJwtProof({
        issuerMetadata: issuerMetadataResult,
        jwt,
        expectedNonce: payload.nonce,
        nonceExpiresAt: cNonces.expiresAt(payload.nonce),
        // The library then requires iss === clientId; iss is OPTIONAL outside anonymous pre-auth.
        clientId: payload.iss !== undefined ? (session.clientId ?? `none:${randomToken()}`) : undefined,
      }),
    )
    if (verified.header.alg !== 'ES256') throw credentialError('invalid_proof', 'proof alg must be ES256')
    const jwk = verified.signer.publicJwk
    const publicJwk = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }
    const tp = await thumbprint(publicJwk)
    if (thumbprints.has(tp)) throw credentialError('invalid_proof', 'two proofs use the same key')
    thumbprints.add(tp)
    holderKeys.push(publicJwk)
    usedNonces.add(payload.nonce)
  }
  for (const n of usedNonces) cNonces.delete(n) // single use, after the whole request validated

  const credentials = []
  for (const jwk of holderKeys) credentials.push({ credential: await issuePid(jwk) })
  const notificationId = randomToken(16)
  notifications.set(notificationId, { sub, events: [] })
  const response = issuer.createCredentialResponse({ credentialRequest: parsed, credentials, notificationId })
  return { status: 200, json: response }
}

async function issuePid(holderJwk) {
  const iat = nowSeconds()
  return sdjwt.issue(
    {
      iss: ORIGIN,
      vct: VCT,
      iat,
      exp: iat + 365 * 24 * 3600,
      cnf: { jwk: holderJwk },
      given_name: 'Erika',
      family_name: 'Mustermann',
      birthdate: '1964-08-12',
      age_equal_or_over: { 18: true },
    },
    { _sd: ['given_name', 'family_name', 'birthdate', 'age_equal_or_over'], age_equal_or_over: { _sd: ['18'] } },
    { header: issuerJwk.kid ? { kid: issuerJwk.kid } : {} },
  )
}

const NOTIFICATION_EVENTS = ['credential_accepted', 'credential_failure', 'credential_deleted']

async function notificationEndpoint(req, body) {
  const { sub } = await authenticate(req)
  const json = jsonBody(req, body, 'invalid_notification_request')
  if (typeof json.notification_id !== 'string') throw credentialError('invalid_notification_request', 'notification_id is required')
  if (!NOTIFICATION_EVENTS.includes(json.event)) throw credentialError('invalid_notification_request', 'event is not a known value')
  if (json.event_description !== undefined && (typeof json.event_description !== 'string' || /[^\x20\x21\x23-\x5B\x5D-\x7E]/.test(json.event_description)))
    throw credentialError('invalid_notification_request', 'event_description must be restricted ASCII')
  const entry = notifications.get(json.notification_id)
  if (!entry || entry.sub !== sub) throw credentialError('invalid_notification_id', 'unknown notification_id')
  entry.events.push(json.event)
  process.stderr.write(`notification ${json.event}\n`)
  return { status: 204 }
}

// ---------------------------------------------------------------------------------------
// HTTP server
// ---------------------------------------------------------------------------------------

const routes = {
  'GET /.well-known/openid-credential-issuer': () => ({ status: 200, json: credentialIssuerMetadata }),
  'GET /.well-known/oauth-authorization-server': () => ({ status: 200, json: asMetadata }),
  'GET /jwks': () => ({ status: 200, json: { keys: [accessTokenKey.publicJwk] } }),
  'POST /token': tokenEndpoint,
  'POST /nonce': nonceEndpoint,
  'POST /credential': credentialEndpoint,
  'POST /notification': notificationEndpoint,
  ...(authorizationCodeFlow ? { 'POST /par': parEndpoint, 'GET /authorize': (_req, _body, url) => authorizeEndpoint(url) } : {}),
}

const server = https.createServer({ cert: tlsCert, key: tlsKey }, async (req, res) => {
  const url = new URL(req.url, 'https://127.0.0.1')
  let outcome = ''
  try {
    const body = await readBody(req)
    const route = offerByReference && req.method === 'GET' && url.pathname === offerPath ? () => ({ status: 200, json: offerObject }) : routes[`${req.method} ${url.pathname}`]
    if (!route) {
      const known = Object.keys(routes).some((r) => r.endsWith(` ${url.pathname}`))
      throw new HttpError(known ? 405 : 404, { error: known ? 'method_not_allowed' : 'not_found' })
    }
    const result = await route(req, body, url)
    if (result.location) {
      res.writeHead(result.status, { location: result.location, 'cache-control': 'no-store', 'content-length': 0 })
      res.end()
    } else if (result.status === 204) send(res, 204, undefined, '', result.headers)
    else sendJson(res, result.status, result.json, result.headers)
    outcome = String(result.status)
  } catch (error) {
    if (error instanceof HttpError) {
      sendJson(res, error.status, error.body, error.headers)
      outcome = `${error.status} ${error.body?.error ?? ''}`
    } else {
      process.stderr.write(`internal error: ${describe(error)}\n`)
      sendJson(res, 500, { error: 'server_error' })
      outcome = '500 server_error'
    }
  }
  process.stderr.write(`${req.method} ${url.pathname} -> ${outcome}\n`)
})

server.on('error', (error) => fail(1, 'server error', error))
server.listen(port, '127.0.0.1', async () => {
  try {
    await setUp(`https://127.0.0.1:${server.address().port}`)
  } catch (error) {
    fail(1, 'setting up the issuer failed', error)
  }
  process.stdout.write(`${JSON.stringify({ listening: ORIGIN, offer: offerUri })}\n`)
})

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0))


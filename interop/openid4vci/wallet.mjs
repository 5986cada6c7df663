#!/usr/bin/env node
// The OpenWallet Foundation's @openid4vc/openid4vci (+ @openid4vc/oauth2) as an OpenID4VCI 1.0
// WALLET.
//
//   node wallet.mjs --ca CA.pem --offer OFFER_URI [--tx-code CODE] [--count N]
//        [--authorization-code] [--client-id ID] [--redirect-uri URI]
//
// The library resolves the offer (credential_offer by value or credential_offer_uri), fetches
// the issuer metadata and the AS metadata (checking credential_issuer / issuer), gets a
// DPoP-bound access token (pre-authorized code, with the use_dpop_nonce retry; or, with
// --authorization-code, PAR + PKCE S256 + the authorization endpoint's 302 + RFC 9207 `iss`
// check + code exchange), fetches a c_nonce from the nonce endpoint, signs N jwt proofs (one
// fresh P-256 key each) and sends one credential request with `proofs.jwt`. It then sends
// `credential_accepted` to the notification endpoint when the issuer has one.
//
// Prints one JSON line {"credentials": [sd-jwt...], "holder_keys": [public jwk...],
// "token_type": "DPoP"}; holder_keys[i] is the key credentials[i] is bound to (cnf.jwk).
// Exits 1 with the error on stderr on any failure, 2 on usage errors. HTTPS trusts only --ca
// and never follows redirects.

import { readFileSync } from 'node:fs'

import {
  Oauth2Client,
  authorizationCodeGrantIdentifier,
  clientAuthenticationAnonymous,
  clientAuthenticationNone,
  preAuthorizedCodeGrantIdentifier,
  resourceRequest,
} from '@openid4vc/oauth2'
import { Openid4vciClient, Openid4vciRetrieveCredentialsError } from '@openid4vc/openid4vci'
import * as jose from 'jose'

import { describe, fail, generateEs256, generateRandom, hash, intFlag, makeFetch, parseArgs, randomToken, required, signJwtCallback, thumbprint } from './common.mjs'

const { flags } = parseArgs(process.argv.slice(2), { booleans: ['authorization-code'] })
const ca = readFileSync(required(flags, 'ca'), 'utf8')
const offerUri = required(flags, 'offer')
const txCode = flags['tx-code']
const count = intFlag(flags, 'count', 1)
if (count < 1) fail(2, '--count must be at least 1')
const useAuthorizationCode = Boolean(flags['authorization-code'])
const clientId = flags['client-id'] ?? 'credkit-interop-wallet'
const redirectUri = flags['redirect-uri'] ?? 'https://wallet.invalid/callback'

// Keys this wallet holds, by JWK thumbprint: the DPoP key and one key per proof.
const keys = new Map()
async function newKey() {
  const key = await generateEs256()
  keys.set(await thumbprint(key.publicJwk), key)
  return key
}
const signJwt = signJwtCallback(async (signer) => {
  if (signer.method !== 'jwk') throw new Error(`signer method ${signer.method} is not used by this wallet`)
  const key = keys.get(await thumbprint(signer.publicJwk))
  if (!key) throw new Error('no private key for this signer')
  return key
})

// VCI §7.2 / HAIP §4: a DPoP-Nonce from the nonce endpoint must be used in the next DPoP
// proof to that server. The library's requestNonce() drops response headers, so the fetch
// records the header (workaround, README).
let nonceEndpointDpopNonce
let nonceEndpoint
const fetch = makeFetch({
  ca,
  onResponse: ({ url, method }, response) => {
    if (method === 'POST' && nonceEndpoint && url.href === new URL(nonceEndpoint).href) nonceEndpointDpopNonce = response.headers.get('dpop-nonce') ?? undefined
  },
})

const baseCallbacks = { hash, generateRandom, signJwt, fetch }
const client = new Openid4vciClient({
  callbacks: { ...baseCallbacks, clientAuthentication: useAuthorizationCode ? clientAuthenticationNone({ clientId }) : clientAuthenticationAnonymous() },
})

async function main() {
  // 1. Offer and metadata.
  const offer = await client.resolveCredentialOffer(offerUri)
  const issuerMetadata = await client.resolveIssuerMetadata(offer.credential_issuer)
  const credentialIssuer = issuerMetadata.credentialIssuer
  nonceEndpoint = credentialIssuer.nonce_endpoint
  const configurationId = offer.credential_configuration_ids[0]
  const configuration = credentialIssuer.credential_configurations_supported[configurationId]
  if (!configuration) throw new Error(`offered configuration ${configurationId} is not in the issuer metadata`)
  if (issuerMetadata.authorizationServers.length !== 1) throw new Error(`expected one authorization server, got ${issuerMetadata.authorizationServers.length}`)
  const asMetadata = issuerMetadata.authorizationServers[0]
  if (!asMetadata.dpop_signing_alg_values_supported?.includes('ES256')) throw new Error('the AS does not offer DPoP with ES256 (HAIP requires DPoP)')

  // 2. Access token (DPoP-bound).
  const dpopKey = await newKey()
  const dpopSigner = { method: 'jwk', alg: 'ES256', publicJwk: dpopKey.publicJwk }
  let tokenResult
  if (!useAuthorizationCode) {
    if (!offer.grants?.[preAuthorizedCodeGrantIdentifier]) throw new Error('the offer has no pre-authorized_code grant (use --authorization-code?)')
    if (offer.grants[preAuthorizedCodeGrantIdentifier].tx_code && txCode === undefined) throw new Error('the offer requires a tx_code: pass --tx-code')
    tokenResult = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({
      credentialOffer: offer,
      issuerMetadata,
      txCode,
      dpop: { signer: dpopSigner },
    })
  } else {
    tokenResult = await authorizationCodeToken({ offer, issuerMetadata, asMetadata, configuration, dpopSigner })
  }
  const { accessTokenResponse } = tokenResult
  // RFC 9449 §5: DPoP was sent, so anything but token_type DPoP is discarded (token types are case-insensitive, RFC 6749 §7.1).
  if (String(accessTokenResponse.token_type).toLowerCase() !== 'dpop') throw new Error(`token_type is ${accessTokenResponse.token_type}, not DPoP`)

  // VCI §6.2 / §8.2: authorization_details in the token response => credential_identifier.
  const credentialIdentifier = accessTokenResponse.authorization_details
    ?.filter((d) => d.type === 'openid_credential' && d.credential_configuration_id === configurationId)
    .flatMap((d) => d.credential_identifiers ?? [])[0]
  if (accessTokenResponse.authorization_details && !credentialIdentifier) throw new Error('token response authorization_details has no credential_identifiers for the offered configuration')

  // 3. c_nonce, proofs, credential request (one retry on invalid_nonce, VCI §8.3.1.2).
  let dpop = tokenResult.dpop
  const proofKeys = []
  for (let i = 0; i < count; i++) proofKeys.push(await newKey())
  let credentialResponse
  for (let attempt = 0; ; attempt++) {
    const { c_nonce: cNonce } = await client.requestNonce({ issuerMetadata })
    if (nonceEndpointDpopNonce) dpop = { ...dpop, nonce: nonceEndpointDpopNonce }
    const jwts = []
    for (const key of proofKeys) {
      const { jwt } = await client.createCredentialRequestJwtProof({
        issuerMetadata,
        credentialConfigurationId: configurationId,
        signer: { method: 'jwk', alg: 'ES256', publicJwk: key.publicJwk },
        nonce: cNonce,
      })
      jwts.push(jwt)
    }
    try {
      const result = credentialIdentifier
        ? await credentialRequestByIdentifier({ issuerMetadata, credentialIdentifier, jwts, accessToken: accessTokenResponse.access_token, dpop })
        : await client.retrieveCredentials({
            issuerMetadata,
            credentialConfigurationId: configurationId,
            proofs: { jwt: jwts },
            accessToken: accessTokenResponse.access_token,
            dpop,
          })
      credentialResponse = result.credentialResponse
      if (result.dpop?.nonce) dpop = { ...dpop, nonce: result.dpop.nonce }
      break
    } catch (error) {
      const code = error instanceof Openid4vciRetrieveCredentialsError ? error.response?.credentialErrorResponseResult?.data?.error : undefined
      if (code === 'invalid_nonce' && attempt === 0) continue
      throw error
    }
  }

  // 4. Check what came back.
  if (credentialResponse.transaction_id) throw new Error('deferred issuance is not handled by this wallet')
  const entries = credentialResponse.credentials ?? []
  if (entries.length === 0) throw new Error('no credentials in the response')
  if (entries.length > count) throw new Error(`${entries.length} credentials for ${count} keys`)
  const proofThumbprints = await Promise.all(proofKeys.map((k) => thumbprint(k.publicJwk)))
  const credentials = []
  const holderKeys = []
  const bound = new Set()
  for (const entry of entries) {
    if (typeof entry?.credential !== 'string') throw new Error('a credentials[] entry is not {"credential": "<string>"}')
    const sdJwt = entry.credential
    const issuerJwt = sdJwt.split('~')[0]
    const header = jose.decodeProtectedHeader(issuerJwt)
    const payload = jose.decodeJwt(issuerJwt)
    if (header.typ !== 'dc+sd-jwt') throw new Error(`credential typ ${header.typ}`)
    if (configuration.vct && payload.vct !== configuration.vct) throw new Error(`credential vct ${payload.vct}, expected ${configuration.vct}`)
    if (!sdJwt.endsWith('~')) throw new Error('the SD-JWT does not end with ~ (no KB-JWT expected at issuance)')
    const cnf = payload.cnf?.jwk
    if (!cnf) throw new Error('credential has no cnf.jwk')
    const tp = await thumbprint(cnf)
    const index = proofThumbprints.indexOf(tp)
    if (index < 0) throw new Error('credential cnf.jwk is not one of the proof keys')
    if (bound.has(tp)) throw new Error('two credentials are bound to the same key')
    bound.add(tp)
    credentials.push(sdJwt)
    holderKeys.push(proofKeys[index].publicJwk)
  }

  // 5. Notification (VCI §11), when offered.
  if (credentialResponse.notification_id && credentialIssuer.notification_endpoint) {
    await client.sendNotification({
      issuerMetadata,
      notification: { notificationId: credentialResponse.notification_id, event: 'credential_accepted' },
      accessToken: accessTokenResponse.access_token,
      dpop,
    })
  }

  process.stdout.write(`${JSON.stringify({ credentials, holder_keys: holderKeys, token_type: accessTokenResponse.token_type })}\n`)
}

/**
 * Authorization code flow: PAR (+ DPoP header) with PKCE S256 and issuer_state, GET the
 * authorization endpoint without following the redirect, verify the authorization response
 * (state, RFC 9207 iss) and redeem the code with the PKCE verifier.
 */
async function authorizationCodeToken({ offer, issuerMetadata, asMetadata, configuration, dpopSigner }) {
  const grant = offer.grants?.[authorizationCodeGrantIdentifier]
  if (!grant) throw new Error('the offer has no authorization_code grant')
  if (!asMetadata.code_challenge_methods_supported?.includes('S256')) throw new Error('the AS does not offer PKCE S256')
  if (!configuration.scope) throw new Error('the offered configuration has no scope (HAIP 4.2)')
  const state = randomToken()
  // Openid4vciClient.initiateAuthorization() does not pass `state` on, so the OAuth client is
  // used directly (README); issuer_state goes in as the library's own wrapper does it.
  const oauth2 = new Oauth2Client({ callbacks: { ...baseCallbacks, clientAuthentication: clientAuthenticationNone({ clientId }) } })
  const { authorizationRequestUrl, pkce, dpop } = await oauth2.initiateAuthorization({
    authorizationServerMetadata: asMetadata,
    clientId,
    redirectUri,
    scope: configuration.scope,
    state,
    resource: issuerMetadata.credentialIssuer.credential_issuer,
    additionalRequestPayload: grant.issuer_state !== undefined ? { issuer_state: grant.issuer_state } : {},
    dpop: { signer: dpopSigner },
  })
  if (pkce?.codeChallengeMethod !== 'S256') throw new Error('the library did not choose PKCE S256')
  const response = await fetch(authorizationRequestUrl)
  const location = response.headers.get('location')
  if (![302, 303].includes(response.status) || !location) throw new Error(`authorization endpoint answered ${response.status} without a redirect: ${(await response.text()).slice(0, 300)}`)
  const target = new URL(location)
  if (`${target.origin}${target.pathname}` !== redirectUri) throw new Error(`redirected to ${target.origin}${target.pathname}, not the redirect_uri`)
  const authorizationResponse = client.parseAndVerifyAuthorizationResponseRedirectUrl({ url: location, authorizationServerMetadata: asMetadata })
  if (authorizationResponse.error) throw new Error(`authorization error ${authorizationResponse.error}`)
  if (authorizationResponse.state !== state) throw new Error('authorization response state does not match')
  if (authorizationResponse.iss !== asMetadata.issuer) throw new Error('authorization response iss is missing or wrong (RFC 9207)')
  return client.retrieveAuthorizationCodeAccessTokenFromOffer({
    credentialOffer: offer,
    issuerMetadata,
    authorizationCode: authorizationResponse.code,
    pkceCodeVerifier: pkce.codeVerifier,
    redirectUri,
    dpop: dpop ?? { signer: dpopSigner },
  })
}

/**
 * Credential request by credential_identifier. The library's retrieveCredentials() always
 * sends credential_configuration_id, which §8.2 forbids after authorization_details, so the
 * request goes through the library's resourceRequest (DPoP, use_dpop_nonce retry) instead.
 */
async function credentialRequestByIdentifier({ issuerMetadata, credentialIdentifier, jwts, accessToken, dpop }) {
  const result = await resourceRequest({
    url: issuerMetadata.credentialIssuer.credential_endpoint,
    accessToken,
    dpop,
    callbacks: baseCallbacks,
    requestOptions: {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ credential_identifier: credentialIdentifier, proofs: { jwt: jwts } }),
    },
  })
  const text = await result.response.clone().text()
  if (!result.ok) {
    let data
    try {
      data = JSON.parse(text)
    } catch {}
    throw new Openid4vciRetrieveCredentialsError(`credential request failed with ${result.response.status}`, { ...result, credentialErrorResponseResult: { success: Boolean(data), data } }, text)
  }
  return { credentialResponse: JSON.parse(text), dpop: result.dpop }
}

try {
  await main()
} catch (error) {
  const status = error?.response?.status ?? error?.response?.response?.status
  fail(1, `issuance failed${status ? ` (HTTP ${status})` : ''}`, error)
}

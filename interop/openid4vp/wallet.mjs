#!/usr/bin/env node
// The OpenWallet Foundation's @openid4vc/openid4vp as an OpenID4VP 1.0 WALLET.
//
//   node wallet.mjs --trust-anchor VERIFIER-CA.pem [--trust-anchor ...] --http-root TLS-CA.pem
//        --credential PID.sd-jwt --holder-key HOLDER.jwk AUTHORIZATION_REQUEST_URL
//
// The library parses the authorization request URL, fetches the request object from its
// request_uri (GET, or POST when request_uri_method=post), verifies it (typ, x5c signature
// chained to --trust-anchor, x509_hash / x509_san_dns client id, outer/inner client_id) and
// validates the request. `dcql` matches the query against the credential; @sd-jwt/sd-jwt-vc
// builds the presentation that discloses only the claims of the satisfied claim set, with a
// KB-JWT (aud = the full client id, nonce). The library builds the response (vp_token, state;
// ECDH-ES JWE to the verifier's key for direct_post.jwt) and posts it to the response_uri.
// Prints one JSON line {"status":..., "body":..., ...} with the verifier's reply and exits 0
// when the reply was 200; 1 otherwise; 2 on usage errors.

import { readFileSync } from 'node:fs'

import { Openid4vpClient, parseOpenid4vpAuthorizationRequest } from '@openid4vc/openid4vp'
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc'
import { DcqlQuery } from 'dcql'
import * as jose from 'jose'

import {
  encryptJwe,
  fail,
  hash,
  log,
  makeFetch,
  parseArgs,
  randomToken,
  readPemCertificates,
  required,
  saltGenerator,
  sdHasher,
  sdSigner,
  signJwtCallback,
  verifyJwtCallback,
  x509Metadata,
} from './common.mjs'

/** What this wallet supports (sent as wallet_metadata when it POSTs to the request_uri). */
const WALLET_METADATA = {
  vp_formats_supported: { 'dc+sd-jwt': { 'sd-jwt_alg_values': ['ES256'], 'kb-jwt_alg_values': ['ES256'] } },
  client_id_prefixes_supported: ['x509_hash', 'x509_san_dns'],
  request_object_signing_alg_values_supported: ['ES256'],
  authorization_encryption_alg_values_supported: ['ECDH-ES'],
  authorization_encryption_enc_values_supported: ['A256GCM', 'A128GCM'],
}

const { flags, positional } = parseArgs(process.argv.slice(2), { repeatable: ['trust-anchor'] })
if (positional.length !== 1) fail(2, 'give exactly one authorization request URL')
const requestUrl = positional[0]
const anchors = required(flags, 'trust-anchor').flatMap((p) => readPemCertificates(p))
const httpRoot = readFileSync(required(flags, 'http-root'), 'utf8')
const credential = readFileSync(required(flags, 'credential'), 'utf8').trim()
const holderJwk = JSON.parse(readFileSync(required(flags, 'holder-key'), 'utf8'))
const holderKey = await jose.importJWK(holderJwk, 'ES256')

async function main() {
  // 1. Parse the URL (the library tells a JAR request from a plain one).
  const parsed = parseOpenid4vpAuthorizationRequest({ authorizationRequest: requestUrl })
  if (parsed.type !== 'jar') throw new Error(`expected a signed request by reference, got ${parsed.type}`)
  const outer = parsed.params
  const post = outer.request_uri_method === 'post'
  const walletNonce = post ? randomToken() : undefined

  // Workaround (README): with request_uri_method=post the library sends the wallet metadata
  // members as separate form fields and never sends wallet_nonce; §5.10 wants
  // `wallet_metadata` (JSON in a string) and `wallet_nonce`. The library still checks the
  // returned `wallet_nonce` against `expectedNonce`.
  const fetch = makeFetch({
    ca: httpRoot,
    rewrite: (r) =>
      post && r.method === 'POST' && r.url.href === new URL(outer.request_uri).href
        ? { ...r, body: new URLSearchParams({ wallet_metadata: JSON.stringify(WALLET_METADATA), wallet_nonce: walletNonce }).toString() }
        : r,
  })

  const client = new Openid4vpClient({
    callbacks: {
      hash,
      fetch,
      verifyJwt: verifyJwtCallback({ anchors }),
      getX509CertificateMetadata: x509Metadata,
      encryptJwe,
      decryptJwe: async () => ({ decrypted: false }),
      signJwt: signJwtCallback(() => {
        throw new Error('the wallet signs no JWT through the library')
      }),
    },
  })

  // 2. Resolve: fetch, verify and validate the request object.
  const resolved = await client.resolveOpenId4vpAuthorizationRequest({
    authorizationRequestPayload: outer,
    wallet: post ? { expectedNonce: walletNonce, metadata: WALLET_METADATA } : undefined,
  })
  const request = resolved.authorizationRequestPayload
  log(`resolved: client ${resolved.client.prefix} ${resolved.client.effective}, version ${resolved.version}, mode ${request.response_mode}`)
  if (!resolved.jar) throw new Error('the request was not signed')
  if (!['x509_hash', 'x509_san_dns'].includes(resolved.client.prefix)) throw new Error(`client id prefix ${resolved.client.prefix} is not trusted here`)
  if (!resolved.dcql) throw new Error('no dcql_query')
  if (resolved.transactionData) throw new Error('transaction_data is not supported by this wallet (§5)')
  if (!['direct_post', 'direct_post.jwt'].includes(request.response_mode)) throw new Error(`response_mode ${request.response_mode}`)

  // 3. DCQL: match the (fully disclosed) credential, pick the claims of the satisfied set.
  const sdjwt = new SDJwtVcInstance({ hasher: sdHasher, saltGenerator, kbSigner: sdSigner(holderKey), kbSignAlg: 'ES256' })
  const decoded = await sdjwt.decode(credential)
  const allClaims = await decoded.getClaims(sdHasher)
  const query = DcqlQuery.parse(resolved.dcql.query)
  DcqlQuery.validate(query)
  const result = DcqlQuery.query(query, [
    { credential_format: 'dc+sd-jwt', vct: allClaims.vct, claims: allClaims, cryptographic_holder_binding: Boolean(allClaims.cnf) },
  ])
  if (!result.can_be_satisfied) throw new Error(`the credential does not satisfy the query: ${JSON.stringify(result.credential_matches)}`)

  const vpToken = {}
  const disclosed = {}
  for (const cq of query.credentials) {
    const match = result.credential_matches[cq.id]
    if (!match?.success) continue
    const valid = match.valid_credentials[0]
    const set = valid.claims.valid_claim_sets[0]
    const indexes = set.valid_claim_indexes ?? []
    const paths = indexes.map((i) => cq.claims[i].path)
    const frame = {}
    for (const path of paths) {
      let node = frame
      path.forEach((step, i) => {
        if (step === null) throw new Error('null (all elements) paths are not supported by this test wallet')
        node = node[step] = i === path.length - 1 ? true : typeof node[step] === 'object' ? node[step] : {}
      })
    }
    disclosed[cq.id] = paths
    // 4. The presentation: only those disclosures, KB-JWT bound to the full client id + nonce.
    const presentation = await sdjwt.present(credential, frame, {
      kb: { payload: { aud: resolved.client.effective, nonce: request.nonce, iat: Math.floor(Date.now() / 1000) } },
    })
    vpToken[cq.id] = [presentation]
  }

  // 5. The response, encrypted for direct_post.jwt, and its submission.
  const response = await client.createOpenid4vpAuthorizationResponse({
    authorizationRequestPayload: request,
    authorizationResponsePayload: { vp_token: vpToken },
    jarm:
      request.response_mode === 'direct_post.jwt'
        ? {
            encryption: {},
            serverMetadata: {
              authorization_signing_alg_values_supported: ['ES256'],
              authorization_encryption_alg_values_supported: ['ECDH-ES'],
              authorization_encryption_enc_values_supported: ['A256GCM', 'A128GCM'],
            },
          }
        : undefined,
  })
  const submitted = await client.submitOpenid4vpAuthorizationResponse({
    authorizationRequestPayload: request,
    authorizationResponsePayload: response.authorizationResponsePayload,
    jarm: response.jarm ? { responseJwt: response.jarm.responseJwt } : undefined,
  })
  const text = await submitted.response.text()
  let body
  try {
    body = JSON.parse(text)
  } catch {
    body = text
  }
  const jweHeader = response.jarm ? jose.decodeProtectedHeader(response.jarm.responseJwt) : undefined
  return {
    status: submitted.response.status,
    body,
    response_mode: submitted.responseMode,
    client_id: resolved.client.effective,
    client_id_prefix: resolved.client.prefix,
    jwe: jweHeader ? { alg: jweHeader.alg, enc: jweHeader.enc, kid: jweHeader.kid } : null,
    disclosed,
  }
}

try {
  const out = await main()
  process.stdout.write(`${JSON.stringify(out)}\n`)
  process.exit(out.status === 200 ? 0 : 1)
} catch (error) {
  fail(1, 'wallet failed', error)
}

"""End-to-end tests of the Python bindings, against the installed `credkit` wheel.

Keys live in a host key manager written in Python (the `cryptography` package) that returns
SubjectPublicKeyInfo public keys and DER signatures, as Android Keystore does; the issuer
signs through a host signer of the same kind. Run by bindings/test-python.
"""

import base64
import json
import os
import tempfile
import threading
import unittest
import uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

import credkit
from credkit import CredkitError

PID_VCT = "urn:eudi:pid:1"
ISSUER = "https://pid-provider.example.eu"
AUDIENCE = "https://bar.example"
STATUS_URI = "https://pid-provider.example.eu/status/1"

TYPE_METADATA = json.dumps(
    {
        "vct": PID_VCT,
        "name": "PID",
        "display": [
            {
                "locale": "en",
                "name": "Person Identification Data",
                "description": "Your EU PID",
                "rendering": {"simple": {"background_color": "#12107c", "text_color": "#ffffff"}},
            }
        ],
        "claims": [
            {"path": ["given_name"], "display": [{"locale": "en", "label": "Given name"}]},
            {
                "path": ["age_equal_or_over", "18"],
                "display": [{"locale": "en", "label": "Over 18"}],
            },
        ],
    }
)

CLAIMS = {
    "given_name": "Erika",
    "family_name": "Mustermann",
    "birthdate": "1984-01-26",
    "nationalities": ["DE"],
    "age_equal_or_over": {"18": True, "65": False},
}

OVER_18 = {
    "credentials": [
        {
            "id": "pid",
            "format": "dc+sd-jwt",
            "meta": {"vct_values": [PID_VCT]},
            "claims": [{"path": ["age_equal_or_over", "18"]}],
        }
    ]
}


class Keystore(credkit.HostKeyManager):
    """A host keystore: P-256 keys; SPKI public keys and DER signatures (Android-like)."""

    def __init__(self):
        self.keys = {}
        self.lock = threading.Lock()
        self.fail_with = None
        self.signatures = 0

    def create_key(self, algorithm):
        if algorithm != credkit.KeyAlgorithm.ES256:
            raise CredkitError.Unsupported("alg_unsupported", "only ES256 here")
        key = ec.generate_private_key(ec.SECP256R1())
        key_id = str(uuid.uuid4())
        with self.lock:
            self.keys[key_id] = key
        return credkit.HostKey(key_id=key_id, public_key=spki(key))

    def public_key(self, key_id):
        with self.lock:
            key = self.keys.get(key_id)
        if key is None:
            raise CredkitError.NotFound("not_found", key_id)
        return spki(key)

    def sign(self, key_id, message):
        if self.fail_with is not None:
            raise self.fail_with
        with self.lock:
            key = self.keys[key_id]
            self.signatures += 1
        return key.sign(message, ec.ECDSA(hashes.SHA256()))  # DER

    def delete_key(self, key_id):
        with self.lock:
            self.keys.pop(key_id, None)


class IssuerHsm(credkit.HostSigner):
    """An issuer's HSM key: SEC1 public key (iOS-like), DER signatures."""

    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())

    def algorithm(self):
        return credkit.KeyAlgorithm.ES256

    def public_key(self):
        return self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    def sign(self, message):
        return self.key.sign(message, ec.ECDSA(hashes.SHA256()))


class DictStore(credkit.HostCredentialStore):
    """The app's own credential store."""

    def __init__(self):
        self.records = {}

    def insert(self, records):
        if any(r.id in self.records for r in records):
            raise CredkitError.Storage("storage_failed", "duplicate id")
        for r in records:
            self.records[r.id] = r

    def list(self):
        return list(self.records.values())

    def update(self, record):
        if record.id not in self.records:
            raise CredkitError.NotFound("not_found", record.id)
        self.records[record.id] = record

    def delete_batch(self, batch):
        ids = [i for i, r in self.records.items() if r.batch == batch]
        for i in ids:
            del self.records[i]
        return len(ids)


class Web(credkit.HostHttpClient):
    """The app's HTTP stack, serving what the issuer published."""

    def __init__(self):
        self.pages = {}
        self.requests = []

    def get(self, request):
        self.requests.append(request)
        body = self.pages.get(request.url)
        if body is None:
            return credkit.HttpReply(status=404, body=b"")
        return credkit.HttpReply(
            status=200, body=body.encode(), content_type="application/statuslist+jwt"
        )


def credkit_jwk_of(keystore, key_id):
    """The JWK of a host key, as an issuer receives it in a proof."""
    numbers = keystore.keys[key_id].public_key().public_numbers()
    b64 = lambda n: base64.urlsafe_b64encode(n.to_bytes(32, "big")).rstrip(b"=").decode()
    return {"kty": "EC", "crv": "P-256", "x": b64(numbers.x), "y": b64(numbers.y)}


def spki(key):
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


class Flow(unittest.TestCase):
    def setUp(self):
        self.hsm = IssuerHsm()
        self.issuer = credkit.Issuer(ISSUER, self.hsm)
        self.trust = credkit.TrustConfig(
            pinned=[credkit.PinnedIssuer(issuer=ISSUER, jwks=self.issuer.public_jwk())]
        )
        self.keystore = Keystore()
        self.wallet = credkit.Wallet.in_memory(
            credkit.WalletConfig(
                trust=self.trust,
                accepted_vcts=[PID_VCT],
                type_metadata=[TYPE_METADATA],
                locales=["en"],
                use_policy=credkit.UsePolicy.ONE_TIME_USE,
            ),
            self.keystore,
            None,
        )
        self.verifier = credkit.Verifier(
            credkit.VerifierConfig(trust=self.trust, accepted_vcts=[PID_VCT]), None
        )

    def issue(self, holder_jwk, **extra):
        return self.issuer.issue(
            credkit.IssueRequest(
                vct=PID_VCT,
                claims_json=json.dumps(CLAIMS),
                disclose_all=True,
                holder_jwk=holder_jwk,
                decoys=2,
                **extra,
            )
        )

    def receive(self, copies=2):
        keys = self.wallet.create_holder_keys(copies, credkit.KeyAlgorithm.ES256)
        creds = [self.issue(k.public_jwk) for k in keys]
        return self.wallet.add(creds, [k.key_id for k in keys])

    def test_issue_store_query_consent_present_verify(self):
        batch = self.receive()
        [held] = self.wallet.list()
        self.assertEqual(held.batch, batch)
        self.assertEqual(held.name, "Person Identification Data")
        self.assertEqual(held.description, "Your EU PID")
        self.assertEqual(
            json.loads(held.rendering_json)["simple"]["background_color"], "#12107c"
        )
        self.assertIsNotNone(held.issued_at)
        self.assertIsNone(held.expires_at)
        self.assertEqual((held.copies, held.remaining), (2, 2))
        labels = {c.pointer: c.label for c in held.disclosable}
        self.assertEqual(labels["/given_name"], "Given name")
        self.assertEqual(labels["/age_equal_or_over/18"], "Over 18")

        # The consent screen: exactly "over 18", nothing else.
        [answer] = self.wallet.query(json.dumps(OVER_18))
        self.assertTrue(answer.required)
        [candidate] = answer.candidates
        self.assertEqual(
            [(r.pointer, r.label, json.loads(r.value_json)) for r in candidate.revealed],
            [
                ("/age_equal_or_over/18", "Over 18", True),
                # The container, as the verifier will see it: only "18" inside.
                ("/age_equal_or_over", None, {"18": True}),
            ],
        )
        nonce = credkit.new_nonce()
        # A choice beyond what the consent screen showed is refused.
        with self.assertRaises(CredkitError.InvalidInput):
            self.wallet.build_vp_token(
                json.dumps(OVER_18),
                [credkit.Choice(query_id="pid", batch=batch, disclose=["/given_name"])],
                AUDIENCE,
                "n",
            )
        with self.assertRaises(CredkitError.Unsatisfiable):
            self.wallet.build_vp_token(json.dumps(OVER_18), [], AUDIENCE, "n")
        self.assertEqual(self.keystore.signatures, 0)
        vp_token = self.wallet.build_vp_token(
            json.dumps(OVER_18),
            [credkit.Choice(query_id="pid", batch=batch, disclose=candidate.disclose)],
            AUDIENCE,
            nonce,
        )
        self.assertEqual(self.keystore.signatures, 1)

        [result] = self.verifier.verify_response(
            json.dumps(OVER_18), vp_token, AUDIENCE, nonce
        )
        self.assertEqual(result.query_id, "pid")
        claims = json.loads(result.credential.claims_json)
        self.assertEqual(claims["age_equal_or_over"], {"18": True})
        for hidden in ("given_name", "family_name", "birthdate", "nationalities"):
            self.assertNotIn(hidden, claims)
        self.assertCountEqual(
            result.credential.disclosed, ["/age_equal_or_over", "/age_equal_or_over/18"]
        )
        self.assertTrue(result.credential.holder_bound)
        self.assertEqual(result.credential.issuer, ISSUER)
        self.assertEqual(self.wallet.list()[0].remaining, 1)

    def test_errors_arrive_as_typed_kinds(self):
        batch = self.receive(copies=1)
        nonce = credkit.new_nonce()
        presentation = self.wallet.present(batch, ["/given_name"], AUDIENCE, nonce)

        with self.assertRaises(CredkitError.KeyBinding) as e:
            self.verifier.verify(presentation, AUDIENCE, "another-nonce")
        self.assertEqual(e.exception.code, "nonce_mismatch")

        with self.assertRaises(CredkitError.KeyBinding) as e:
            self.verifier.verify(presentation, "https://evil.example", nonce)
        self.assertEqual(e.exception.code, "aud_mismatch")

        # A presentation whose issuer signature was altered.
        issuer_jwt, rest = presentation.split("~", 1)
        head, payload, sig = issuer_jwt.split(".")
        flipped = ("B" if sig[0] == "A" else "A") + sig[1:]
        with self.assertRaises(CredkitError.InvalidSignature) as e:
            self.verifier.verify(f"{head}.{payload}.{flipped}~{rest}", AUDIENCE, nonce)
        self.assertEqual(e.exception.code, "invalid_signature")

        # A credential that has expired is refused by the wallet.
        key = self.wallet.create_holder_keys(1, credkit.KeyAlgorithm.ES256)[0]
        old = self.issue(key.public_jwk, issued_at=1_000_000_000, expires_at=1_000_086_400)
        with self.assertRaises(CredkitError.Expired) as e:
            self.wallet.add([old], [key.key_id])
        self.assertEqual(e.exception.code, "expired")

        # One-time use: the only copy is spent.
        with self.assertRaises(CredkitError.Exhausted) as e:
            self.wallet.present(batch, ["/given_name"], AUDIENCE, nonce)
        self.assertEqual(e.exception.code, "credential_exhausted")

        with self.assertRaises(CredkitError.NotFound):
            self.wallet.present("no-such-batch", [], AUDIENCE, nonce)

        # A credential of an issuer the verifier does not trust.
        stranger = credkit.Verifier(
            credkit.VerifierConfig(
                trust=credkit.TrustConfig(
                    pinned=[credkit.PinnedIssuer(issuer="https://other.example", jwks=self.issuer.public_jwk())]
                )
            ),
            None,
        )
        with self.assertRaises(CredkitError.UntrustedIssuer):
            stranger.verify(presentation, AUDIENCE, nonce)

        # Nothing held answers a query for another type.
        query = json.loads(json.dumps(OVER_18))
        query["credentials"][0]["meta"]["vct_values"] = ["urn:example:other"]
        with self.assertRaises(CredkitError.Unsatisfiable):
            self.wallet.query(json.dumps(query))
        with self.assertRaises(CredkitError.InvalidInput):
            self.wallet.query('{"credentials": []}')
        # JSON from the verifier is parsed strictly: a repeated member is refused.
        twice = json.dumps(OVER_18).replace('"id": "pid"', '"id": "pid", "id": "pid"')
        self.assertEqual(json.loads(twice), OVER_18)  # a lax parser would accept it
        with self.assertRaises(CredkitError.InvalidInput) as e:
            self.wallet.query(twice)
        self.assertEqual(e.exception.code, "dcql_invalid")
        with self.assertRaises(CredkitError.Malformed) as e:
            self.verifier.verify_response(
                json.dumps(OVER_18), '{"pid": ["a"], "pid": ["b"]}', AUDIENCE, nonce
            )
        self.assertEqual(e.exception.code, "json_duplicate_key")

        # A credential bound to a key the wallet does not hold is refused (HOL-02).
        other = Keystore()
        foreign = other.create_key(credkit.KeyAlgorithm.ES256)
        foreign_jwk = json.dumps(
            credkit_jwk_of(other, foreign.key_id)
        )
        mine = self.wallet.create_holder_keys(1, credkit.KeyAlgorithm.ES256)[0]
        with self.assertRaises(CredkitError.KeyBinding) as e:
            self.wallet.add([self.issue(foreign_jwk)], [mine.key_id])
        self.assertEqual(e.exception.code, "holder_key_unknown")
        # Key ids the keystore does not know.
        with self.assertRaises(CredkitError.NotFound):
            self.wallet.add([self.issue(mine.public_jwk)], [foreign.key_id])

    def test_keystore_failures_are_key_unavailable(self):
        batch = self.receive(copies=2)
        # The user cancels the biometric prompt.
        self.keystore.fail_with = CredkitError.KeyUnavailable("key_unavailable", "cancelled")
        with self.assertRaises(CredkitError.KeyUnavailable):
            self.wallet.present(batch, [], AUDIENCE, "n-1")
        # The keystore throws something it should not: still a typed error, and no crash.
        self.keystore.fail_with = RuntimeError("keystore exploded")
        with self.assertRaises(CredkitError.KeyUnavailable) as e:
            self.wallet.present(batch, [], AUDIENCE, "n-2")
        self.assertIn("keystore exploded", e.exception.detail)
        self.assertFalse(e.exception.detail.startswith("key_unavailable"))
        # Failed signatures spend no one-time copy.
        self.assertEqual(self.wallet.list()[0].remaining, 2)
        self.keystore.fail_with = None
        self.wallet.present(batch, [], AUDIENCE, "n-3")
        self.assertEqual(self.wallet.list()[0].remaining, 1)

    def test_a_panic_is_an_internal_error_and_the_library_lives_on(self):
        with self.assertRaises(CredkitError.Internal) as e:
            credkit.self_test_panic("boom")
        self.assertEqual(e.exception.code, "panic")
        self.assertEqual(e.exception.detail, "boom")
        # Still fully usable.
        batch = self.receive(copies=1)
        self.assertEqual(len(self.wallet.list()), 1)
        self.wallet.remove(batch)
        self.assertEqual(self.wallet.list(), [])
        self.assertEqual(self.keystore.keys, {})

    def test_host_store_and_sqlite_store(self):
        store = DictStore()
        wallet = credkit.Wallet.with_store(
            store,
            credkit.WalletConfig(trust=self.trust, use_policy=credkit.UsePolicy.ROTATE_USE),
            self.keystore,
        )
        keys = wallet.create_holder_keys(1, credkit.KeyAlgorithm.ES256)
        batch = wallet.add([self.issue(keys[0].public_jwk)], [keys[0].key_id])
        [record] = store.records.values()
        self.assertEqual((record.batch, record.vct, record.presentations), (batch, PID_VCT, 0))
        wallet.present(batch, ["/nationalities/0"], AUDIENCE, "n")
        wallet.present(batch, ["/nationalities/0"], AUDIENCE, "n")
        self.assertEqual(store.records[record.id].presentations, 2)

        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "wallet.db")
            key = os.urandom(32)
            config = credkit.WalletConfig(
                trust=self.trust, use_policy=credkit.UsePolicy.ONE_TIME_USE
            )
            w = credkit.Wallet.open(path, key, config, self.keystore, None)
            keys = w.create_holder_keys(1, credkit.KeyAlgorithm.ES256)
            batch = w.add([self.issue(keys[0].public_jwk)], [keys[0].key_id])
            del w
            w = credkit.Wallet.open(path, key, config, self.keystore, None)
            self.assertEqual([h.batch for h in w.list()], [batch])
            with self.assertRaises(CredkitError.Storage) as e:
                credkit.Wallet.open(path, os.urandom(32), config, self.keystore, None)
            self.assertEqual(e.exception.code, "storage_decrypt_failed")
            with self.assertRaises(CredkitError.InvalidInput):
                credkit.Wallet.open(path, b"short", config, self.keystore, None)

    def test_revocation_through_the_status_list(self):
        web = Web()
        status = self.issuer.new_status_list(STATUS_URI, 2, 1000)
        idx = status.allocate()
        keys = self.wallet.create_holder_keys(1, credkit.KeyAlgorithm.ES256)
        cred = self.issue(keys[0].public_jwk, status_index=idx, status_uri=STATUS_URI)
        batch = self.wallet.add([cred], [keys[0].key_id])
        web.pages[STATUS_URI] = status.token(300, 86400)

        def verifier():
            return credkit.Verifier(
                credkit.VerifierConfig(trust=self.trust, check_status=True), web
            )

        nonce = credkit.new_nonce()
        presentation = self.wallet.present(batch, [], AUDIENCE, nonce)
        result = verifier().verify(presentation, AUDIENCE, nonce)
        self.assertEqual(result.status, credkit.CredentialStatus.VALID)
        self.assertEqual(web.requests[0].url, STATUS_URI)
        self.assertEqual(web.requests[0].accept, "application/statuslist+jwt")

        status.set(idx, credkit.CredentialStatus.REVOKED)
        web.pages[STATUS_URI] = status.token(300, 86400)
        with self.assertRaises(CredkitError.Revoked) as e:
            verifier().verify(presentation, AUDIENCE, nonce)
        self.assertEqual(e.exception.code, "credential_revoked")

        with self.assertRaises(CredkitError.InvalidInput):
            credkit.Verifier(credkit.VerifierConfig(trust=self.trust, check_status=True), None)

    def test_the_wallet_shows_the_status_of_what_it_holds(self):
        web, store = Web(), DictStore()
        status = self.issuer.new_status_list(STATUS_URI, 2, 1000)
        idx = status.allocate()
        web.pages[STATUS_URI] = status.token(300, 86400)
        config = credkit.WalletConfig(trust=self.trust, use_policy=credkit.UsePolicy.ONE_TIME_USE)

        def wallet():  # a fresh status cache each time, over the same store
            return credkit.Wallet.with_store(store, config, self.keystore, web)

        keys = wallet().create_holder_keys(1, credkit.KeyAlgorithm.ES256)
        cred = self.issue(keys[0].public_jwk, status_index=idx, status_uri=STATUS_URI)
        batch = wallet().add([cred], [keys[0].key_id])
        self.assertEqual(wallet().status(batch), credkit.CredentialStatus.VALID)
        status.set(idx, credkit.CredentialStatus.SUSPENDED)
        web.pages[STATUS_URI] = status.token(300, 86400)
        self.assertEqual(wallet().status(batch), credkit.CredentialStatus.SUSPENDED)
        status.set(idx, credkit.CredentialStatus.REVOKED)
        web.pages[STATUS_URI] = status.token(300, 86400)
        self.assertEqual(wallet().status(batch), credkit.CredentialStatus.REVOKED)
        # A credential without a status reference has none; a wallet without HTTP cannot ask.
        keys = wallet().create_holder_keys(1, credkit.KeyAlgorithm.ES256)
        other = wallet().add([self.issue(keys[0].public_jwk)], [keys[0].key_id])
        self.assertIsNone(wallet().status(other))
        offline = credkit.Wallet.with_store(store, config, self.keystore)
        with self.assertRaises(CredkitError.InvalidInput):
            offline.status(batch)
        with self.assertRaises(CredkitError.NotFound):
            wallet().status("no-such-batch")

    def test_raw_signatures_and_cryptokit_keys(self):
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        class RawKeystore(Keystore):
            """A keystore returning r||s signatures and raw x||y public keys (CryptoKit)."""

            def create_key(self, algorithm):
                key = super().create_key(algorithm)
                return credkit.HostKey(key_id=key.key_id, public_key=self.public_key(key.key_id))

            def public_key(self, key_id):
                n = self.keys[key_id].public_key().public_numbers()
                return n.x.to_bytes(32, "big") + n.y.to_bytes(32, "big")

            def sign(self, key_id, message):
                r, s = decode_dss_signature(super().sign(key_id, message))
                return r.to_bytes(32, "big") + s.to_bytes(32, "big")

        keystore = RawKeystore()
        wallet = credkit.Wallet.in_memory(
            credkit.WalletConfig(trust=self.trust, use_policy=credkit.UsePolicy.ROTATE_USE),
            keystore,
        )
        keys = wallet.create_holder_keys(1, credkit.KeyAlgorithm.ES256)
        batch = wallet.add([self.issue(keys[0].public_jwk)], [keys[0].key_id])
        for i in range(5):
            nonce = f"nonce-{i}"
            p = wallet.present(batch, ["/given_name"], AUDIENCE, nonce)
            self.assertTrue(self.verifier.verify(p, AUDIENCE, nonce).holder_bound)

        # A keystore that signs with another key is caught before anything leaves the wallet.
        class WrongKeystore(Keystore):
            def sign(self, key_id, message):
                other = ec.generate_private_key(ec.SECP256R1())
                return other.sign(message, ec.ECDSA(hashes.SHA256()))

        wrong = WrongKeystore()
        wallet = credkit.Wallet.in_memory(
            credkit.WalletConfig(trust=self.trust, use_policy=credkit.UsePolicy.ONE_TIME_USE),
            wrong,
        )
        keys = wallet.create_holder_keys(1, credkit.KeyAlgorithm.ES256)
        batch = wallet.add([self.issue(keys[0].public_jwk)], [keys[0].key_id])
        with self.assertRaises(CredkitError.KeyUnavailable) as e:
            wallet.present(batch, [], AUDIENCE, "n")
        self.assertEqual(e.exception.code, "signer_failed")
        self.assertEqual(wallet.list()[0].remaining, 1)

    def test_status_list_state_survives_a_restart(self):
        status = self.issuer.new_status_list(STATUS_URI, 1, 64)
        taken = {status.allocate() for _ in range(10)}
        status.set(sorted(taken)[0], credkit.CredentialStatus.REVOKED)
        state = status.state()
        restored = self.issuer.restore_status_list(state)
        self.assertEqual(restored.state(), state)
        fresh = {restored.allocate() for _ in range(54)}
        self.assertFalse(fresh & taken, "an index was handed out twice")
        with self.assertRaises(CredkitError.Exhausted) as e:
            restored.allocate()
        self.assertEqual(e.exception.code, "status_list_full")

    def test_host_http_stacks_that_follow_redirects_are_refused(self):
        class Redirecting(Web):
            def get(self, request):
                reply = super().get(request)
                reply.final_url = "https://internal.example/status"
                return reply

        web = Redirecting()
        status = self.issuer.new_status_list(STATUS_URI, 1, 16)
        idx = status.allocate()
        keys = self.wallet.create_holder_keys(1, credkit.KeyAlgorithm.ES256)
        cred = self.issue(keys[0].public_jwk, status_index=idx, status_uri=STATUS_URI)
        batch = self.wallet.add([cred], [keys[0].key_id])
        web.pages[STATUS_URI] = status.token(300, 86400)
        verifier = credkit.Verifier(
            credkit.VerifierConfig(trust=self.trust, check_status=True), web
        )
        p = self.wallet.present(batch, [], AUDIENCE, "n")
        with self.assertRaises(CredkitError.Network) as e:
            verifier.verify(p, AUDIENCE, "n")
        self.assertEqual(e.exception.code, "url_forbidden")
        self.assertTrue(credkit.is_public_address("93.184.216.34"))
        self.assertFalse(credkit.is_public_address("169.254.169.254"))

    def test_software_issuer_key(self):
        jwk = credkit.generate_private_jwk(credkit.KeyAlgorithm.ES256)
        issuer = credkit.Issuer.with_private_jwk(ISSUER, jwk)
        public = json.loads(issuer.public_jwk())
        self.assertNotIn("d", public)
        with self.assertRaises(CredkitError.Malformed):
            credkit.Issuer.with_private_jwk(ISSUER, "{}")
        with self.assertRaises(CredkitError.InvalidInput):
            issuer.issue(credkit.IssueRequest(vct=PID_VCT, claims_json="[1]"))


# --- OpenID4VP 1.0 against a verifier over HTTPS on loopback --------------------------------

import asyncio
import datetime
import http.client
import http.server
import ipaddress
import ssl
import urllib.parse

from cryptography import x509
from cryptography.x509.oid import NameOID


def _b64(n):
    return base64.urlsafe_b64encode(n.to_bytes(32, "big")).rstrip(b"=").decode()


def _cert(subject_cn, key, issuer_cn, issuer_key, ca, san=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
    )
    if san:
        b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


class AsyncWeb(credkit.HostAsyncHttpClient):
    """The app's asynchronous HTTP stack: one exchange, no redirects, a private TLS root."""

    def __init__(self, tls):
        self.tls = tls
        self.exchanges = []

    async def send(self, exchange):
        self.exchanges.append((exchange.method, exchange.url))
        return await asyncio.to_thread(self._send, exchange)

    def _send(self, exchange):
        url = urllib.parse.urlsplit(exchange.url)
        conn = http.client.HTTPSConnection(
            url.hostname, url.port, context=self.tls, timeout=exchange.timeout_ms / 1000
        )
        headers = {}
        if exchange.content_type:
            headers["Content-Type"] = exchange.content_type
        if exchange.accept:
            headers["Accept"] = exchange.accept
        for h in exchange.headers:  # DPoP, Authorization (OpenID4VCI)
            headers[h.name] = h.value
        path = url.path + ("?" + url.query if url.query else "")
        body = bytes(exchange.body) if exchange.method == "POST" else None
        conn.request(exchange.method, path, body=body, headers=headers)
        reply = conn.getresponse()
        data = reply.read(exchange.max_bytes + 1)
        conn.close()
        kept = [credkit.HttpHeader(name=n, value=v) for n, v in reply.getheaders()
                if n.lower() in ("dpop-nonce", "www-authenticate")]
        return credkit.HttpReply(
            status=reply.status, body=data, content_type=reply.getheader("Content-Type"),
            location=reply.getheader("Location"), headers=kept,
        )


class OpenId4Vp(unittest.TestCase):
    """A whole presentation: credkit's verifier object behind an HTTPS server in this test,
    the wallet resolving the request URL, showing who asks, and answering."""

    issue = Flow.issue

    def setUp(self):
        Flow.setUp(self)
        self.dir = tempfile.TemporaryDirectory()
        # TLS for the loopback server.
        tls_key = ec.generate_private_key(ec.SECP256R1())
        tls_cert = _cert("127.0.0.1", tls_key, "127.0.0.1", tls_key, False,
                         [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        cert_file = os.path.join(self.dir.name, "tls.pem")
        key_file = os.path.join(self.dir.name, "tls.key")
        with open(cert_file, "w") as f:
            f.write(_pem(tls_cert))
        with open(key_file, "wb") as f:
            f.write(tls_key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
        server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_tls.load_cert_chain(cert_file, key_file)
        client_tls = ssl.create_default_context(cafile=cert_file)
        # The verifier's request-signing chain: a CA the wallet trusts, and a leaf.
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _cert("test verifier CA", ca_key, "test verifier CA", ca_key, True)
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        leaf = _cert("verifier.example", leaf_key, "test verifier CA", ca_key, False,
                     [x509.DNSName("verifier.example")])
        self.ca_pem = _pem(ca)
        n = leaf_key.private_numbers()
        jwk = {"kty": "EC", "crv": "P-256", "x": _b64(n.public_numbers.x),
               "y": _b64(n.public_numbers.y), "d": _b64(n.private_value)}
        test = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, status, ctype, body):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def request_object(self, nonce):
                tx = self.path.rsplit("/", 1)[-1]
                try:
                    jwt = test.rp.request_object(tx, nonce)
                except CredkitError:
                    return self.answer(404, "text/plain", b"")
                self.answer(200, "application/oauth-authz-req+jwt", jwt.encode())

            def do_GET(self):
                self.request_object(None)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path.startswith("/request/"):
                    form = urllib.parse.parse_qs(body.decode())
                    return self.request_object(form.get("wallet_nonce", [None])[0])
                test.posts += 1
                try:
                    r = test.rp.handle_response(self.headers.get("Content-Type"), body)
                except CredkitError:
                    return self.answer(400, "application/json", b'{"error":"invalid_request"}')
                reply = {"redirect_uri": r.redirect_uri} if r.redirect_uri else {}
                self.answer(200, "application/json", json.dumps(reply).encode())

        self.posts = 0
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = server_tls.wrap_socket(self.server.socket, server_side=True)
        base = f"https://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.rp = credkit.PresentationVerifier(
            credkit.PresentationVerifierConfig(
                signing_key_jwk=json.dumps(jwk),
                x5c_pem=_pem(leaf),
                client_id_prefix="x509_hash",
                response_uri=base + "/response",
                request_uri_base=base + "/request",
                trust=self.trust,
                haip=True,
            )
        )
        self.web = AsyncWeb(client_tls)
        self.haip_wallet = self.wallet_trusting([self.ca_pem])

    def tearDown(self):
        self.server.shutdown()
        self.dir.cleanup()

    def wallet_trusting(self, anchors):
        return credkit.Wallet.in_memory(
            credkit.WalletConfig(
                trust=self.trust,
                accepted_vcts=[PID_VCT],
                type_metadata=[TYPE_METADATA],
                locales=["en"],
                use_policy=credkit.UsePolicy.ONE_TIME_USE,
                verifier_trust=credkit.VerifierTrustConfig(
                    trust_anchors_pem=anchors, haip=True, allow_internal_addresses=True
                ),
            ),
            self.keystore,
            None,
            self.web,
        )

    def receive_into(self, wallet, copies=2):
        keys = wallet.create_holder_keys(copies, credkit.KeyAlgorithm.ES256)
        return wallet.add([self.issue(k.public_jwk) for k in keys], [k.key_id for k in keys])

    def test_redirect_flow_haip_direct_post_jwt(self):
        batch = self.receive_into(self.haip_wallet)
        created = self.rp.create(json.dumps(OVER_18), "direct_post.jwt", [])
        self.assertTrue(created.authorization_request_uri.startswith("openid4vp://?client_id=x509_hash%3A"))
        request = asyncio.run(self.haip_wallet.resolve_request(created.authorization_request_uri, None))
        who = request.verifier()
        self.assertTrue(who.authenticated)
        self.assertEqual(who.client_id, self.rp.client_id())
        self.assertEqual(who.dns_names, ["verifier.example"])
        self.assertFalse(request.is_dc_api())
        [answer] = request.candidates()
        [candidate] = answer.candidates
        self.assertEqual(candidate.revealed[0].label, "Over 18")
        # Resolving sent nothing but the request object fetch (POST with a wallet_nonce).
        self.assertEqual([m for m, _ in self.web.exchanges], ["POST"])
        self.assertEqual(self.posts, 0)
        self.assertEqual(self.rp.result(created.id).status, "pending")
        # A choice beyond the candidates is refused before anything is sent.
        with self.assertRaises(CredkitError.InvalidInput):
            asyncio.run(self.haip_wallet.respond(
                request, [credkit.Choice(query_id="pid", batch=batch, disclose=["/given_name"])]))
        self.assertEqual(self.posts, 0)
        outcome = asyncio.run(self.haip_wallet.respond(
            request, [credkit.Choice(query_id="pid", batch=batch, disclose=candidate.disclose)]))
        self.assertTrue(outcome.sent)
        self.assertEqual(outcome.status, 200)
        self.assertEqual(self.posts, 1)
        result = self.rp.result(created.id)
        self.assertEqual(result.status, "verified", result.error)
        [pid] = json.loads(result.credentials_json)["pid"]
        self.assertEqual(pid["claims"], {"age_equal_or_over": {"18": True}})
        self.assertEqual(pid["issuer"], ISSUER)

    def test_dc_api_flow(self):
        batch = self.receive_into(self.haip_wallet)
        created = self.rp.create(json.dumps(OVER_18), "dc_api.jwt", ["https://shop.example"])
        self.assertEqual(created.authorization_request_uri, "")
        request = asyncio.run(self.haip_wallet.resolve_request(
            created.dc_api_request_json, "https://shop.example"))
        self.assertTrue(request.is_dc_api())
        self.assertEqual(request.verifier().client_id, self.rp.client_id())
        [answer] = request.candidates()
        outcome = asyncio.run(self.haip_wallet.respond(
            request, [credkit.Choice(query_id="pid", batch=batch,
                                     disclose=answer.candidates[0].disclose)]))
        self.assertFalse(outcome.sent)
        self.assertIn("response", json.loads(outcome.dc_api_response_json))
        result = self.rp.handle_dc_api_response(created.id, outcome.dc_api_response_json)
        self.assertEqual(result.status, "verified", result.error)
        # The same request from another site's page is refused.
        other = self.rp.create(json.dumps(OVER_18), "dc_api.jwt", ["https://shop.example"])
        with self.assertRaises(CredkitError.Malformed) as e:
            asyncio.run(self.haip_wallet.resolve_request(
                other.dc_api_request_json, "https://evil.example"))
        self.assertEqual(e.exception.code, "origin_mismatch")

    def test_an_untrusted_verifier_is_refused_and_nothing_is_sent(self):
        other_ca_key = ec.generate_private_key(ec.SECP256R1())
        other_ca = _cert("other CA", other_ca_key, "other CA", other_ca_key, True)
        wallet = self.wallet_trusting([_pem(other_ca)])
        self.receive_into(wallet)
        created = self.rp.create(json.dumps(OVER_18), "direct_post.jwt", [])
        with self.assertRaises(CredkitError.UntrustedIssuer) as e:
            asyncio.run(wallet.resolve_request(created.authorization_request_uri, None))
        self.assertEqual(e.exception.code, "untrusted_verifier")
        self.assertEqual(self.posts, 0)

    def test_declining_ends_the_transaction(self):
        self.receive_into(self.haip_wallet)
        created = self.rp.create(json.dumps(OVER_18), "direct_post.jwt", [])
        request = asyncio.run(self.haip_wallet.resolve_request(created.authorization_request_uri, None))
        outcome = asyncio.run(self.haip_wallet.decline(request))
        self.assertTrue(outcome.sent)
        result = self.rp.result(created.id)
        self.assertEqual((result.status, result.error), ("failed", "access_denied"))


class OpenId4Vci(unittest.TestCase):
    """A whole issuance: credkit's Credential Issuer behind an HTTPS server in this test, the
    wallet accepting its offers (pre-authorized with a transaction code, and authorization
    code through PAR), verifying and storing what it receives."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        tls_key = ec.generate_private_key(ec.SECP256R1())
        tls_cert = _cert("127.0.0.1", tls_key, "127.0.0.1", tls_key, False,
                         [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        cert_file = os.path.join(self.dir.name, "tls.pem")
        key_file = os.path.join(self.dir.name, "tls.key")
        with open(cert_file, "w") as f:
            f.write(_pem(tls_cert))
        with open(key_file, "wb") as f:
            f.write(tls_key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
        server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_tls.load_cert_chain(cert_file, key_file)
        self.client_tls = ssl.create_default_context(cafile=cert_file)
        test = self
        self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def handle_any(self, method):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length) if length else b""
                path, _, query = self.path.partition("?")
                reply = test.service.handle(credkit.IssuerHttpRequest(
                    method=method, path=path, query=query,
                    headers=[credkit.HttpHeader(name=n, value=v) for n, v in self.headers.items()],
                    body=body,
                ))
                test.hits.append((path, reply.status))
                self.send_response(reply.status)
                for h in reply.headers:
                    self.send_header(h.name, h.value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(bytes(reply.body))

            def do_GET(self):
                self.handle_any("GET")

            def do_POST(self):
                self.handle_any("POST")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = server_tls.wrap_socket(self.server.socket, server_side=True)
        self.base = f"https://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.hsm = IssuerHsm()
        issuer = credkit.Issuer(self.base, self.hsm)
        self.service = issuer.openid4vci_service("pid", PID_VCT, 3)
        self.keystore = Keystore()
        self.wallet = credkit.Wallet.in_memory(
            credkit.WalletConfig(
                trust=credkit.TrustConfig(
                    pinned=[credkit.PinnedIssuer(issuer=self.base, jwks=issuer.public_jwk())]
                ),
                accepted_vcts=[PID_VCT],
                use_policy=credkit.UsePolicy.ONE_TIME_USE,
                verifier_trust=credkit.VerifierTrustConfig(allow_internal_addresses=True),
            ),
            self.keystore,
            None,
            AsyncWeb(self.client_tls),
        )

    def tearDown(self):
        self.server.shutdown()
        self.dir.cleanup()

    def test_pre_authorized_offer_with_transaction_code(self):
        offer = self.service.create_offer(json.dumps(CLAIMS), True, False)
        self.assertEqual(len(offer.tx_code), 6)
        pending = asyncio.run(self.wallet.accept_offer(offer.uri, offer.tx_code, 3))
        self.assertIsNone(pending.authorization_url())
        self.assertEqual(pending.credential_issuer(), self.base)
        stored = asyncio.run(pending.complete(None))
        self.assertEqual((stored.count, stored.format, stored.vct), (3, "dc+sd-jwt", PID_VCT))
        [held] = self.wallet.list()
        self.assertEqual(held.batch, stored.batch)
        self.assertEqual(held.remaining, 3)
        self.assertIn(("/notification", 204), self.hits)
        # The offer is single use.
        with self.assertRaises(CredkitError.InvalidInput) as e:
            asyncio.run(self.wallet.accept_offer(offer.uri, offer.tx_code, 1))
        self.assertEqual(e.exception.code, "invalid_grant")

    def test_the_host_key_attestation_is_asked_for_the_request_keys(self):
        calls = []

        class Attest(credkit.HostKeyAttestation):
            def attest(self, public_keys_jwk, nonce):
                calls.append(([json.loads(k) for k in public_keys_jwk], nonce))
                return None  # this platform cannot attest; the issuer does not require it

        offer = self.service.create_offer(json.dumps(CLAIMS), False, False)
        pending = asyncio.run(self.wallet.accept_offer(offer.uri, None, 2, None, None, Attest()))
        stored = asyncio.run(pending.complete(None))
        self.assertEqual(stored.count, 2)
        [(keys, nonce)] = calls
        self.assertEqual(len(keys), 2)
        self.assertTrue(all(k["kty"] == "EC" and "d" not in k for k in keys))
        self.assertTrue(nonce)

    def test_a_wrong_transaction_code_stores_nothing(self):
        offer = self.service.create_offer(json.dumps(CLAIMS), True, False)
        with self.assertRaises(CredkitError.InvalidInput) as e:
            asyncio.run(self.wallet.accept_offer(offer.uri, "000000", 1))
        self.assertEqual(e.exception.code, "invalid_grant")
        self.assertEqual(self.wallet.list(), [])
        with self.assertRaises(CredkitError.Malformed) as e:
            asyncio.run(self.wallet.accept_offer(offer.uri, None, 1))
        self.assertEqual(e.exception.code, "invalid_offer")

    def test_authorization_code_offer_through_the_browser_and_a_restart(self):
        offer = self.service.create_offer(json.dumps(CLAIMS), False, True)
        pending = asyncio.run(self.wallet.accept_offer(
            offer.uri, None, 2, "com.example.wallet:/callback"))
        url = pending.authorization_url()
        self.assertTrue(url.startswith(self.base + "/authorize?"), url)
        # The app is killed while the browser is open; the saved flow comes back.
        saved = pending.save()
        restored = asyncio.run(self.wallet.restore_issuance(saved))
        # The browser: the issuer authorises by issuer_state and redirects to the app.
        location = self.browser(url)
        self.assertTrue(location.startswith("com.example.wallet:/callback?code="), location)
        stored = asyncio.run(restored.complete(location))
        self.assertEqual(stored.count, 2)
        # A redirect from another authorization server (iss mix-up) is refused.
        offer = self.service.create_offer(json.dumps(CLAIMS), False, True)
        pending = asyncio.run(self.wallet.accept_offer(
            offer.uri, None, 1, "com.example.wallet:/callback"))
        location = self.browser(pending.authorization_url())
        honest = urllib.parse.quote(self.base, safe="")
        self.assertIn("iss=" + honest, location)
        forged = location.replace("iss=" + honest, "iss=https%3A%2F%2Fevil.example")
        with self.assertRaises(CredkitError.UntrustedIssuer) as e:
            asyncio.run(pending.complete(forged))
        self.assertEqual(e.exception.code, "iss_mismatch")
        self.assertEqual(len(self.wallet.list()), 1)

    def browser(self, url):
        parts = urllib.parse.urlsplit(url)
        conn = http.client.HTTPSConnection(parts.hostname, parts.port, context=self.client_tls)
        conn.request("GET", parts.path + "?" + parts.query)
        reply = conn.getresponse()
        location = reply.getheader("Location")
        conn.close()
        self.assertEqual(reply.status, 302)
        return location


if __name__ == "__main__":
    unittest.main()

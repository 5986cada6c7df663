// End-to-end tests of the Kotlin bindings (the Kotlin twin of tests/python/test_credkit.py).
//
// Keys live in a host key manager written with java.security that returns X.509
// SubjectPublicKeyInfo public keys and DER signatures, exactly as Android Keystore does; the
// issuer signs through a host signer that returns its public key as an uncompressed SEC1
// point, as iOS's SecKeyCopyExternalRepresentation does. No test framework and no JSON
// library: a plain `main`, a few assertion helpers and a tiny JSON reader. Run by
// bindings/test-kotlin.

import credkit.*
import java.math.BigInteger
import java.nio.file.Files
import java.security.KeyPair
import java.security.KeyPairGenerator
import java.security.SecureRandom
import java.security.Signature
import java.security.interfaces.ECPublicKey
import java.security.spec.ECGenParameterSpec
import java.util.Base64
import java.util.UUID
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicInteger
import kotlin.system.exitProcess

const val PID_VCT = "urn:eudi:pid:1"
const val ISSUER = "https://pid-provider.example.eu"
const val AUDIENCE = "https://bar.example"
const val STATUS_URI = "https://pid-provider.example.eu/status/1"

val TYPE_METADATA = """
    {"vct": "$PID_VCT", "name": "PID",
     "display": [{"locale": "en", "name": "Person Identification Data", "description": "Your EU PID",
                  "rendering": {"simple": {"background_color": "#12107c", "text_color": "#ffffff"}}}],
     "claims": [
       {"path": ["given_name"], "display": [{"locale": "en", "label": "Given name"}]},
       {"path": ["age_equal_or_over", "18"], "display": [{"locale": "en", "label": "Over 18"}]}
     ]}
""".trimIndent()

val CLAIMS = """
    {"given_name": "Erika", "family_name": "Mustermann", "birthdate": "1984-01-26",
     "nationalities": ["DE"], "age_equal_or_over": {"18": true, "65": false}}
""".trimIndent()

fun over18(vct: String = PID_VCT) = """
    {"credentials": [{"id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": ["$vct"]},
                      "claims": [{"path": ["age_equal_or_over", "18"]}]}]}
""".trimIndent()

val OVER_18 = over18()

// ---------------------------------------------------------------------------------------------
// Assertions

object Checks {
    var passed = 0
}

class CheckFailed(message: String) : AssertionError(message)

fun fail(message: String): Nothing = throw CheckFailed(message)

fun assertTrue(condition: Boolean, what: String) {
    if (!condition) fail(what)
    Checks.passed++
}

fun <T> assertEq(actual: T, expected: T, what: String) {
    if (actual != expected) fail("$what: expected <$expected>, got <$actual>")
    Checks.passed++
}

/** Runs [block], which must throw a [T]; returns it. */
inline fun <reified T : Throwable> assertThrows(what: String, block: () -> Unit): T {
    try {
        block()
    } catch (e: Throwable) {
        if (e is T) {
            Checks.passed++
            return e
        }
        throw CheckFailed("$what: expected ${T::class.qualifiedName}, got $e").also { it.initCause(e) }
    }
    fail("$what: expected ${T::class.qualifiedName}, nothing was thrown")
}

// ---------------------------------------------------------------------------------------------
// A tiny JSON reader (objects -> Map, arrays -> List, numbers -> Long/Double), enough to compare
// what the library returns with exact values.

fun parseJson(text: String): Any? = JsonReader(text).run { val v = value(); end(); v }

class JsonReader(private val s: String) {
    private var i = 0

    fun end() {
        ws()
        if (i != s.length) error("trailing characters at $i in $s")
    }

    fun value(): Any? {
        ws()
        return when (val c = s.getOrNull(i) ?: error("unexpected end of $s")) {
            '{' -> obj()
            '[' -> arr()
            '"' -> string()
            't' -> literal("true", true)
            'f' -> literal("false", false)
            'n' -> literal("null", null)
            else -> {
                if (c != '-' && !c.isDigit()) error("unexpected '$c' at $i in $s")
                val start = i
                while (i < s.length && s[i] in "+-0123456789.eE") i++
                val n = s.substring(start, i)
                n.toLongOrNull() ?: n.toDouble()
            }
        }
    }

    private fun obj(): Map<String, Any?> {
        expect('{')
        val map = LinkedHashMap<String, Any?>()
        ws()
        if (s.getOrNull(i) == '}') { i++; return map }
        do {
            ws()
            val key = string()
            ws(); expect(':')
            map[key] = value()
            ws()
        } while (s.getOrNull(i++) == ',')
        if (s[i - 1] != '}') error("expected , or } at ${i - 1} in $s")
        return map
    }

    private fun arr(): List<Any?> {
        expect('[')
        val list = ArrayList<Any?>()
        ws()
        if (s.getOrNull(i) == ']') { i++; return list }
        do {
            list.add(value())
            ws()
        } while (s.getOrNull(i++) == ',')
        if (s[i - 1] != ']') error("expected , or ] at ${i - 1} in $s")
        return list
    }

    private fun string(): String {
        expect('"')
        val out = StringBuilder()
        while (true) {
            when (val c = s[i++]) {
                '"' -> return out.toString()
                '\\' -> when (val e = s[i++]) {
                    'n' -> out.append('\n'); 't' -> out.append('\t'); 'r' -> out.append('\r')
                    'b' -> out.append('\b'); 'f' -> out.append('\u000c')
                    'u' -> { out.append(s.substring(i, i + 4).toInt(16).toChar()); i += 4 }
                    else -> out.append(e)
                }
                else -> out.append(c)
            }
        }
    }

    private fun literal(word: String, v: Any?): Any? {
        if (!s.startsWith(word, i)) error("bad literal at $i in $s")
        i += word.length
        return v
    }

    private fun expect(c: Char) {
        if (s.getOrNull(i) != c) error("expected '$c' at $i in $s")
        i++
    }

    private fun ws() {
        while (i < s.length && s[i].isWhitespace()) i++
    }
}

@Suppress("UNCHECKED_CAST")
fun jsonObject(text: String) = parseJson(text) as Map<String, Any?>

// ---------------------------------------------------------------------------------------------
// Host implementations

val B64URL: Base64.Encoder = Base64.getUrlEncoder().withoutPadding()

/** A coordinate as exactly 32 big-endian bytes (BigInteger adds a sign byte or drops zeros). */
fun coordinate(n: BigInteger): ByteArray {
    val raw = n.toByteArray().let { if (it.size > 32) it.copyOfRange(it.size - 32, it.size) else it }
    return ByteArray(32 - raw.size) + raw
}

fun newP256(): KeyPair =
    KeyPairGenerator.getInstance("EC").apply { initialize(ECGenParameterSpec("secp256r1")) }.generateKeyPair()

fun derSign(pair: KeyPair, message: ByteArray): ByteArray =
    Signature.getInstance("SHA256withECDSA").run {
        initSign(pair.private)
        update(message)
        sign() // ASN.1 DER SEQUENCE { r, s }, as Android Keystore returns it
    }

/** A DER ECDSA signature (SEQUENCE { INTEGER r, INTEGER s }) as raw r||s, 32 bytes each. */
fun derToRaw(der: ByteArray): ByteArray {
    var i = 0
    fun byte(): Int = (der.getOrNull(i++) ?: error("truncated DER signature")).toInt() and 0xff
    fun length(): Int {
        val first = byte()
        if (first < 0x80) return first
        var n = 0
        repeat(first and 0x7f) { n = (n shl 8) or byte() }
        return n
    }
    fun integer(): ByteArray {
        if (byte() != 0x02) error("expected an INTEGER in the DER signature")
        val len = length()
        val bytes = der.copyOfRange(i, i + len)
        i += len
        return coordinate(BigInteger(1, bytes))
    }
    if (byte() != 0x30) error("expected a SEQUENCE in the DER signature")
    val end = length().let { it + i }
    if (end != der.size) error("DER signature length mismatch")
    val raw = integer() + integer()
    if (i != end) error("trailing bytes in the DER signature")
    return raw
}

/** A host keystore: P-256 keys; SPKI public keys and DER signatures (Android-like). */
open class Keystore : HostKeyManager {
    val keys = ConcurrentHashMap<String, KeyPair>()
    @Volatile var failWith: Exception? = null
    val signatures = AtomicInteger()

    override fun createKey(algorithm: KeyAlgorithm): HostKey {
        if (algorithm != KeyAlgorithm.ES256) {
            throw CredkitException.Unsupported("alg_unsupported", "only ES256 here")
        }
        val pair = newP256()
        val keyId = UUID.randomUUID().toString()
        keys[keyId] = pair
        return HostKey(keyId = keyId, publicKey = pair.public.encoded) // X.509 SubjectPublicKeyInfo
    }

    override fun publicKey(keyId: String): ByteArray =
        (keys[keyId] ?: throw CredkitException.NotFound("not_found", keyId)).public.encoded

    override fun sign(keyId: String, message: ByteArray): ByteArray {
        failWith?.let { throw it }
        val pair = keys[keyId] ?: throw CredkitException.NotFound("not_found", keyId)
        return derSign(pair, message).also { signatures.incrementAndGet() }
    }

    override fun deleteKey(keyId: String) {
        keys.remove(keyId)
    }

    /** The JWK of a host key, as an issuer receives it in a proof. */
    fun jwkOf(keyId: String): String {
        val w = (keys.getValue(keyId).public as ECPublicKey).w
        val x = B64URL.encodeToString(coordinate(w.affineX))
        val y = B64URL.encodeToString(coordinate(w.affineY))
        return """{"kty": "EC", "crv": "P-256", "x": "$x", "y": "$y"}"""
    }
}

/** An issuer's HSM key: SEC1 uncompressed public key (iOS-like), DER signatures. */
class IssuerHsm : HostSigner {
    private val pair = newP256()

    override fun algorithm() = KeyAlgorithm.ES256

    override fun publicKey(): ByteArray {
        val w = (pair.public as ECPublicKey).w
        return byteArrayOf(0x04) + coordinate(w.affineX) + coordinate(w.affineY)
    }

    override fun sign(message: ByteArray) = derSign(pair, message)
}

/** The app's own credential store. */
class MapStore : HostCredentialStore {
    val records = LinkedHashMap<String, CredentialRecord>()

    @Synchronized override fun insert(records: List<CredentialRecord>) {
        if (records.any { it.id in this.records }) {
            throw CredkitException.Storage("storage_failed", "duplicate id")
        }
        records.forEach { this.records[it.id] = it }
    }

    @Synchronized override fun list() = records.values.toList()

    @Synchronized override fun update(record: CredentialRecord) {
        if (record.id !in records) throw CredkitException.NotFound("not_found", record.id)
        records[record.id] = record
    }

    @Synchronized override fun deleteBatch(batch: String): ULong {
        val ids = records.filterValues { it.batch == batch }.keys.toList()
        ids.forEach { records.remove(it) }
        return ids.size.toULong()
    }
}

/** The app's HTTP stack, serving what the issuer published. */
open class Web : HostHttpClient {
    val pages = ConcurrentHashMap<String, String>()
    val requests = java.util.Collections.synchronizedList(ArrayList<HttpRequest>())

    override fun get(request: HttpRequest): HttpReply {
        requests.add(request)
        val body = pages[request.url] ?: return HttpReply(status = 404u, body = ByteArray(0))
        return HttpReply(status = 200u, body = body.toByteArray(), contentType = "application/statuslist+jwt")
    }
}

// ---------------------------------------------------------------------------------------------
// The fixture (the Python test's setUp), fresh for every test

class Flow : AutoCloseable {
    val hsm = IssuerHsm()
    val issuer = Issuer(ISSUER, hsm)
    val trust = TrustConfig(pinned = listOf(PinnedIssuer(issuer = ISSUER, jwks = issuer.publicJwk())))
    val keystore = Keystore()
    val wallet = Wallet.inMemory(
        WalletConfig(
            trust = trust,
            acceptedVcts = listOf(PID_VCT),
            typeMetadata = listOf(TYPE_METADATA),
            locales = listOf("en"),
            usePolicy = UsePolicy.ONE_TIME_USE,
        ),
        keystore,
        null,
    )
    val verifier = Verifier(VerifierConfig(trust = trust, acceptedVcts = listOf(PID_VCT)))

    fun issue(
        holderJwk: String,
        statusIndex: ULong? = null,
        statusUri: String? = null,
        issuedAt: Long? = null,
        expiresAt: Long? = null,
    ): String =
        issuer.issue(
            IssueRequest(
                vct = PID_VCT,
                claimsJson = CLAIMS,
                discloseAll = true,
                holderJwk = holderJwk,
                decoys = 2u,
                statusIndex = statusIndex,
                statusUri = statusUri,
                issuedAt = issuedAt,
                expiresAt = expiresAt,
            )
        )

    fun receive(copies: Int = 2): String {
        val keys = wallet.createHolderKeys(copies.toUInt(), KeyAlgorithm.ES256)
        val creds = keys.map { issue(it.publicJwk) }
        return wallet.add(creds, keys.map { it.keyId })
    }

    override fun close() {
        verifier.close()
        wallet.close()
        issuer.close()
    }
}

// ---------------------------------------------------------------------------------------------
// The tests

fun testIssueStoreQueryConsentPresentVerify(f: Flow) {
    val batch = f.receive()
    val held = f.wallet.list().single()
    assertEq(held.batch, batch, "batch")
    assertEq(held.name, "Person Identification Data", "name")
    assertEq(held.description, "Your EU PID", "description")
    val rendering = parseJson(held.renderingJson!!) as Map<*, *>
    assertEq((rendering["simple"] as Map<*, *>)["background_color"], "#12107c", "rendering")
    assertTrue(held.issuedAt != null, "issuedAt")
    assertEq(held.expiresAt, null, "expiresAt")
    assertEq(held.copies to held.remaining, 2uL to 2uL, "copies, remaining")
    val labels = held.disclosable.associate { it.pointer to it.label }
    assertEq(labels["/given_name"], "Given name", "label of /given_name")
    assertEq(labels["/age_equal_or_over/18"], "Over 18", "label of /age_equal_or_over/18")

    // The consent screen: exactly "over 18", nothing else.
    val answer = f.wallet.query(OVER_18).single()
    assertTrue(answer.required, "answer.required")
    val candidate = answer.candidates.single()
    assertEq(
        candidate.revealed.map { Triple(it.pointer, it.label, parseJson(it.valueJson)) },
        listOf(
            Triple("/age_equal_or_over/18", "Over 18", true),
            // The container, as the verifier will see it: only "18" inside.
            Triple("/age_equal_or_over", null, mapOf("18" to true)),
        ),
        "revealed",
    )
    val nonce = newNonce()
    // A choice beyond what the consent screen showed is refused.
    assertThrows<CredkitException.InvalidInput>("choice beyond the candidates") {
        f.wallet.buildVpToken(
            OVER_18,
            listOf(Choice(queryId = "pid", batch = batch, disclose = listOf("/given_name"))),
            AUDIENCE,
            "n",
        )
    }
    assertThrows<CredkitException.Unsatisfiable>("no choice for a required query") {
        f.wallet.buildVpToken(OVER_18, listOf(), AUDIENCE, "n")
    }
    assertEq(f.keystore.signatures.get(), 0, "keystore signatures after refused choices")
    val vpToken = f.wallet.buildVpToken(
        OVER_18,
        listOf(Choice(queryId = "pid", batch = batch, disclose = candidate.disclose)),
        AUDIENCE,
        nonce,
    )
    assertEq(f.keystore.signatures.get(), 1, "keystore signatures")

    val result = f.verifier.verifyResponse(OVER_18, vpToken, AUDIENCE, nonce).single()
    assertEq(result.queryId, "pid", "queryId")
    val claims = jsonObject(result.credential.claimsJson)
    assertEq(claims["age_equal_or_over"], mapOf("18" to true), "age_equal_or_over")
    for (hidden in listOf("given_name", "family_name", "birthdate", "nationalities")) {
        assertTrue(hidden !in claims, "$hidden is hidden")
        assertTrue(!result.credential.claimsJson.contains(hidden), "\"$hidden\" absent from claimsJson")
    }
    assertTrue(!result.credential.claimsJson.contains("Erika"), "given name value absent")
    assertEq(
        result.credential.disclosed.sorted(),
        listOf("/age_equal_or_over", "/age_equal_or_over/18"),
        "disclosed",
    )
    assertTrue(result.credential.holderBound, "holderBound")
    assertEq(result.credential.issuer, ISSUER, "issuer")
    assertEq(f.wallet.list()[0].remaining, 1uL, "remaining after presentation")
}

fun testErrorsArriveAsTypedKinds(f: Flow) {
    val batch = f.receive(copies = 1)
    val nonce = newNonce()
    val presentation = f.wallet.present(batch, listOf("/given_name"), AUDIENCE, nonce)

    val e1 = assertThrows<CredkitException.KeyBinding>("wrong nonce") {
        f.verifier.verify(presentation, AUDIENCE, "another-nonce")
    }
    assertEq(e1.code, "nonce_mismatch", "wrong nonce code")

    val e2 = assertThrows<CredkitException.KeyBinding>("wrong audience") {
        f.verifier.verify(presentation, "https://evil.example", nonce)
    }
    assertEq(e2.code, "aud_mismatch", "wrong audience code")

    // A presentation whose issuer signature was altered.
    val (issuerJwt, rest) = presentation.split("~", limit = 2)
    val (head, payload, sig) = issuerJwt.split(".").also { assertEq(it.size, 3, "issuer JWT parts") }
    val flipped = (if (sig[0] == 'A') "B" else "A") + sig.substring(1)
    val e3 = assertThrows<CredkitException.InvalidSignature>("altered issuer signature") {
        f.verifier.verify("$head.$payload.$flipped~$rest", AUDIENCE, nonce)
    }
    assertEq(e3.code, "invalid_signature", "altered issuer signature code")

    // A credential that has expired is refused by the wallet.
    val key = f.wallet.createHolderKeys(1u, KeyAlgorithm.ES256)[0]
    val old = f.issue(key.publicJwk, issuedAt = 1_000_000_000L, expiresAt = 1_000_086_400L)
    val eExpired = assertThrows<CredkitException.Expired>("expired credential") {
        f.wallet.add(listOf(old), listOf(key.keyId))
    }
    assertEq(eExpired.code, "expired", "expired credential code")

    // One-time use: the only copy is spent.
    val e4 = assertThrows<CredkitException.Exhausted>("spent copy") {
        f.wallet.present(batch, listOf("/given_name"), AUDIENCE, nonce)
    }
    assertEq(e4.code, "credential_exhausted", "spent copy code")

    assertThrows<CredkitException.NotFound>("unknown batch") {
        f.wallet.present("no-such-batch", listOf(), AUDIENCE, nonce)
    }

    // A credential of an issuer the verifier does not trust.
    Verifier(
        VerifierConfig(
            trust = TrustConfig(pinned = listOf(PinnedIssuer(issuer = "https://other.example", jwks = f.issuer.publicJwk()))),
        ),
        null,
    ).use { stranger ->
        assertThrows<CredkitException.UntrustedIssuer>("untrusted issuer") {
            stranger.verify(presentation, AUDIENCE, nonce)
        }
    }

    // Nothing held answers a query for another type.
    assertThrows<CredkitException.Unsatisfiable>("query for another type") {
        f.wallet.query(over18("urn:example:other"))
    }
    assertThrows<CredkitException.InvalidInput>("empty query") {
        f.wallet.query("""{"credentials": []}""")
    }

    // A credential bound to a key the wallet does not hold is refused (HOL-02).
    val other = Keystore()
    val foreign = other.createKey(KeyAlgorithm.ES256)
    val foreignJwk = other.jwkOf(foreign.keyId)
    val mine = f.wallet.createHolderKeys(1u, KeyAlgorithm.ES256)[0]
    val e5 = assertThrows<CredkitException.KeyBinding>("credential bound to a foreign key") {
        f.wallet.add(listOf(f.issue(foreignJwk)), listOf(mine.keyId))
    }
    assertEq(e5.code, "holder_key_unknown", "foreign key code")
    // Key ids the keystore does not know.
    assertThrows<CredkitException.NotFound>("unknown key id") {
        f.wallet.add(listOf(f.issue(mine.publicJwk)), listOf(foreign.keyId))
    }
}

fun testKeystoreFailuresAreKeyUnavailable(f: Flow) {
    val batch = f.receive(copies = 2)
    // The user cancels the biometric prompt.
    f.keystore.failWith = CredkitException.KeyUnavailable("key_unavailable", "cancelled")
    assertThrows<CredkitException.KeyUnavailable>("cancelled prompt") {
        f.wallet.present(batch, listOf(), AUDIENCE, "n-1")
    }
    // The keystore throws something it should not: still a typed error, and no crash.
    f.keystore.failWith = RuntimeException("keystore exploded")
    val e = assertThrows<CredkitException.KeyUnavailable>("keystore RuntimeException") {
        f.wallet.present(batch, listOf(), AUDIENCE, "n-2")
    }
    assertTrue(e.detail.contains("keystore exploded"), "detail names the exception: ${e.detail}")
    assertEq(e.detail.startsWith("key_unavailable"), false, "the code is not repeated in the detail")
    // Failed signatures spend no one-time copy.
    assertEq(f.wallet.list()[0].remaining, 2uL, "copies left after two failed signatures")
    f.keystore.failWith = null
    f.wallet.present(batch, listOf(), AUDIENCE, "n-3")
    assertEq(f.wallet.list()[0].remaining, 1uL, "copies left after one presentation")
}

fun testAPanicIsAnInternalErrorAndTheLibraryLivesOn(f: Flow) {
    val e = assertThrows<CredkitException.Internal>("selfTestPanic") { selfTestPanic("boom") }
    assertEq(e.code, "panic", "panic code")
    assertEq(e.detail, "boom", "panic detail")
    // Still fully usable.
    val batch = f.receive(copies = 1)
    assertEq(f.wallet.list().size, 1, "held after the panic")
    f.wallet.remove(batch)
    assertEq(f.wallet.list(), listOf(), "held after remove")
    assertEq(f.keystore.keys.size, 0, "keys left in the keystore")
}

fun testHostStoreAndSqliteStore(f: Flow) {
    val store = MapStore()
    Wallet.withStore(store, WalletConfig(trust = f.trust, usePolicy = UsePolicy.ROTATE_USE), f.keystore).use { wallet ->
        val keys = wallet.createHolderKeys(1u, KeyAlgorithm.ES256)
        val batch = wallet.add(listOf(f.issue(keys[0].publicJwk)), listOf(keys[0].keyId))
        val record = store.records.values.single()
        assertEq(Triple(record.batch, record.vct, record.presentations), Triple(batch, PID_VCT, 0uL), "stored record")
        wallet.present(batch, listOf("/nationalities/0"), AUDIENCE, "n")
        wallet.present(batch, listOf("/nationalities/0"), AUDIENCE, "n")
        assertEq(store.records.getValue(record.id).presentations, 2uL, "presentations recorded")
    }

    val dir = Files.createTempDirectory("credkit-test")
    try {
        val path = dir.resolve("wallet.db").toString()
        val random = SecureRandom()
        val key = ByteArray(32).also(random::nextBytes)
        val config = WalletConfig(trust = f.trust, usePolicy = UsePolicy.ONE_TIME_USE)
        val batch = Wallet.open(path, key, config, f.keystore).use { w ->
            val keys = w.createHolderKeys(1u, KeyAlgorithm.ES256)
            w.add(listOf(f.issue(keys[0].publicJwk)), listOf(keys[0].keyId))
        }
        Wallet.open(path, key, config, f.keystore).use { w ->
            assertEq(w.list().map { it.batch }, listOf(batch), "batches after reopening")
            val e = assertThrows<CredkitException.Storage>("wrong store key") {
                Wallet.open(path, ByteArray(32).also(random::nextBytes), config, f.keystore).close()
            }
            assertEq(e.code, "storage_decrypt_failed", "wrong store key code")
            assertThrows<CredkitException.InvalidInput>("short store key") {
                Wallet.open(path, "short".toByteArray(), config, f.keystore).close()
            }
        }
    } finally {
        dir.toFile().deleteRecursively()
    }
}

fun testRevocationThroughTheStatusList(f: Flow) {
    val web = Web()
    val status = f.issuer.newStatusList(STATUS_URI, 2u, 1000uL)
    val idx = status.allocate()
    val keys = f.wallet.createHolderKeys(1u, KeyAlgorithm.ES256)
    val cred = f.issue(keys[0].publicJwk, statusIndex = idx, statusUri = STATUS_URI)
    val batch = f.wallet.add(listOf(cred), listOf(keys[0].keyId))
    web.pages[STATUS_URI] = status.token(300uL, 86400uL)

    fun verifier() = Verifier(VerifierConfig(trust = f.trust, checkStatus = true), web)

    val nonce = newNonce()
    val presentation = f.wallet.present(batch, listOf(), AUDIENCE, nonce)
    val result = verifier().use { it.verify(presentation, AUDIENCE, nonce) }
    assertEq(result.status, CredentialStatus.VALID, "status")
    assertEq(web.requests[0].url, STATUS_URI, "status list url")
    assertEq(web.requests[0].accept, "application/statuslist+jwt", "status list accept")

    status.set(idx, CredentialStatus.REVOKED)
    web.pages[STATUS_URI] = status.token(300uL, 86400uL)
    val e = assertThrows<CredkitException.Revoked>("revoked") {
        verifier().use { it.verify(presentation, AUDIENCE, nonce) }
    }
    assertEq(e.code, "credential_revoked", "revoked code")

    assertThrows<CredkitException.InvalidInput>("checkStatus without an HTTP client") {
        Verifier(VerifierConfig(trust = f.trust, checkStatus = true)).close()
    }
    status.close()
}

fun testTheWalletShowsTheStatusOfWhatItHolds(f: Flow) {
    val web = Web()
    val store = MapStore()
    val status = f.issuer.newStatusList(STATUS_URI, 2u, 1000uL)
    val idx = status.allocate()
    web.pages[STATUS_URI] = status.token(300uL, 86400uL)
    val config = WalletConfig(trust = f.trust, usePolicy = UsePolicy.ONE_TIME_USE)
    // A fresh status cache each time, over the same store.
    fun <T> wallet(block: (Wallet) -> T): T = Wallet.withStore(store, config, f.keystore, web).use(block)

    val keys = wallet { it.createHolderKeys(1u, KeyAlgorithm.ES256) }
    val cred = f.issue(keys[0].publicJwk, statusIndex = idx, statusUri = STATUS_URI)
    val batch = wallet { it.add(listOf(cred), listOf(keys[0].keyId)) }
    assertEq(wallet { it.status(batch) }, CredentialStatus.VALID, "valid")
    status.set(idx, CredentialStatus.SUSPENDED)
    web.pages[STATUS_URI] = status.token(300uL, 86400uL)
    assertEq(wallet { it.status(batch) }, CredentialStatus.SUSPENDED, "suspended")
    status.set(idx, CredentialStatus.REVOKED)
    web.pages[STATUS_URI] = status.token(300uL, 86400uL)
    assertEq(wallet { it.status(batch) }, CredentialStatus.REVOKED, "revoked")

    val other = wallet { w ->
        val k = w.createHolderKeys(1u, KeyAlgorithm.ES256)
        w.add(listOf(f.issue(k[0].publicJwk)), listOf(k[0].keyId))
    }
    assertEq(wallet { it.status(other) }, null, "no status reference")
    assertThrows<CredkitException.InvalidInput>("status without an HTTP client") {
        Wallet.withStore(store, config, f.keystore).use { it.status(batch) }
    }
    assertThrows<CredkitException.NotFound>("unknown batch") { wallet { it.status("no-such-batch") } }
    status.close()
}

/** A keystore returning r||s signatures and raw x||y public keys (CryptoKit). */
class RawKeystore : Keystore() {
    override fun createKey(algorithm: KeyAlgorithm): HostKey {
        val key = super.createKey(algorithm)
        return HostKey(keyId = key.keyId, publicKey = publicKey(key.keyId))
    }

    override fun publicKey(keyId: String): ByteArray {
        val w = ((keys[keyId] ?: throw CredkitException.NotFound("not_found", keyId)).public as ECPublicKey).w
        return coordinate(w.affineX) + coordinate(w.affineY)
    }

    override fun sign(keyId: String, message: ByteArray): ByteArray = derToRaw(super.sign(keyId, message))
}

/** A keystore that signs with another key than the one it holds. */
class WrongKeystore : Keystore() {
    override fun sign(keyId: String, message: ByteArray): ByteArray = derSign(newP256(), message)
}

fun testRawSignaturesAndCryptokitKeys(f: Flow) {
    val keystore = RawKeystore()
    Wallet.inMemory(WalletConfig(trust = f.trust, usePolicy = UsePolicy.ROTATE_USE), keystore).use { wallet ->
        val keys = wallet.createHolderKeys(1u, KeyAlgorithm.ES256)
        assertEq(keys[0].let { keystore.publicKey(it.keyId).size }, 64, "raw public key size")
        val batch = wallet.add(listOf(f.issue(keys[0].publicJwk)), listOf(keys[0].keyId))
        for (i in 0 until 5) {
            val nonce = "nonce-$i"
            val p = wallet.present(batch, listOf("/given_name"), AUDIENCE, nonce)
            assertTrue(f.verifier.verify(p, AUDIENCE, nonce).holderBound, "presentation $i is holder-bound")
        }
        assertEq(keystore.signatures.get(), 5, "raw signatures made")
    }

    // A keystore that signs with another key is caught before anything leaves the wallet.
    val wrong = WrongKeystore()
    Wallet.inMemory(WalletConfig(trust = f.trust, usePolicy = UsePolicy.ONE_TIME_USE), wrong).use { wallet ->
        val keys = wallet.createHolderKeys(1u, KeyAlgorithm.ES256)
        val batch = wallet.add(listOf(f.issue(keys[0].publicJwk)), listOf(keys[0].keyId))
        val e = assertThrows<CredkitException.KeyUnavailable>("signature by another key") {
            wallet.present(batch, listOf(), AUDIENCE, "n")
        }
        assertEq(e.code, "signer_failed", "signature by another key code")
        assertEq(wallet.list()[0].remaining, 1uL, "copies left after a wrong signature")
    }
}

/** Field-wise equality: a data class compares its ByteArray by reference. */
fun sameState(a: StatusListState, b: StatusListState) =
    a.uri == b.uri && a.bits == b.bits && a.size == b.size && a.list.contentEquals(b.list) &&
        a.allocated == b.allocated

fun testStatusListStateSurvivesARestart(f: Flow) {
    f.issuer.newStatusList(STATUS_URI, 1u, 64uL).use { status ->
        val taken = (0 until 10).map { status.allocate() }.toSet()
        assertEq(taken.size, 10, "distinct indices before the restart")
        status.set(taken.sorted().first(), CredentialStatus.REVOKED)
        val state = status.state()
        f.issuer.restoreStatusList(state).use { restored ->
            assertTrue(sameState(restored.state(), state), "restored state equals the saved state")
            val fresh = (0 until 54).map { restored.allocate() }.toSet()
            assertEq(fresh.size, 54, "distinct indices after the restart")
            assertTrue((fresh intersect taken).isEmpty(), "an index was handed out twice")
            val e = assertThrows<CredkitException.Exhausted>("allocate on a full list") {
                restored.allocate()
            }
            assertEq(e.code, "status_list_full", "full list code")
        }
    }
}

/** A host HTTP stack that followed a redirect on its own. */
class Redirecting : Web() {
    override fun get(request: HttpRequest): HttpReply =
        super.get(request).copy(finalUrl = "https://internal.example/status")
}

fun testHostHttpStacksThatFollowRedirectsAreRefused(f: Flow) {
    val web = Redirecting()
    f.issuer.newStatusList(STATUS_URI, 1u, 16uL).use { status ->
        val idx = status.allocate()
        val keys = f.wallet.createHolderKeys(1u, KeyAlgorithm.ES256)
        val cred = f.issue(keys[0].publicJwk, statusIndex = idx, statusUri = STATUS_URI)
        val batch = f.wallet.add(listOf(cred), listOf(keys[0].keyId))
        web.pages[STATUS_URI] = status.token(300uL, 86400uL)
        Verifier(VerifierConfig(trust = f.trust, checkStatus = true), web).use { verifier ->
            val p = f.wallet.present(batch, listOf(), AUDIENCE, "n")
            val e = assertThrows<CredkitException.Network>("reply from another URL") {
                verifier.verify(p, AUDIENCE, "n")
            }
            assertEq(e.code, "url_forbidden", "reply from another URL code")
        }
    }
    assertTrue(isPublicAddress("93.184.216.34"), "93.184.216.34 is public")
    assertTrue(!isPublicAddress("169.254.169.254"), "169.254.169.254 is not public")
}

fun testSoftwareIssuerKey(@Suppress("UNUSED_PARAMETER") f: Flow) {
    val jwk = generatePrivateJwk(KeyAlgorithm.ES256)
    Issuer.withPrivateJwk(ISSUER, jwk).use { issuer ->
        val public = jsonObject(issuer.publicJwk())
        assertTrue("d" !in public, "public JWK has no \"d\": $public")
        assertThrows<CredkitException.Malformed>("empty private JWK") {
            Issuer.withPrivateJwk(ISSUER, "{}").close()
        }
        assertThrows<CredkitException.InvalidInput>("claims that are not an object") {
            issuer.issue(IssueRequest(vct = PID_VCT, claimsJson = "[1]"))
        }
    }
}


// ---------------------------------------------------------------------------------------------
// OpenID4VP 1.0 against a verifier over HTTPS on loopback (the Python test's OpenId4Vp)

/** Runs the JDK's keytool; the certificates of this test come from it, nothing to install. */
fun keytool(vararg args: String) {
    val tool = java.nio.file.Paths.get(System.getProperty("java.home"), "bin", "keytool").toString()
    val p = ProcessBuilder(listOf(tool) + args).redirectErrorStream(true).start()
    val out = p.inputStream.readBytes().decodeToString()
    if (p.waitFor() != 0) fail("keytool ${args.joinToString(" ")}: $out")
}

fun pem(der: ByteArray): String =
    "-----BEGIN CERTIFICATE-----\n" + Base64.getMimeEncoder(64, "\n".toByteArray()).encodeToString(der) +
        "\n-----END CERTIFICATE-----\n"

fun b64u(bytes: ByteArray): String = Base64.getUrlEncoder().withoutPadding().encodeToString(bytes)

/** The app's asynchronous HTTP stack: one exchange, no redirects, a private TLS root. */
class AsyncWeb(private val tls: javax.net.ssl.SSLContext) : HostAsyncHttpClient {
    val exchanges = java.util.Collections.synchronizedList(mutableListOf<String>())

    override suspend fun send(exchange: HttpExchange): HttpReply =
        kotlinx.coroutines.withContext(kotlinx.coroutines.Dispatchers.IO) {
            exchanges += exchange.method
            val c = java.net.URI(exchange.url).toURL().openConnection() as javax.net.ssl.HttpsURLConnection
            c.sslSocketFactory = tls.socketFactory
            c.instanceFollowRedirects = false
            c.requestMethod = exchange.method
            c.connectTimeout = exchange.timeoutMs.toInt()
            c.readTimeout = exchange.timeoutMs.toInt()
            exchange.accept?.let { c.setRequestProperty("Accept", it) }
            // DPoP, Authorization (OpenID4VCI): secrets, never logged.
            for (h in exchange.headers) c.setRequestProperty(h.name, h.value)
            if (exchange.method == "POST") {
                c.doOutput = true
                exchange.contentType?.let { c.setRequestProperty("Content-Type", it) }
                c.outputStream.use { it.write(exchange.body) }
            }
            val status = c.responseCode
            val stream = if (status >= 400) c.errorStream else c.inputStream
            val body = stream?.use { it.readNBytes(exchange.maxBytes.toInt() + 1) } ?: ByteArray(0)
            val kept = listOf("DPoP-Nonce", "WWW-Authenticate").mapNotNull { n ->
                c.getHeaderField(n)?.let { HttpHeader(name = n, value = it) }
            }
            HttpReply(
                status = status.toUShort(), body = body, contentType = c.contentType,
                location = c.getHeaderField("Location"), headers = kept,
            )
        }
}

/** credkit's Credential Issuer behind an HTTPS server in the test, and a wallet trusting it. */
class IssuanceFixture : AutoCloseable {
    private val dir = Files.createTempDirectory("credkit-oid4vci")
    private val pass = "changeit"
    val server: com.sun.net.httpserver.HttpsServer
    val service: CredentialIssuerService
    val wallet: Wallet
    val clientTls: javax.net.ssl.SSLContext
    val base: String
    val hits = java.util.Collections.synchronizedList(mutableListOf<String>())
    private val issuer: Issuer

    init {
        val tls = dir.resolve("tls.p12").toString()
        keytool("-genkeypair", "-alias", "tls", "-keyalg", "EC", "-groupname", "secp256r1",
            "-dname", "CN=127.0.0.1", "-ext", "SAN=IP:127.0.0.1", "-validity", "2",
            "-keystore", tls, "-storetype", "PKCS12", "-storepass", pass, "-keypass", pass)
        val ks = java.security.KeyStore.getInstance("PKCS12")
        java.io.FileInputStream(tls).use { ks.load(it, pass.toCharArray()) }
        val kmf = javax.net.ssl.KeyManagerFactory.getInstance("PKIX")
        kmf.init(ks, pass.toCharArray())
        val tmf = javax.net.ssl.TrustManagerFactory.getInstance("PKIX")
        tmf.init(ks)
        val serverTls = javax.net.ssl.SSLContext.getInstance("TLS")
        serverTls.init(kmf.keyManagers, null, null)
        clientTls = javax.net.ssl.SSLContext.getInstance("TLS")
        clientTls.init(null, tmf.trustManagers, null)
        server = com.sun.net.httpserver.HttpsServer.create(java.net.InetSocketAddress("127.0.0.1", 0), 0)
        server.httpsConfigurator = com.sun.net.httpserver.HttpsConfigurator(serverTls)
        base = "https://127.0.0.1:${server.address.port}"
        issuer = Issuer(base, IssuerHsm())
        service = issuer.openid4vciService("pid", PID_VCT, 3u)
        server.createContext("/") { x ->
            val headers = x.requestHeaders.flatMap { (n, vs) -> vs.map { HttpHeader(name = n, value = it) } }
            val reply = service.handle(
                IssuerHttpRequest(
                    method = x.requestMethod, path = x.requestURI.rawPath,
                    query = x.requestURI.rawQuery ?: "", headers = headers,
                    body = x.requestBody.readAllBytes(),
                )
            )
            hits += "${x.requestURI.rawPath} ${reply.status}"
            for (h in reply.headers) x.responseHeaders.add(h.name, h.value)
            x.sendResponseHeaders(reply.status.toInt(), if (reply.body.isEmpty()) -1 else reply.body.size.toLong())
            if (reply.body.isNotEmpty()) x.responseBody.use { it.write(reply.body) }
            x.close()
        }
        server.executor = java.util.concurrent.Executors.newFixedThreadPool(2)
        server.start()
        wallet = Wallet.inMemory(
            WalletConfig(
                trust = TrustConfig(pinned = listOf(PinnedIssuer(issuer = base, jwks = issuer.publicJwk()))),
                acceptedVcts = listOf(PID_VCT),
                usePolicy = UsePolicy.ONE_TIME_USE,
                verifierTrust = VerifierTrustConfig(allowInternalAddresses = true),
            ),
            Keystore(),
            null,
            AsyncWeb(clientTls),
        )
    }

    /** The browser: the issuer authorises by issuer_state and redirects to the app. */
    fun browse(url: String): String {
        val c = java.net.URI(url).toURL().openConnection() as javax.net.ssl.HttpsURLConnection
        c.sslSocketFactory = clientTls.socketFactory
        c.instanceFollowRedirects = false
        assertEq(c.responseCode, 302, "the authorization endpoint redirects")
        return c.getHeaderField("Location")
    }

    override fun close() {
        server.stop(0)
        (server.executor as java.util.concurrent.ExecutorService).shutdownNow()
        wallet.close()
        service.close()
        issuer.close()
        dir.toFile().deleteRecursively()
    }
}

fun testOpenId4VciPreAuthorizedWithTransactionCode(@Suppress("UNUSED_PARAMETER") f: Flow) {
    IssuanceFixture().use { p ->
        val offer = p.service.createOffer(CLAIMS, true, false)
        assertEq(offer.txCode!!.length, 6, "a 6-digit transaction code")
        // A wrong code: the issuer refuses, nothing is stored.
        try {
            kotlinx.coroutines.runBlocking { p.wallet.acceptOffer(offer.uri, "000000", 1u) }
            fail("a wrong transaction code was accepted")
        } catch (e: CredkitException.InvalidInput) {
            assertEq(e.code, "invalid_grant", "the issuer's error")
        }
        assertEq(p.wallet.list().size, 0, "nothing stored")
        val pending = kotlinx.coroutines.runBlocking { p.wallet.acceptOffer(offer.uri, offer.txCode, 3u) }
        assertEq(pending.authorizationUrl(), null, "no browser for a pre-authorized offer")
        val stored = kotlinx.coroutines.runBlocking { pending.complete(null) }
        assertEq(stored.count, 3u, "three copies")
        assertEq(stored.vct, PID_VCT, "the PID type")
        assertEq(p.wallet.list().single().remaining, 3uL, "stored as one batch of three")
        assertTrue(p.hits.contains("/notification 204"), "the issuer was notified")
    }
}

fun testOpenId4VciAuthorizationCodeThroughTheBrowser(@Suppress("UNUSED_PARAMETER") f: Flow) {
    IssuanceFixture().use { p ->
        val offer = p.service.createOffer(CLAIMS, false, true)
        val pending = kotlinx.coroutines.runBlocking {
            p.wallet.acceptOffer(offer.uri, null, 2u, "com.example.wallet:/callback")
        }
        val url = pending.authorizationUrl()!!
        assertTrue(url.startsWith("${p.base}/authorize?"), "the authorization URL")
        val restored = kotlinx.coroutines.runBlocking { p.wallet.restoreIssuance(pending.save()) }
        val location = p.browse(url)
        assertTrue(location.startsWith("com.example.wallet:/callback?code="), "redirected to the app")
        val stored = kotlinx.coroutines.runBlocking { restored.complete(location) }
        assertEq(stored.count, 2u, "two copies")
        assertEq(p.wallet.list().size, 1, "one batch")
    }
}

class PresentationFixture : AutoCloseable {
    val flow = Flow()
    private val dir = Files.createTempDirectory("credkit-oid4vp")
    private val pass = "changeit"
    val server: com.sun.net.httpserver.HttpsServer
    val rp: PresentationVerifier
    val web: AsyncWeb
    val caPem: String
    val posts = AtomicInteger()

    init {
        // TLS for the loopback server, trusted by the test's HTTP stack only.
        val tls = dir.resolve("tls.p12").toString()
        keytool("-genkeypair", "-alias", "tls", "-keyalg", "EC", "-groupname", "secp256r1",
            "-dname", "CN=127.0.0.1", "-ext", "SAN=IP:127.0.0.1", "-validity", "2",
            "-keystore", tls, "-storetype", "PKCS12", "-storepass", pass, "-keypass", pass)
        val ks = java.security.KeyStore.getInstance("PKCS12")
        java.io.FileInputStream(tls).use { ks.load(it, pass.toCharArray()) }
        val kmf = javax.net.ssl.KeyManagerFactory.getInstance("PKIX")
        kmf.init(ks, pass.toCharArray())
        val tmf = javax.net.ssl.TrustManagerFactory.getInstance("PKIX")
        tmf.init(ks)
        val serverTls = javax.net.ssl.SSLContext.getInstance("TLS")
        serverTls.init(kmf.keyManagers, null, null)
        val clientTls = javax.net.ssl.SSLContext.getInstance("TLS")
        clientTls.init(null, tmf.trustManagers, null)
        // The verifier's request-signing chain: a CA the wallet trusts and a leaf it issued.
        val rpStore = dir.resolve("rp.p12").toString()
        val common = arrayOf("-keystore", rpStore, "-storetype", "PKCS12", "-storepass", pass, "-keypass", pass)
        keytool("-genkeypair", "-alias", "ca", "-keyalg", "EC", "-groupname", "secp256r1",
            "-dname", "CN=test verifier CA", "-ext", "bc:c", "-ext", "ku:c=keyCertSign,cRLSign",
            "-validity", "2", *common)
        keytool("-genkeypair", "-alias", "leaf", "-keyalg", "EC", "-groupname", "secp256r1",
            "-dname", "CN=verifier.example", "-validity", "2", *common)
        val csr = dir.resolve("leaf.csr").toString()
        val leafPem = dir.resolve("leaf.pem").toString()
        keytool("-certreq", "-alias", "leaf", "-file", csr, *common)
        keytool("-gencert", "-alias", "ca", "-infile", csr, "-outfile", leafPem, "-rfc",
            "-ext", "bc:c=ca:false", "-ext", "ku:c=digitalSignature", "-ext", "san=dns:verifier.example",
            "-validity", "1", *common)
        val rpKeys = java.security.KeyStore.getInstance("PKCS12")
        java.io.FileInputStream(rpStore).use { rpKeys.load(it, pass.toCharArray()) }
        caPem = pem(rpKeys.getCertificate("ca").encoded)
        val leafKey = rpKeys.getKey("leaf", pass.toCharArray()) as java.security.interfaces.ECPrivateKey
        val leafPub = rpKeys.getCertificate("leaf").publicKey as ECPublicKey
        val jwk = """{"kty":"EC","crv":"P-256","x":"${b64u(coordinate(leafPub.w.affineX))}",""" +
            """"y":"${b64u(coordinate(leafPub.w.affineY))}","d":"${b64u(coordinate(leafKey.s))}"}"""

        server = com.sun.net.httpserver.HttpsServer.create(java.net.InetSocketAddress("127.0.0.1", 0), 0)
        server.httpsConfigurator = com.sun.net.httpserver.HttpsConfigurator(serverTls)
        val base = "https://127.0.0.1:${server.address.port}"
        rp = PresentationVerifier(
            PresentationVerifierConfig(
                signingKeyJwk = jwk,
                x5cPem = Files.readString(java.nio.file.Paths.get(leafPem)),
                clientIdPrefix = "x509_hash",
                responseUri = "$base/response",
                requestUriBase = "$base/request",
                trust = flow.trust,
                haip = true,
            )
        )
        fun answer(x: com.sun.net.httpserver.HttpExchange, status: Int, type: String, body: ByteArray) {
            x.responseHeaders.add("Content-Type", type)
            x.sendResponseHeaders(status, if (body.isEmpty()) -1 else body.size.toLong())
            if (body.isNotEmpty()) x.responseBody.use { it.write(body) }
            x.close()
        }
        server.createContext("/request/") { x ->
            val body = x.requestBody.readAllBytes().decodeToString()
            val nonce = body.split("&").map { it.split("=", limit = 2) }
                .firstOrNull { it[0] == "wallet_nonce" }?.get(1)
                ?.let { java.net.URLDecoder.decode(it, "UTF-8") }
            try {
                val jwt = rp.requestObject(x.requestURI.path.substringAfterLast("/"), nonce)
                answer(x, 200, "application/oauth-authz-req+jwt", jwt.toByteArray())
            } catch (e: CredkitException) {
                answer(x, 404, "text/plain", ByteArray(0))
            }
        }
        server.createContext("/response") { x ->
            posts.incrementAndGet()
            val body = x.requestBody.readAllBytes()
            try {
                val r = rp.handleResponse(x.requestHeaders.getFirst("Content-Type"), body)
                val reply = r.redirectUri?.let { """{"redirect_uri":"$it"}""" } ?: "{}"
                answer(x, 200, "application/json", reply.toByteArray())
            } catch (e: CredkitException) {
                answer(x, 400, "application/json", """{"error":"invalid_request"}""".toByteArray())
            }
        }
        server.executor = java.util.concurrent.Executors.newFixedThreadPool(2)
        server.start()
        web = AsyncWeb(clientTls)
    }

    fun wallet(anchors: List<String>): Wallet = Wallet.inMemory(
        WalletConfig(
            trust = flow.trust,
            acceptedVcts = listOf(PID_VCT),
            typeMetadata = listOf(TYPE_METADATA),
            locales = listOf("en"),
            usePolicy = UsePolicy.ONE_TIME_USE,
            verifierTrust = VerifierTrustConfig(trustAnchorsPem = anchors, haip = true, allowInternalAddresses = true),
        ),
        flow.keystore,
        null,
        web,
    )

    fun receive(w: Wallet): String {
        val keys = w.createHolderKeys(1u, KeyAlgorithm.ES256)
        return w.add(keys.map { flow.issue(it.publicJwk) }, keys.map { it.keyId })
    }

    override fun close() {
        server.stop(0)
        (server.executor as java.util.concurrent.ExecutorService).shutdownNow()
        rp.close()
        flow.close()
        dir.toFile().deleteRecursively()
    }
}

fun testOpenId4VpRedirectFlowOverHttps(@Suppress("UNUSED_PARAMETER") f: Flow) {
    PresentationFixture().use { p ->
        val wallet = p.wallet(listOf(p.caPem))
        val batch = p.receive(wallet)
        val created = p.rp.create(OVER_18, "direct_post.jwt", listOf())
        val request = kotlinx.coroutines.runBlocking { wallet.resolveRequest(created.authorizationRequestUri, null) }
        val who = request.verifier()
        assertTrue(who.authenticated, "the verifier is authenticated")
        assertEq(who.clientId, p.rp.clientId(), "the full client id")
        assertEq(who.dnsNames, listOf("verifier.example"), "the certificate's DNS names")
        val candidate = request.candidates().single().candidates.single()
        assertEq(candidate.revealed.first().label, "Over 18", "the consent label")
        assertEq(p.web.exchanges.toList(), listOf("POST"), "only the request object was fetched")
        assertEq(p.posts.get(), 0, "nothing was posted before consent")
        val outcome = kotlinx.coroutines.runBlocking {
            wallet.respond(request, listOf(Choice(queryId = "pid", batch = batch, disclose = candidate.disclose)))
        }
        assertTrue(outcome.sent, "the response was sent")
        assertEq(outcome.status, 200.toUShort(), "the verifier accepted it")
        val result = p.rp.result(created.id)
        assertEq(result.status, "verified", "the presentation verified (${result.error})")
        val creds = jsonObject(result.credentialsJson!!)
        val pid = (creds["pid"] as List<*>).single() as Map<*, *>
        assertEq(pid["claims"], mapOf("age_equal_or_over" to mapOf("18" to true)), "only over 18 was disclosed")
        wallet.close()
    }
}

fun testOpenId4VpDcApiAndUntrustedVerifiers(@Suppress("UNUSED_PARAMETER") f: Flow) {
    PresentationFixture().use { p ->
        val wallet = p.wallet(listOf(p.caPem))
        val batch = p.receive(wallet)
        val created = p.rp.create(OVER_18, "dc_api.jwt", listOf("https://shop.example"))
        val request = kotlinx.coroutines.runBlocking {
            wallet.resolveRequest(created.dcApiRequestJson!!, "https://shop.example")
        }
        assertTrue(request.isDcApi(), "a DC API request")
        val candidate = request.candidates().single().candidates.single()
        val outcome = kotlinx.coroutines.runBlocking {
            wallet.respond(request, listOf(Choice(queryId = "pid", batch = batch, disclose = candidate.disclose)))
        }
        assertTrue(!outcome.sent, "DC API responses go back through the platform")
        val result = p.rp.handleDcApiResponse(created.id, outcome.dcApiResponseJson!!)
        assertEq(result.status, "verified", "the DC API presentation verified (${result.error})")
        // A wallet that does not trust the verifier's CA refuses, and sends nothing.
        val stranger = p.wallet(listOf())
        val other = p.rp.create(OVER_18, "direct_post.jwt", listOf())
        try {
            kotlinx.coroutines.runBlocking { stranger.resolveRequest(other.authorizationRequestUri, null) }
            fail("an untrusted verifier was accepted")
        } catch (e: CredkitException.UntrustedIssuer) {
            assertEq(e.code, "untrusted_verifier", "the error code")
        }
        assertEq(p.posts.get(), 0, "nothing was posted")
        stranger.close()
        wallet.close()
    }
}

// ---------------------------------------------------------------------------------------------

val TESTS: List<Pair<String, (Flow) -> Unit>> = listOf(
    "issue_store_query_consent_present_verify" to ::testIssueStoreQueryConsentPresentVerify,
    "errors_arrive_as_typed_kinds" to ::testErrorsArriveAsTypedKinds,
    "keystore_failures_are_key_unavailable" to ::testKeystoreFailuresAreKeyUnavailable,
    "a_panic_is_an_internal_error_and_the_library_lives_on" to ::testAPanicIsAnInternalErrorAndTheLibraryLivesOn,
    "host_store_and_sqlite_store" to ::testHostStoreAndSqliteStore,
    "revocation_through_the_status_list" to ::testRevocationThroughTheStatusList,
    "the_wallet_shows_the_status_of_what_it_holds" to ::testTheWalletShowsTheStatusOfWhatItHolds,
    "raw_signatures_and_cryptokit_keys" to ::testRawSignaturesAndCryptokitKeys,
    "status_list_state_survives_a_restart" to ::testStatusListStateSurvivesARestart,
    "host_http_stacks_that_follow_redirects_are_refused" to ::testHostHttpStacksThatFollowRedirectsAreRefused,
    "software_issuer_key" to ::testSoftwareIssuerKey,
    "openid4vp_redirect_flow_over_https" to ::testOpenId4VpRedirectFlowOverHttps,
    "openid4vp_dc_api_and_untrusted_verifiers" to ::testOpenId4VpDcApiAndUntrustedVerifiers,
    "openid4vci_pre_authorized_with_transaction_code" to ::testOpenId4VciPreAuthorizedWithTransactionCode,
    "openid4vci_authorization_code_through_the_browser" to ::testOpenId4VciAuthorizationCodeThroughTheBrowser,
)

fun main() {
    println("credkit ${credkitVersion()}")
    val failed = mutableListOf<String>()
    for ((name, test) in TESTS) {
        print("$name ... ")
        System.out.flush()
        try {
            Flow().use(test)
            println("ok")
        } catch (e: Throwable) {
            println("FAIL")
            e.printStackTrace(System.out)
            failed += name
        }
    }
    println()
    println("${TESTS.size} tests, ${TESTS.size - failed.size} passed, ${failed.size} failed (${Checks.passed} checks passed)")
    if (failed.isNotEmpty()) {
        println("FAILED: ${failed.joinToString()}")
        exitProcess(1)
    }
}

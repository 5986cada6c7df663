//! The wallet: only verified credentials bound to its own keys are stored; batches are
//! presented one-time or in rotation; the SQLite store encrypts every record, detects a wrong
//! key and tampering, migrates its schema, and loses nothing committed when the process is
//! killed (SIGKILL) mid-write, many times over.
#![cfg(feature = "sqlite")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    missing_docs
)]

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use credkit::crypto::{Signer, default_provider};
use credkit::jose::{Algorithm, PublicJwk};
use credkit::rand::OsRandom;
use credkit::sd_jwt::{KeyBindingPolicy, StaticIssuerKeys};
use credkit::sd_jwt_vc::{TrustPolicy, VcBuilder, VcVerifier, Vct};
use credkit::time::FixedClock;
use credkit::wallet::{
    CredentialStore, KeyManager, MemoryStore, SoftwareKeyManager, SqliteKeyManager, SqliteStore,
    StoreKey, StoredCredential, UsePolicy, Wallet,
};
use serde_json::json;

const NOW: i64 = 1_800_000_000;
const AUD: &str = "https://verifier.example";

struct Issuer {
    signer: Arc<dyn Signer>,
}

impl Issuer {
    fn new() -> Self {
        let p = default_provider();
        Self {
            signer: p
                .signer(&p.generate(Algorithm::Es256, &OsRandom).unwrap())
                .unwrap(),
        }
    }

    fn issue(&self, holder: &PublicJwk, vct: &str) -> String {
        let claims =
            json!({"given_name": "Erika", "family_name": "Mustermann", "age_over_18": true});
        VcBuilder::new(Vct::new(vct).unwrap(), claims.as_object().cloned().unwrap())
            .issuer("https://issuer.example")
            .issued_at(NOW - 10)
            .holder_key(holder.clone())
            .disclose("/given_name")
            .unwrap()
            .disclose("/family_name")
            .unwrap()
            .disclose("/age_over_18")
            .unwrap()
            .issue(&*self.signer, &OsRandom)
            .unwrap()
            .to_string()
    }

    fn verifier(&self, kb: KeyBindingPolicy) -> VcVerifier {
        let keys = StaticIssuerKeys::single(self.signer.public_jwk(), default_provider()).unwrap();
        VcVerifier::builder_with_clock(
            Arc::new(TrustPolicy::new().otherwise(Arc::new(keys))),
            Arc::new(FixedClock(NOW)),
        )
        .key_binding(kb)
        .build()
        .unwrap()
    }
}

fn wallet(issuer: &Issuer, store: Arc<dyn CredentialStore>) -> Wallet {
    Wallet::new(
        store,
        Arc::new(SoftwareKeyManager::new(Arc::new(OsRandom))),
        issuer.verifier(KeyBindingPolicy::Forbidden),
    )
    .clock(Arc::new(FixedClock(NOW)))
}

fn stores() -> Vec<Arc<dyn CredentialStore>> {
    vec![
        Arc::new(MemoryStore::new()),
        Arc::new(
            SqliteStore::in_memory(StoreKey::generate(&OsRandom).unwrap(), Arc::new(OsRandom))
                .unwrap(),
        ),
    ]
}

/// A batch of `n` copies, each bound to its own fresh wallet key.
fn add_batch(w: &Wallet, issuer: &Issuer, n: usize) -> (String, Vec<String>) {
    let keys = w.create_holder_keys(n, Algorithm::Es256).unwrap();
    let issued: Vec<String> = keys
        .iter()
        .map(|(_, k)| issuer.issue(k, "urn:example:id:1"))
        .collect();
    let refs: Vec<&str> = issued.iter().map(String::as_str).collect();
    let ids: Vec<String> = keys.into_iter().map(|(id, _)| id).collect();
    (w.add(&refs, &ids).unwrap(), ids)
}

fn cnf_of(presentation: &str, issuer: &Issuer) -> serde_json::Value {
    let v = issuer.verifier(KeyBindingPolicy::Required {
        audience: AUD.into(),
        nonce: "n".into(),
    });
    v.verify(presentation).unwrap().claims()["cnf"].clone()
}

#[test]
fn one_time_use_presents_each_copy_once() {
    let issuer = Issuer::new();
    for store in stores() {
        let w = wallet(&issuer, store);
        let (batch, _) = add_batch(&w, &issuer, 3);
        let held = w.list().unwrap();
        assert_eq!(held.len(), 1);
        assert_eq!((held[0].copies, held[0].unused), (3, 3));
        assert_eq!(held[0].vct, "urn:example:id:1");
        let mut keys = HashSet::new();
        for left in [2, 1, 0] {
            let p = w.present(&batch, &["/age_over_18"], AUD, "n").unwrap();
            assert!(
                keys.insert(cnf_of(&p, &issuer).to_string()),
                "a copy was presented twice"
            );
            assert_eq!(w.remaining(&batch).unwrap(), left);
        }
        assert_eq!(
            w.present(&batch, &["/age_over_18"], AUD, "n")
                .unwrap_err()
                .code(),
            "credential_exhausted"
        );
        assert_eq!(w.list().unwrap()[0].unused, 0);
    }
}

#[test]
fn rotation_spreads_use_and_never_runs_out() {
    let issuer = Issuer::new();
    let w = wallet(&issuer, Arc::new(MemoryStore::new())).use_policy(UsePolicy::RotateUse);
    let (batch, _) = add_batch(&w, &issuer, 2);
    let mut seen = Vec::new();
    for _ in 0..6 {
        let p = w.present(&batch, &["/given_name"], AUD, "n").unwrap();
        seen.push(cnf_of(&p, &issuer).to_string());
    }
    assert_eq!(w.remaining(&batch).unwrap(), 2);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 2);
    assert_eq!(seen.iter().filter(|s| **s == seen[0]).count(), 3);
}

#[test]
fn only_verified_credentials_bound_to_own_keys_are_stored() {
    let issuer = Issuer::new();
    let store = Arc::new(MemoryStore::new());
    let w = wallet(&issuer, store.clone());
    let (id, key) = w.keys().create_key(Algorithm::Es256).unwrap();
    // Bound to a key the wallet does not hold (HOL-02).
    let stranger = default_provider()
        .generate(Algorithm::Es256, &OsRandom)
        .unwrap();
    let foreign = issuer.issue(stranger.public(), "urn:example:id:1");
    assert_eq!(
        w.add(&[&foreign], std::slice::from_ref(&id))
            .unwrap_err()
            .code(),
        "holder_key_unknown"
    );
    // Not verifiable: another issuer.
    let other = Issuer::new();
    let forged = other.issue(&key, "urn:example:id:1");
    assert_eq!(
        w.add(&[&forged], std::slice::from_ref(&id))
            .unwrap_err()
            .code(),
        "invalid_signature"
    );
    // A batch where one copy fails stores nothing.
    let good = issuer.issue(&key, "urn:example:id:1");
    assert!(w.add(&[&good, &forged], std::slice::from_ref(&id)).is_err());
    assert!(store.list().unwrap().is_empty());
    // Mixed types in one batch.
    let (id2, key2) = w.keys().create_key(Algorithm::Es256).unwrap();
    let other_type = issuer.issue(&key2, "urn:example:other:1");
    assert_eq!(
        w.add(&[&good, &other_type], &[id.clone(), id2.clone()])
            .unwrap_err()
            .code(),
        "invalid_claims"
    );
    // Two copies on one key.
    let again = issuer.issue(&key, "urn:example:id:1");
    assert_eq!(
        w.add(&[&good, &again], std::slice::from_ref(&id))
            .unwrap_err()
            .code(),
        "invalid_claims"
    );
    assert!(store.list().unwrap().is_empty());
    w.add(&[&good], &[id]).unwrap();
    assert_eq!(store.list().unwrap().len(), 1);
}

#[test]
fn removing_deletes_records_and_keys() {
    let issuer = Issuer::new();
    let w = wallet(&issuer, Arc::new(MemoryStore::new()));
    let (batch, ids) = add_batch(&w, &issuer, 2);
    w.remove(&batch).unwrap();
    assert!(w.list().unwrap().is_empty());
    for id in ids {
        assert_eq!(w.keys().public_key(&id).unwrap_err().code(), "not_found");
    }
    assert_eq!(w.remove(&batch).unwrap_err().code(), "not_found");
    assert_eq!(
        w.present(&batch, &[], AUD, "n").unwrap_err().code(),
        "not_found"
    );
}

fn temp_db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("credkit-wallet-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("wallet.db")
}

fn record(i: u64) -> StoredCredential {
    // Records are opaque to the store; a realistic size.
    serde_json::from_value(json!({
        "id": format!("r{i}"),
        "batch": format!("b{}", i / 3),
        "vct": "urn:example:id:1",
        "issuer": "https://issuer.example",
        "sd_jwt": "x".repeat(3000),
        "key_id": format!("k{i}"),
        "presentations": 0,
        "added_at": NOW,
    }))
    .unwrap()
}

const KEY: [u8; 32] = [7; 32];

#[test]
fn sqlite_store_encrypts_reopens_and_detects_wrong_keys_and_tampering() {
    let path = temp_db("tamper");
    {
        let s = SqliteStore::open(&path, StoreKey::new(KEY), Arc::new(OsRandom)).unwrap();
        assert_eq!(s.schema_version().unwrap(), 2);
        s.insert(&[record(1), record(2)]).unwrap();
    }
    // Reopen: intact.
    let s = SqliteStore::open(&path, StoreKey::new(KEY), Arc::new(OsRandom)).unwrap();
    assert_eq!(s.list().unwrap().len(), 2);
    drop(s);
    // Nothing readable on disk.
    let raw = std::fs::read(&path).unwrap();
    let wal = std::fs::read(path.with_extension("db-wal")).unwrap_or_default();
    for bytes in [&raw, &wal] {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains("urn:example:id:1"));
        assert!(!text.contains("issuer.example"));
    }
    // A wrong key is refused at open.
    let err = SqliteStore::open(&path, StoreKey::new([8; 32]), Arc::new(OsRandom)).unwrap_err();
    assert_eq!(err.code(), "storage_decrypt_failed");
    // Swapping two records' bodies (each is bound to its id) or flipping a byte is detected.
    {
        let conn = rusqlite_conn(&path);
        conn.execute_batch(
            "UPDATE credential SET body = (SELECT body FROM credential WHERE id = 'r2') WHERE id = 'r1';",
        )
        .unwrap();
    }
    let s = SqliteStore::open(&path, StoreKey::new(KEY), Arc::new(OsRandom)).unwrap();
    assert_eq!(s.list().unwrap_err().code(), "storage_decrypt_failed");
    // A store from a newer credkit is not opened.
    {
        let conn = rusqlite_conn(&path);
        conn.execute_batch("PRAGMA user_version = 99;").unwrap();
    }
    let err = SqliteStore::open(&path, StoreKey::new(KEY), Arc::new(OsRandom)).unwrap_err();
    assert_eq!(err.code(), "storage_failed");
}

fn rusqlite_conn(path: &Path) -> SqliteRaw {
    SqliteRaw::open(path)
}

/// Raw access to the database for tampering, through the sqlite3 command-line tool's
/// absence: a second SqliteStore cannot write raw SQL, so the test links rusqlite directly.
struct SqliteRaw(rusqlite::Connection);

impl SqliteRaw {
    fn open(path: &Path) -> Self {
        Self(rusqlite::Connection::open(path).unwrap())
    }
    fn execute_batch(&self, sql: &str) -> rusqlite::Result<()> {
        self.0.execute_batch(sql)
    }
}

// ---------------------------------------------------------------------------------------------
// Crash safety: a child process writes as fast as it can and reports each committed record;
// the parent kills it with SIGKILL at a random moment, reopens the store, and finds every
// reported record intact. Repeated many times on the same database.

const CHILD_ENV: &str = "CREDKIT_WALLET_CRASH_CHILD";

#[test]
fn crash_child_entry() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let start: u64 = std::env::var("CREDKIT_WALLET_CRASH_START")
        .unwrap()
        .parse()
        .unwrap();
    let s = SqliteStore::open(Path::new(&path), StoreKey::new(KEY), Arc::new(OsRandom)).unwrap();
    let mut out = std::io::stdout().lock();
    for i in start.. {
        let r = record(i);
        s.insert(std::slice::from_ref(&r)).unwrap();
        // Only after the commit returned is the record reported.
        writeln!(out, "committed {}", r.id).unwrap();
        out.flush().unwrap();
        if i % 7 == 0 {
            let mut u = r.clone();
            u.presentations = 1;
            s.update(&u).unwrap();
            writeln!(out, "updated {}", u.id).unwrap();
            out.flush().unwrap();
        }
    }
}

#[test]
fn committed_records_survive_sigkill() {
    let path = temp_db("crash");
    let mut committed: HashSet<String> = HashSet::new();
    let mut updated: HashSet<String> = HashSet::new();
    let mut next = 0u64;
    let rounds = 25;
    for round in 0..rounds {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "crash_child_entry",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .env("CREDKIT_WALLET_CRASH_START", next.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(l) => lines.push(l),
                    Err(_) => break,
                }
            }
            lines
        });
        // Kill at a different moment every round (the first writes happen after ~10-50 ms).
        let wait = Duration::from_millis(40 + (round * 37) % 160);
        let started = Instant::now();
        while started.elapsed() < wait {
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        for line in reader.join().unwrap() {
            if let Some(id) = line.strip_prefix("committed ") {
                committed.insert(id.to_owned());
            } else if let Some(id) = line.strip_prefix("updated ") {
                updated.insert(id.to_owned());
            }
        }
        // Every committed record is there and decrypts; every reported update is there.
        let s = SqliteStore::open(&path, StoreKey::new(KEY), Arc::new(OsRandom)).unwrap();
        let records = s.list().unwrap();
        let present: HashSet<String> = records.iter().map(|r| r.id.clone()).collect();
        for id in &committed {
            assert!(present.contains(id), "round {round}: committed {id} lost");
        }
        for r in &records {
            assert_eq!(r.sd_jwt.len(), 3000, "round {round}: {} corrupted", r.id);
            if updated.contains(&r.id) {
                assert_eq!(r.presentations, 1, "round {round}: update of {} lost", r.id);
            }
        }
        next = records
            .iter()
            .filter_map(|r| r.id.strip_prefix('r').and_then(|n| n.parse::<u64>().ok()))
            .max()
            .map_or(next, |m| m + 1);
    }
    println!(
        "{} records committed across {rounds} kills",
        committed.len()
    );
    assert!(
        committed.len() > 100,
        "the child wrote too little to test anything"
    );
}

#[test]
fn dcql_query_gives_consent_candidates_and_a_minimal_presentation() {
    use credkit::dcql::DcqlQuery;
    let issuer = Issuer::new();
    let w = wallet(&issuer, Arc::new(MemoryStore::new()));
    let (batch, _) = add_batch(&w, &issuer, 1);
    let query = DcqlQuery::parse(&json!({
        "credentials": [{
            "id": "age",
            "format": "dc+sd-jwt",
            "meta": {"vct_values": ["urn:example:id:1"]},
            "claims": [{"path": ["age_over_18"], "values": [true]}]
        }]
    }))
    .unwrap();
    let answers = w.query(&query).unwrap();
    assert_eq!(answers.len(), 1);
    let c = &answers[0].candidates[0];
    assert_eq!(c.batch, batch);
    assert_eq!(c.disclose, ["/age_over_18"]);
    assert_eq!(c.revealed, [("/age_over_18".to_owned(), json!(true))]);
    assert_eq!(c.remaining, 1);
    let pointers: Vec<&str> = c.disclose.iter().map(String::as_str).collect();
    let p = w.present(&c.batch, &pointers, AUD, "n").unwrap();
    let verified = issuer
        .verifier(KeyBindingPolicy::Required {
            audience: AUD.into(),
            nonce: "n".into(),
        })
        .verify(&p)
        .unwrap();
    assert_eq!(verified.sd_jwt.disclosed, ["/age_over_18"]);
    assert!(verified.claims().get("given_name").is_none());
    // The only copy is used up: nothing left to answer with (one-time use).
    assert_eq!(w.query(&query).unwrap_err().code(), "dcql_unsatisfiable");
    // A type the wallet does not hold.
    let other = DcqlQuery::parse(&json!({
        "credentials": [{"id": "x", "format": "dc+sd-jwt", "meta": {"vct_values": ["urn:example:none"]}}]
    }))
    .unwrap();
    assert_eq!(w.query(&other).unwrap_err().code(), "dcql_unsatisfiable");
}

#[test]
fn schema_migrates_from_version_1_keeping_records() {
    let path = temp_db("migrate");
    {
        let s = SqliteStore::open(&path, StoreKey::new(KEY), Arc::new(OsRandom)).unwrap();
        s.insert(&[record(1), record(2)]).unwrap();
    }
    // Turn the file back into a version-1 store.
    rusqlite_conn(&path)
        .execute_batch("DROP TABLE holder_key; PRAGMA user_version = 1;")
        .unwrap();
    let s = SqliteStore::open(&path, StoreKey::new(KEY), Arc::new(OsRandom)).unwrap();
    assert_eq!(s.schema_version().unwrap(), 2);
    assert_eq!(s.list().unwrap().len(), 2);
    let keys = SqliteKeyManager::new(Arc::new(s));
    keys.create_key(Algorithm::Es256).unwrap();
}

#[test]
fn software_holder_keys_persist_encrypted_in_the_store() {
    let path = temp_db("keys");
    let (id, public) = {
        let s = Arc::new(SqliteStore::open(&path, StoreKey::new(KEY), Arc::new(OsRandom)).unwrap());
        SqliteKeyManager::new(s)
            .create_key(Algorithm::Es256)
            .unwrap()
    };
    let s = Arc::new(SqliteStore::open(&path, StoreKey::new(KEY), Arc::new(OsRandom)).unwrap());
    let keys = SqliteKeyManager::new(s);
    assert_eq!(keys.public_key(&id).unwrap(), public);
    let sig = keys.sign(&id, b"message").unwrap();
    default_provider()
        .verifying_key(&public, Algorithm::Es256)
        .unwrap()
        .verify(b"message", &sig)
        .unwrap();
    let raw = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).to_string();
    assert!(!raw.contains("\"d\""), "private key material on disk");
    keys.delete_key(&id).unwrap();
    assert_eq!(keys.public_key(&id).unwrap_err().code(), "not_found");
    // A full wallet on SQLite keys and store survives a reopen.
    let issuer = Issuer::new();
    let store = Arc::new(SqliteStore::open(&path, StoreKey::new(KEY), Arc::new(OsRandom)).unwrap());
    let w = Wallet::new(
        store.clone(),
        Arc::new(SqliteKeyManager::new(store)),
        issuer.verifier(KeyBindingPolicy::Forbidden),
    )
    .clock(Arc::new(FixedClock(NOW)));
    let (batch, _) = add_batch(&w, &issuer, 2);
    drop(w);
    let store = Arc::new(SqliteStore::open(&path, StoreKey::new(KEY), Arc::new(OsRandom)).unwrap());
    let w = Wallet::new(
        store.clone(),
        Arc::new(SqliteKeyManager::new(store)),
        issuer.verifier(KeyBindingPolicy::Forbidden),
    )
    .clock(Arc::new(FixedClock(NOW)));
    let p = w.present(&batch, &["/given_name"], AUD, "n").unwrap();
    assert!(cnf_of(&p, &issuer).is_object());
    assert_eq!(w.remaining(&batch).unwrap(), 1);
}

/// A host keystore whose signing can be made to fail (the user cancels the prompt).
#[derive(Debug)]
struct CancellableKeys {
    inner: SoftwareKeyManager,
    cancel: std::sync::atomic::AtomicBool,
    /// Signatures allowed before every further one is cancelled.
    allowed: std::sync::atomic::AtomicUsize,
}

impl KeyManager for CancellableKeys {
    fn create_key(&self, alg: Algorithm) -> credkit::Result<(String, PublicJwk)> {
        self.inner.create_key(alg)
    }
    fn public_key(&self, id: &str) -> credkit::Result<PublicJwk> {
        self.inner.public_key(id)
    }
    fn sign(&self, id: &str, message: &[u8]) -> credkit::Result<Vec<u8>> {
        let allowed = self.allowed.fetch_update(
            std::sync::atomic::Ordering::SeqCst,
            std::sync::atomic::Ordering::SeqCst,
            |n| n.checked_sub(1),
        );
        if self.cancel.load(std::sync::atomic::Ordering::SeqCst) || allowed.is_err() {
            return Err(credkit::error::WalletError::KeyUnavailable("cancelled".into()).into());
        }
        self.inner.sign(id, message)
    }
    fn delete_key(&self, id: &str) -> credkit::Result<()> {
        self.inner.delete_key(id)
    }
}

/// A wallet whose keystore starts cancelling every signature when `cancel` is set.
fn cancellable_wallet(issuer: &Issuer, cancel: bool) -> (Wallet, Arc<CancellableKeys>) {
    let keys = Arc::new(CancellableKeys {
        inner: SoftwareKeyManager::new(Arc::new(OsRandom)),
        cancel: std::sync::atomic::AtomicBool::new(cancel),
        allowed: std::sync::atomic::AtomicUsize::new(usize::MAX),
    });
    let w = Wallet::new(
        Arc::new(MemoryStore::new()),
        keys.clone(),
        issuer.verifier(KeyBindingPolicy::Forbidden),
    )
    .clock(Arc::new(FixedClock(NOW)));
    (w, keys)
}

#[test]
fn a_failed_signature_spends_no_one_time_copy() {
    let issuer = Issuer::new();
    let (w, keys) = cancellable_wallet(&issuer, true);
    let (batch, _) = add_batch(&w, &issuer, 1);
    for _ in 0..3 {
        let e = w.present(&batch, &["/given_name"], AUD, "n").unwrap_err();
        assert_eq!(e.code(), "key_unavailable");
    }
    assert_eq!(w.remaining(&batch).unwrap(), 1);
    keys.cancel
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let p = w.present(&batch, &["/given_name"], AUD, "n").unwrap();
    assert_eq!(cnf_of(&p, &issuer)["jwk"]["kty"], "EC");
    assert_eq!(w.remaining(&batch).unwrap(), 0);
}

#[test]
fn consent_values_of_containers_hold_only_what_is_disclosed() {
    use credkit::dcql::DcqlQuery;
    let issuer = Issuer::new();
    let w = wallet(&issuer, Arc::new(MemoryStore::new()));
    let (id, holder) = w.create_holder_keys(1, Algorithm::Es256).unwrap().remove(0);
    let claims = json!({"address": {"locality": "Köln", "street_address": "Heidestraße 17"}});
    let issued = VcBuilder::new(
        Vct::new("urn:example:id:1").unwrap(),
        claims.as_object().cloned().unwrap(),
    )
    .issuer("https://issuer.example")
    .issued_at(NOW - 10)
    .holder_key(holder)
    .disclose_all_claims()
    .issue(&*issuer.signer, &OsRandom)
    .unwrap()
    .to_string();
    let batch = w.add(&[&issued], &[id]).unwrap();
    let query = DcqlQuery::parse(&json!({
        "credentials": [{
            "id": "city",
            "format": "dc+sd-jwt",
            "meta": {"vct_values": ["urn:example:id:1"]},
            "claims": [{"path": ["address", "locality"]}]
        }]
    }))
    .unwrap();
    let answers = w.query(&query).unwrap();
    let c = &answers[0].candidates[0];
    assert_eq!(c.batch, batch);
    let mut revealed = c.revealed.clone();
    revealed.sort_by(|a, b| a.0.cmp(&b.0));
    // The street stays in the wallet, and the consent screen does not show it either.
    assert_eq!(
        revealed,
        [
            ("/address".to_owned(), json!({"locality": "Köln"})),
            ("/address/locality".to_owned(), json!("Köln")),
        ]
    );
}

#[test]
fn a_response_of_several_presentations_spends_copies_only_when_all_are_signed() {
    use std::sync::atomic::Ordering;
    let issuer = Issuer::new();
    let (w, keys) = cancellable_wallet(&issuer, false);
    let (a, _) = add_batch(&w, &issuer, 2);
    let (b, _) = add_batch(&w, &issuer, 1);
    let name: &[&str] = &["/given_name"];
    // The second signature is cancelled: nothing is spent.
    keys.allowed.store(1, Ordering::SeqCst);
    let e = w
        .present_all(&[(&a, name), (&b, name)], AUD, "n")
        .unwrap_err();
    assert_eq!(e.code(), "key_unavailable");
    assert_eq!((w.remaining(&a).unwrap(), w.remaining(&b).unwrap()), (2, 1));
    keys.allowed.store(usize::MAX, Ordering::SeqCst);
    // More copies asked of a batch than it has left: refused before anything is signed.
    let e = w
        .present_all(&[(&b, name), (&b, name)], AUD, "n")
        .unwrap_err();
    assert_eq!(e.code(), "credential_exhausted");
    assert_eq!(w.remaining(&b).unwrap(), 1);
    // Two presentations of one batch use its two different copies (different holder keys).
    let out = w.present_all(&[(&a, name), (&a, name)], AUD, "n").unwrap();
    assert_eq!(out.len(), 2);
    assert_ne!(cnf_of(&out[0], &issuer), cnf_of(&out[1], &issuer));
    assert_eq!(w.remaining(&a).unwrap(), 0);
}

#[test]
fn records_whose_index_fields_do_not_match_their_credential_are_refused() {
    let issuer = Issuer::new();
    let store = Arc::new(MemoryStore::new());
    let w = wallet(&issuer, store.clone());
    add_batch(&w, &issuer, 1);
    assert_eq!(w.list().unwrap().len(), 1);
    let mut r = store.list().unwrap().remove(0);
    r.vct = "urn:example:passport:1".into();
    store.update(&r).unwrap();
    assert_eq!(w.list().unwrap_err().code(), "storage_failed");
    r.vct = "urn:example:id:1".into();
    r.issuer = Some("https://other.example".into());
    store.update(&r).unwrap();
    assert_eq!(w.list().unwrap_err().code(), "storage_failed");
}

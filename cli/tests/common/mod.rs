//! The CLI test harness shared by `status.rs` and `vc.rs`: run the binary, assert the exit-code
//! contract (0 ok; 1 rejected with one stderr line beginning with the error code and nothing on
//! stdout; 2 usage or I/O), temporary directories, key pairs.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub(crate) fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_credkit"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that fails on its arguments exits without reading stdin: a broken pipe here
    // is expected, any other write error is not.
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

/// Asserts a rejection: exit 1, nothing on stdout and one stderr line that begins with the
/// error code.
pub(crate) fn rejected(args: &[&str], stdin: &str, code: &str) {
    let out = run(args, stdin);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert!(
        err.starts_with(code),
        "{args:?}: expected {code}, got {err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(out.stdout.is_empty(), "{args:?}: output on a rejection");
}

/// Asserts a usage or I/O error: exit 2.
pub(crate) fn usage(args: &[&str], stdin: &str) -> String {
    let out = run(args, stdin);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    err
}

pub(crate) fn ok(args: &[&str], stdin: &str) -> String {
    let out = run(args, stdin);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub(crate) fn ok_json(args: &[&str], stdin: &str) -> Value {
    serde_json::from_str(&ok(args, stdin)).unwrap()
}

pub(crate) struct Dir(pub(crate) PathBuf);

impl Dir {
    pub(crate) fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("credkit-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
    pub(crate) fn write(&self, name: &str, text: &str) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    }
    pub(crate) fn path(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_owned()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn read(p: &str) -> String {
    std::fs::read_to_string(Path::new(p)).unwrap()
}

/// A new ES256 key pair: (private JWK file, public JWK file).
pub(crate) fn keypair(d: &Dir, name: &str) -> (String, String) {
    let private = d.write(&format!("{name}.jwk"), &ok(&["key", "generate"], ""));
    let public = d.write(
        &format!("{name}.pub.jwk"),
        &ok(&["key", "public"], &read(&private)),
    );
    (private, public)
}

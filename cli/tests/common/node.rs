//! The independent implementations in Node.js that the interop tests drive: `npm ci` of an
//! `interop/<name>` directory once per test run (skipped, with a message, only when node or
//! npm is missing), and child processes read line by line with a time limit and killed when
//! a test ends early. Included with `#[path]` by `interop_openid4vp.rs` and
//! `interop_openid4vci.rs`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The most any one step (a Node run, the credkit wallet) may take.
pub(crate) const STEP_TIMEOUT: Duration = Duration::from_secs(45);

/// `Ok(Some(dir))` when the npm packages are installed, `Ok(None)` when node or npm is
/// missing (skip), `Err` when `npm ci` failed.
type Install = Result<Option<PathBuf>, String>;

static INSTALLS: Mutex<Option<HashMap<String, Install>>> = Mutex::new(None);

fn has(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The installed `interop/<name>` directory, or `None` (with a printed message naming
/// `peer`) when the test must be skipped. Panics when the install fails.
pub(crate) fn npm_install(name: &str, peer: &str) -> Option<PathBuf> {
    let mut state = INSTALLS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let result = state
        .get_or_insert_with(HashMap::new)
        .entry(name.to_owned())
        .or_insert_with(|| {
            let missing: Vec<&str> = ["node", "npm"].into_iter().filter(|t| !has(t)).collect();
            if !missing.is_empty() {
                return Ok(None);
            }
            let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../interop")
                .join(name)
                .canonicalize()
                .map_err(|e| format!("interop/{name}: {e}"))?;
            let started = Instant::now();
            let out = Command::new("npm")
                .arg("ci")
                .arg("--prefix")
                .arg(&dir)
                .args(["--no-audit", "--no-fund", "--ignore-scripts"])
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("npm ci: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "npm ci --prefix {} failed ({:?}):\n{}\n{}",
                    dir.display(),
                    out.status.code(),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            eprintln!(
                "interop/{name}: npm ci took {:.1} s",
                started.elapsed().as_secs_f64()
            );
            Ok(Some(dir))
        });
    match result {
        Ok(Some(dir)) => Some(dir.clone()),
        Ok(None) => {
            println!(
                "SKIPPED: node and npm are needed for the interop tests with {peer} (from npm); \
                 install Node.js >= 20 with npm to run them"
            );
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// A child process that is killed (by its handle) when the test ends early.
pub(crate) struct Running {
    child: Child,
    what: &'static str,
    stdout: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    pub(crate) fn spawn(what: &'static str, cmd: &mut Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let (tx, stdout) = channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Line by line, so that a process still running (a server) can be read.
        let stderr = Arc::new(Mutex::new(String::new()));
        let err = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Self {
            child,
            what,
            stdout,
            stderr,
        }
    }

    /// The next stdout line, within [`STEP_TIMEOUT`].
    pub(crate) fn line(&mut self) -> String {
        match self.stdout.recv_timeout(STEP_TIMEOUT) {
            Ok(line) => line,
            Err(e) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "{}: no output line ({e}); stderr:\n{}",
                    self.what,
                    self.stderr()
                )
            }
        }
    }

    /// The next stdout line as JSON.
    pub(crate) fn json_line(&mut self) -> Value {
        let line = self.line();
        serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {line}", self.what))
    }

    pub(crate) fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the stderr reader finish.
                std::thread::sleep(Duration::from_millis(50));
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("{}: timed out; stderr:\n{}", self.what, self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

//! `credkit`: issue, present, verify and inspect SD-JWTs from the command line, and keep
//! Token Status Lists (revocation and suspension), and keep a holder wallet (`credkit wallet`).
//!
//! Exit codes: 0 success; 1 the input was rejected (one line on stderr that begins with the
//! error code, e.g. `disclosure_unreferenced: ...`); 2 usage or I/O error.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod common;
mod issuance;
mod key;
mod sd_jwt;
mod status;
mod trust;
mod wallet;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use credkit::error::{IssuanceError, StatusError};

use crate::key::{KeyCommand, key};
use crate::sd_jwt::{IssueArgs, PresentArgs, VerifyArgs, decode, issue, present, verify};
use crate::status::{StatusCommand, status};
use crate::wallet::{WalletArgs, wallet};

#[derive(Parser)]
#[command(
    name = "credkit",
    version,
    about = "Selective-disclosure credentials (SD-JWT, RFC 9901; SD-JWT VC)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate keys or derive public keys.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Issue an SD-JWT and print it.
    Issue(IssueArgs),
    /// Select disclosures from a credential, optionally add a Key Binding JWT, and print the
    /// presentation.
    Present(PresentArgs),
    /// Verify a presentation read from stdin and print the processed payload.
    Verify(VerifyArgs),
    /// Print the header, payload and decoded disclosures of an SD-JWT read from stdin
    /// (no verification).
    Decode,
    /// Token Status Lists: create a list, set statuses, sign it as a Status List Token, read
    /// a status from a token.
    Status {
        #[command(subcommand)]
        command: StatusCommand,
    },
    /// A holder wallet in an encrypted SQLite file: create holder keys, add issued SD-JWT VCs
    /// (verified, bound to the wallet's keys), list them, answer DCQL queries and present.
    ///
    /// The store key (32 bytes, as 64 hex characters) is read from the environment variable
    /// --key-env (default CREDKIT_WALLET_KEY) or from --key-file; every record and holder key
    /// in the file is encrypted under it.
    Wallet(WalletArgs),
}

/// A failure: `Rejected` exits 1, `Usage` exits 2.
enum Failure {
    Rejected(credkit::Error),
    Usage(String),
}

impl From<credkit::Error> for Failure {
    fn from(e: credkit::Error) -> Self {
        Self::Rejected(e)
    }
}

impl From<StatusError> for Failure {
    fn from(e: StatusError) -> Self {
        Self::Rejected(e.into())
    }
}

impl From<IssuanceError> for Failure {
    fn from(e: IssuanceError) -> Self {
        Self::Rejected(e.into())
    }
}

type CliResult<T> = Result<T, Failure>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(out) => {
            // A closed pipe (`credkit decode | head`) is not an error worth a panic. Commands
            // that only write a file print nothing.
            if !out.is_empty() {
                let _ = writeln!(std::io::stdout(), "{out}");
            }
            ExitCode::SUCCESS
        }
        Err(Failure::Rejected(e)) => {
            let msg = e.to_string();
            // One line, beginning with the error code.
            let msg = msg.replace('\n', " ");
            if msg.starts_with(e.code()) {
                eprintln!("{msg}");
            } else {
                eprintln!("{}: {msg}", e.code());
            }
            ExitCode::from(1)
        }
        Err(Failure::Usage(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> CliResult<String> {
    match cli.command {
        Command::Key { command } => key(command),
        Command::Issue(a) => issue(&a),
        Command::Present(a) => present(&a),
        Command::Verify(a) => verify(&a),
        Command::Decode => decode(),
        Command::Status { command } => status(command),
        Command::Wallet(a) => wallet(a),
    }
}

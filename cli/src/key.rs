//! `credkit key`: generate keys and derive public keys.

use clap::Subcommand;
use credkit::crypto::{HashAlg, default_provider};
use credkit::jose::{Algorithm, PrivateJwk};
use credkit::rand::OsRandom;
use serde_json::Value;

use crate::common::{pretty, read_stdin};
use crate::{CliResult, Failure};

#[derive(Subcommand)]
pub(crate) enum KeyCommand {
    /// Print a new private JWK.
    Generate {
        /// ES256, ES384, ES512 or EdDSA.
        #[arg(long, default_value = "ES256")]
        alg: String,
    },
    /// Read a private JWK on stdin and print its public JWK.
    Public,
}

pub(crate) fn key(command: KeyCommand) -> CliResult<String> {
    match command {
        KeyCommand::Generate { alg } => {
            let alg = Algorithm::from_name(&alg)
                .ok_or_else(|| Failure::Usage(format!("unknown algorithm {alg:?}")))?;
            let key = default_provider().generate(alg, &OsRandom)?;
            let kid = key.public().thumbprint(HashAlg::Sha256);
            let key = key.with_kid(kid);
            let text = key.to_json_string();
            let v: Value =
                serde_json::from_str(&text).map_err(|e| Failure::Usage(e.to_string()))?;
            Ok(pretty(&v))
        }
        KeyCommand::Public => {
            let key = PrivateJwk::parse(&read_stdin()?)?;
            Ok(pretty(&Value::Object(key.public().to_json())))
        }
    }
}

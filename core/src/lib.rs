#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod b64;
pub mod crypto;
pub mod dcql;
pub mod error;
pub mod http;
pub mod jose;
pub mod json;
pub mod oauth;
pub mod openid4vci;
pub mod openid4vp;
pub mod rand;
pub mod sd_jwt;
pub mod sd_jwt_vc;
pub mod status_list;
pub mod time;
pub mod wallet;
pub mod x509;

pub use error::{Error, Result};

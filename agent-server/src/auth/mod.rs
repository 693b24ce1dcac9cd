//! Inbound JWT auth, as AgentCore's `customJWTAuthorizer` does it: a caller proves who it is with
//! a bearer token that an OpenID Connect provider signed, and the verified user — not a payload
//! field or a header the caller chose — owns the sessions it reaches.
//!
//! One concept a file: the settings ([`AuthConfig`]), the provider's discovery document
//! (`discovery`), its published keys and the rule for fetching them again (`key_set`), the cache
//! of tokens already verified (`verified_tokens`), where a token is read from (`bearer`), why
//! one is refused and how that is answered ([`TokenRejection`]), and the [`Authorizer`] that
//! ties them together. The runtime-context layer calls it before any route runs.

mod authorizer;
mod bearer;
mod config;
mod discovery;
mod key_set;
mod rejection;
mod verified_tokens;

pub use authorizer::{AuthSetupError, Authorizer, LEEWAY_SECS};
pub use bearer::BEARER_SUBPROTOCOL;
pub(crate) use bearer::{bearer_token, selected_subprotocol};
pub use config::{AuthConfig, DEFAULT_USER_CLAIM};
pub use rejection::TokenRejection;

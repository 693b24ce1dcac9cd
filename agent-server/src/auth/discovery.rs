//! The provider's OpenID Connect discovery document — its `issuer` and where it publishes its
//! keys (`jwks_uri`) — and the one way this module reads anything from the provider: over HTTPS
//! (plain HTTP only to a loopback address, for a provider on the same host), within a time and a
//! size bound, following no redirect, so a slow, huge or redirected answer cannot stall start-up
//! or carry the fetch elsewhere.

use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// How long one read of the provider may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest document read from the provider.
const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// What the authorizer needs of the discovery document.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Discovery {
    /// The `iss` every accepted token must carry.
    pub(super) issuer: String,
    /// Where the signing keys are published.
    pub(super) jwks_uri: String,
}

/// Reads JSON documents from the provider.
#[derive(Clone)]
pub(super) struct ProviderClient {
    http: reqwest::Client,
}

/// Why a document could not be read.
#[derive(Debug, thiserror::Error)]
pub(super) enum FetchError {
    #[error("{url} is neither https nor http to a loopback address")]
    Insecure { url: String },
    #[error("{url} could not be read: {source}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url} answered {status}")]
    Status {
        url: String,
        status: reqwest::StatusCode,
    },
    #[error("{url} answered more than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge { url: String },
    #[error("{url} is not the JSON expected: {source}")]
    Json {
        url: String,
        #[source]
        source: serde_json::Error,
    },
}

impl ProviderClient {
    pub(super) fn new() -> Self {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self { http }
    }

    pub(super) async fn discover(&self, url: &str) -> Result<Discovery, FetchError> {
        let discovery: Discovery = self.fetch(url).await?;
        // The keys' address is checked by the same rule before it is ever read.
        check_scheme(&discovery.jwks_uri)?;
        Ok(discovery)
    }

    /// GETs `url` and reads its body as `T`, within the bounds.
    pub(super) async fn fetch<T: DeserializeOwned>(&self, url: &str) -> Result<T, FetchError> {
        check_scheme(url)?;
        let http = |source| FetchError::Http {
            url: url.to_owned(),
            source,
        };
        let mut response = self.http.get(url).send().await.map_err(http)?;
        if !response.status().is_success() {
            return Err(FetchError::Status {
                url: url.to_owned(),
                status: response.status(),
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(http)? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(FetchError::TooLarge {
                    url: url.to_owned(),
                });
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|source| FetchError::Json {
            url: url.to_owned(),
            source,
        })
    }
}

/// HTTPS anywhere, plain HTTP to loopback only.
fn check_scheme(url: &str) -> Result<(), FetchError> {
    let parsed = reqwest::Url::parse(url).ok();
    let allowed = parsed.as_ref().is_some_and(|parsed| match parsed.scheme() {
        "https" => true,
        "http" => parsed.host_str().is_some_and(|host| {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }),
        _ => false,
    });
    if allowed {
        Ok(())
    } else {
        Err(FetchError::Insecure {
            url: url.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_over_https_or_from_loopback_only() {
        for url in [
            "https://cognito-idp.us-west-2.amazonaws.com/pool/.well-known/openid-configuration",
            "http://127.0.0.1:8000/.well-known/openid-configuration",
            "http://[::1]:8000/jwks",
            "http://localhost/jwks",
        ] {
            assert!(check_scheme(url).is_ok(), "{url}");
        }
        for url in ["http://example.com/jwks", "ftp://127.0.0.1/x", "not a url"] {
            assert!(check_scheme(url).is_err(), "{url}");
        }
    }
}

//! The AWS configuration for a local stand-in of an AWS service (a replay server, wiremock, the
//! Memory stand-in): region `us-east-1` and placeholder credentials, so no AWS account is
//! involved and nothing in the environment is read for them.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::Credentials;

/// The SDK configuration every local stand-in's client is built on.
pub(crate) async fn local_sdk_config() -> SdkConfig {
    let credentials = Credentials::new(
        "local-stand-in",
        "local-stand-in",
        None,
        None,
        "agent-core local endpoint",
    );
    aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(credentials)
        .load()
        .await
}

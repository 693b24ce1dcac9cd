//! agent-core's behaviour tests, one binary: the agent loop on a scripted model, its streaming
//! form, and (feature `bedrock`) `BedrockModel` through the real AWS SDK client against wiremock.

mod agent_loop;
mod agent_streaming;
#[cfg(feature = "bedrock")]
mod bedrock_stream;
#[cfg(feature = "bedrock")]
mod bedrock_wire;
mod session_state;

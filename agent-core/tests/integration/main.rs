//! agent-core's behaviour tests, one binary: the agent loop on a scripted model, its streaming
//! form, long-term memory through a `Recall`, and (feature `bedrock`) `BedrockModel` through the real AWS SDK client against wiremock.

mod agent_loop;
mod agent_streaming;
#[cfg(feature = "bedrock")]
mod bedrock_stream;
#[cfg(feature = "bedrock")]
mod bedrock_wire;
mod recall;
mod session_state;
mod structured_output;

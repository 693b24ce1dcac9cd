# The agent-server binary in a small image, as AgentCore Runtime runs it: 0.0.0.0:8080, a
# non-root user, linux/arm64 (what AgentCore requires) or linux/amd64.
#
#   docker buildx build --platform linux/arm64 -t agentcore-rs .
#
# The build stage runs exactly the README's build command (the release profile: fat LTO,
# optimised for size, no symbols, relative relocations packed — so the image carries an 18 MiB
# binary, which needs glibc 2.36 or later, as Debian 12 has); the runtime stage holds the binary,
# CA certificates (Bedrock and rediss:// verify TLS) and the shipped agent files.

FROM rust:1.95-slim-bookworm AS build
# cmake for aws-lc-sys (TLS of the AWS SDK), on either architecture.
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release -p agent-server

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home agent
COPY --from=build /src/target/release/agent-server /usr/local/bin/agent-server
COPY agent-server/agents /etc/agent-server/agents
USER agent
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/agent-server"]
CMD ["--host", "0.0.0.0", "--port", "8080"]

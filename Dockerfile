# keyhound as a container image: one static (musl) binary on an empty base.
#
#   docker build -t keyhound .
#   docker run --rm -v "$PWD:/src" keyhound git /src
#
# Two images: the default (last) stage, keyhound alone on scratch; and `--target ci`, the same binary on Alpine
# with a shell and git, running as root, for CI systems that run a job's script inside the image (GitLab CI).
#
# The builder runs on Alpine, whose C compiler targets musl, so the C parts (vendored libgit2, liblzma) are
# built for musl with no cross tools. It builds for the platform the image is for: a multi-platform build
# (linux/amd64, linux/arm64) builds each one natively, or under emulation where the builder host lacks it.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-alpine AS builder
ARG TARGETARCH
RUN apk add --no-cache ca-certificates gcc musl-dev
WORKDIR /build

# The Rust target for the platform being built (TARGETARCH is set by BuildKit; a plain `docker build` on an
# x86_64 host builds for amd64).
RUN case "${TARGETARCH:-amd64}" in \
        amd64) echo x86_64-unknown-linux-musl ;; \
        arm64) echo aarch64-unknown-linux-musl ;; \
        *) echo "unsupported TARGETARCH: $TARGETARCH" >&2; exit 1 ;; \
    esac > /rust-target \
    && rustup target add "$(cat /rust-target)"

# Dependencies first, so that a change to src/ alone does not download them again. vendor/ holds the patched
# libgit2-sys that Cargo.toml's [patch.crates-io] points at.
COPY Cargo.toml Cargo.lock ./
COPY vendor ./vendor
RUN cargo fetch --locked --target "$(cat /rust-target)"

COPY rules ./rules
COPY src ./src
# crt-static is musl's default today; it is spelled out because the binary must stay static if that changes.
# The release profile's line tables are stripped, as in the released archives ([profile.dist]): 66 MB -> 16 MB.
RUN RUSTFLAGS="-C target-feature=+crt-static" CARGO_PROFILE_RELEASE_STRIP=debuginfo \
        cargo build --release --locked --target "$(cat /rust-target)" \
    && cp "target/$(cat /rust-target)/release/keyhound" /keyhound

FROM scratch AS base
ARG VERSION=dev
LABEL org.opencontainers.image.title="keyhound" \
      org.opencontainers.image.description="Find leaked OpenAI and other AI-provider API keys in files and git history, report them as SARIF/JSON, and revoke them." \
      org.opencontainers.image.source="https://github.com/keyhound/keyhound" \
      org.opencontainers.image.url="https://github.com/keyhound/keyhound" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
# Verification and revocation speak TLS (reqwest with rustls), which trusts the system's roots
# (rustls-native-certs): the image carries Alpine's CA bundle at the usual path.
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
COPY --from=builder /keyhound /usr/local/bin/keyhound
ENV PATH=/usr/local/bin
# There is no C library in this image: the binary runs here only if it is static.
RUN ["keyhound", "--version"]
WORKDIR /src
ENTRYPOINT ["keyhound"]

# For a CI job whose script runs in the image (GitLab CI: `image: {name: ..., entrypoint: [""]}`): a shell, git
# (to fetch a merge request's target branch), and root, since such jobs write into a checkout the runner made.
FROM alpine:3 AS ci
ARG VERSION=dev
LABEL org.opencontainers.image.title="keyhound (ci)" \
      org.opencontainers.image.description="keyhound with a shell and git, for CI jobs that run in the image." \
      org.opencontainers.image.source="https://github.com/keyhound/keyhound" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
RUN apk add --no-cache ca-certificates git
COPY --from=builder /keyhound /usr/local/bin/keyhound
RUN keyhound --version
WORKDIR /src
ENTRYPOINT ["keyhound"]

# The default image.
FROM base
# Not root. keyhound opens repositories owned by other users (the mounted checkout), and reads files that are
# readable to all; a report written into the mount needs that directory to be writable to this user (or run
# with `--user "$(id -u):$(id -g)"`).
USER 65532:65532

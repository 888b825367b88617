# The weir controller image: `weir controller --leader-elect` in a cluster (see
# docs/kubernetes.md). Build: `docker build -t ghcr.io/weir-dev/weir:$(version) .`
# (needs Docker Hub for the base images and crates.io for the build).

# Build stage: the release binary, with the toolchain rust-toolchain.toml pins.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p weir-cli \
    && install -D -m 0755 target/release/weir /out/weir

# Runtime: Debian slim with git (the Application controller shells out to git) and CA
# certificates (HTTPS repositories, the API server), as an unprivileged user whose id matches
# the Deployment's runAsUser.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates openssh-client \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 65532 nonroot \
    && useradd --uid 65532 --gid 65532 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin nonroot
COPY --from=build /out/weir /usr/local/bin/weir
USER 65532:65532
# The root filesystem is read-only in the pod: git clones go to /var/lib/weir and
# temporary files to /tmp, both emptyDir volumes.
ENV HOME=/tmp
EXPOSE 8080 8090
ENTRYPOINT ["/usr/local/bin/weir"]
CMD ["controller", "--leader-elect", "--data-dir", "/var/lib/weir"]

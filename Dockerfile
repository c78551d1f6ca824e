# syntax=docker/dockerfile:1
# forge-manager image: a glibc binary on distroless/cc (glibc + libgcc only; no shell, no package
# manager), running as uid 10001 (the same uid as cardano-node, so it can write credentials the
# node reads and signal the node without capabilities). See docs/deployment.md.
#
# Build:  docker build -t forge-manager:0.1.0 .
# Offline build on a machine without base images: deploy/image/build-local.sh

# ---- builder ---------------------------------------------------------------------------------
FROM rust:1.95-bookworm AS builder
WORKDIR /build

# Dependency layer: only the manifests and stub sources, so the (slow) dependency build is cached
# until Cargo.toml / Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
COPY crates/forge-core/Cargo.toml crates/forge-core/Cargo.toml
COPY sim/Cargo.toml sim/Cargo.toml
RUN mkdir -p src sim/src crates/forge-core/src \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs crates/forge-core/src/lib.rs \
 && echo 'fn main() {}' > sim/src/main.rs \
 && touch sim/src/lib.rs \
 && cargo build --profile dist --locked --bin forge-manager \
 && rm -rf src sim/src crates/forge-core/src

# The real sources (the workspace's members: the simulator's sources are not needed for the
# binary, but cargo loads every member's manifest and targets).
COPY crates/forge-core/src crates/forge-core/src
COPY src src
COPY sim/src sim/src
RUN touch src/main.rs src/lib.rs crates/forge-core/src/lib.rs \
 && cargo build --profile dist --locked --bin forge-manager \
 && strip target/dist/forge-manager \
 && ./target/dist/forge-manager --version

# ---- runtime ---------------------------------------------------------------------------------
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /build/target/dist/forge-manager /forge-manager
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["/forge-manager"]
CMD ["run"]

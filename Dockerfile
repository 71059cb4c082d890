# syntax=docker/dockerfile:1
# Multi-stage build of the release binary into a small runtime image.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY .cargo ./.cargo
COPY migration ./migration
COPY src ./src
COPY templates ./templates
COPY static ./static
# cargo reads every target the manifest names, even those it does not build
COPY tests ./tests
COPY benches ./benches
RUN cargo build --release --locked --no-default-features --bin mama && strip target/release/mama

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /data mama \
 && mkdir -p /data && chown mama /data
COPY --from=build /src/target/release/mama /usr/local/bin/mama
USER mama
WORKDIR /data
VOLUME ["/data"]
# Inside a container mama must listen on every interface; publish the port on the
# host's loopback (compose.yaml does) and put an HTTPS proxy in front.
# MAMA_REQUIRE_SECRETS: the image refuses to start without MAMA_SECRET_KEY,
# MAMA_ENCRYPTION_KEY, MAMA_AUDIT_KEY, MAMA_AUDIT_SIGNING_KEY and, on first start,
# MAMA_INITIAL_ADMIN_PASSWORD, so secrets
# are never generated into the data volume and nobody can claim admin/admin.
# A throwaway container may say MAMA_THROWAWAY=true instead.
# GLIBC_TUNABLES: Rust's allocations go to jemalloc (built-in settings,
# .cargo/config.toml); these cover what still uses glibc's malloc (SQLite, TLS):
# one malloc arena (2.4 MB less at the lookup bench's peak than two, at the same
# CPU per call: README, "Runs of 4 Dec 2026"), and buffers of 128 KiB or more
# mapped and returned to the system when freed, instead of one arena per core
# and a threshold that grows until such buffers fragment the heap (README,
# "Memory"). Run the bare binary with the same variable.
ENV MAMA_BIND=0.0.0.0:8080 \
    DATABASE_URL=sqlite:///data/mama.db?mode=rwc \
    MAMA_REQUIRE_SECRETS=true \
    GLIBC_TUNABLES=glibc.malloc.arena_max=1:glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=262144
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD ["/usr/local/bin/mama", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/mama"]
CMD ["serve"]

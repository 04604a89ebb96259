# syntax=docker/dockerfile:1
# HuntZen Care API image: build with the Rust toolchain, run on Debian slim as a non-root user.
# Migrations and the /room page are embedded in the binary. Build from the repository root:
#   docker build -t huntzen:latest .

FROM rust:1.95-bookworm AS build
WORKDIR /src
# sqlx and apalis-postgres check queries against committed data (.sqlx/), never a live database.
ENV SQLX_OFFLINE=true CARGO_TERM_COLOR=never
COPY Cargo.toml Cargo.lock build.rs sqlx.toml ./
COPY .sqlx ./.sqlx
COPY src ./src
COPY migrations ./migrations
COPY web ./web
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin huntzen \
 && install -m 0755 target/release/huntzen /usr/local/bin/huntzen

FROM debian:bookworm-slim
# ca-certificates: SMTP/S3 over TLS; postgresql-client-15: pg_dump for `huntzen backup`.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates postgresql-client-15 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/huntzen --create-home huntzen
COPY --from=build /usr/local/bin/huntzen /usr/local/bin/huntzen
USER huntzen:huntzen
WORKDIR /var/lib/huntzen
ENV APP_ENV=production \
    DATA_DIR=/var/lib/huntzen \
    HTTP_ADDR=0.0.0.0:3000
EXPOSE 3000
VOLUME ["/var/lib/huntzen"]
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["huntzen", "healthcheck"]
ENTRYPOINT ["huntzen"]
CMD ["serve"]

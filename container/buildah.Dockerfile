# The multiarch image with buildah beside it, for Dockerfiles with `RUN` in CI jobs that run in a
# container (GitLab, Tekton): `multiarch build` hands such builds to buildah and pushes the result
# by digest itself. Built from source, one native runner per platform (release.yml), from the
# repository root:
#   multiarch build --file container/buildah.Dockerfile --platform linux/arm64 --tag …
FROM docker.io/library/rust:1-alpine AS build
# zstd-sys, ring and aws-lc-sys compile C; musl-dev gives its headers and static libc.
RUN apk add --no-cache musl-dev
WORKDIR /src
# The whole workspace (every member crate); .dockerignore at the root keeps target/ and .git out.
COPY . .
# Alpine's Rust targets musl and links statically: the binary runs on any Linux.
RUN cargo build --release --locked \
 && install -D -m 755 target/release/multiarch /out/multiarch \
 && /out/multiarch --version

# buildah's own image (Fedora), with its storage and isolation already set up for containers.
FROM quay.io/buildah/stable:v1.43.1
LABEL org.opencontainers.image.title="multiarch-buildah" \
      org.opencontainers.image.description="multiarch with buildah, for Dockerfiles with RUN in containerised CI jobs" \
      org.opencontainers.image.source="https://github.com/multiarch-dev/multiarch" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/multiarch /usr/local/bin/multiarch
CMD ["multiarch", "--help"]

# hayate in a container: the deno-compiled binary on distroless (glibc, no shell,
# no package manager), running as an unprivileged user.
#
#   docker build -t hayate .
#   docker run --rm -p 6969:6969/tcp -p 6969:6969/udp -p 6880:6880/tcp \
#     -v "$PWD/hayate.yaml:/etc/hayate.yaml:ro" hayate
#
# Multi-arch (`docker buildx build --platform linux/amd64,linux/arm64 .`) compiles
# on the build machine for each target: `deno compile --target` needs no emulation.
# The build stage downloads the npm dependencies and the `denort` base binary.
ARG DENO_VERSION=2.9.6

FROM --platform=$BUILDPLATFORM denoland/deno:${DENO_VERSION} AS build
ARG TARGETARCH
WORKDIR /src
COPY deno.json deno.lock ./
COPY main.ts ./
COPY src ./src
RUN case "$TARGETARCH" in \
      amd64) target=x86_64-unknown-linux-gnu ;; \
      arm64) target=aarch64-unknown-linux-gnu ;; \
      *) echo "no deno compile target for $TARGETARCH" >&2; exit 1 ;; \
    esac \
 && deno compile --allow-net --allow-read --allow-env --allow-ffi --unstable-net \
      --target "$target" --output /out/hayate main.ts

# cc-debian12 has glibc (libc.so.6, which the FFI UDP transport opens) and nothing else.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/hayate /usr/local/bin/hayate
# A default config; mount your own over it. Set metrics_addr: "0.0.0.0:6880" to serve
# /metrics, /stats, /healthz and /readyz on the exposed port.
COPY config.example.yaml /etc/hayate.yaml
USER nonroot:nonroot
# HTTP announce/scrape, UDP (BEP 15), metrics.
EXPOSE 6969/tcp 6969/udp 6880/tcp
ENTRYPOINT ["/usr/local/bin/hayate"]
CMD ["--config", "/etc/hayate.yaml"]

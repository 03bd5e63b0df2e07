#!/bin/sh
# Installs the hayate release binary for this host and verifies its SHA-256
# against the release's SHA256SUMS before putting it in place.
#
#   curl -fsSL https://github.com/OWNER/hayate/releases/latest/download/install.sh | sh
#   sh scripts/install.sh                       # the latest release
#   HAYATE_VERSION=v0.1.0 sh scripts/install.sh # a given tag
#
# Environment:
#   HAYATE_REPO         GitHub owner/name to download from (default hayate-tracker/hayate)
#   HAYATE_VERSION      release tag, or "latest" (default latest)
#   HAYATE_BASE_URL     where hayate-<target> and SHA256SUMS live; overrides the two above
#                       (a mirror, or a local file server for testing)
#   HAYATE_INSTALL_DIR  where to put the binary (default $HOME/.local/bin)
#   HAYATE_TARGET       the target triple, instead of detecting it
#
# Supported: Linux (glibc) and macOS on x86_64 and aarch64. On Windows download
# hayate-x86_64-pc-windows-msvc.exe from the release page.
set -eu

say() { printf 'hayate-install: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

repo=${HAYATE_REPO:-hayate-tracker/hayate}
version=${HAYATE_VERSION:-latest}
if [ -n "${HAYATE_BASE_URL:-}" ]; then
  base=${HAYATE_BASE_URL%/}
elif [ "$version" = latest ]; then
  base="https://github.com/$repo/releases/latest/download"
else
  base="https://github.com/$repo/releases/download/$version"
fi
dir=${HAYATE_INSTALL_DIR:-${HOME:?set HOME or HAYATE_INSTALL_DIR}/.local/bin}

target=${HAYATE_TARGET:-}
if [ -z "$target" ]; then
  case $(uname -s) in
    Linux) os=unknown-linux-gnu ;;
    Darwin) os=apple-darwin ;;
    MINGW* | MSYS* | CYGWIN*) die "on Windows, download hayate-x86_64-pc-windows-msvc.exe from $base/" ;;
    *) die "no release binary for $(uname -s); run from source with deno task start" ;;
  esac
  case $(uname -m) in
    x86_64 | amd64) arch=x86_64 ;;
    aarch64 | arm64) arch=aarch64 ;;
    *) die "no release binary for $(uname -m); run from source with deno task start" ;;
  esac
  if [ "$os" = unknown-linux-gnu ] && [ -e /etc/alpine-release ]; then
    die "the Linux binaries need glibc (Alpine uses musl); use the Docker image or deno task start"
  fi
  target="$arch-$os"
fi
name="hayate-$target"

if command -v curl >/dev/null 2>&1; then
  fetch() { curl -fsSL --proto '=https,http' -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
  fetch() { wget -q -O "$2" "$1"; }
else
  die "needs curl or wget"
fi
if command -v sha256sum >/dev/null 2>&1; then
  sha256() { sha256sum "$1" | cut -d ' ' -f 1; }
elif command -v shasum >/dev/null 2>&1; then
  sha256() { shasum -a 256 "$1" | cut -d ' ' -f 1; }
else
  die "needs sha256sum or shasum to verify the download"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

say "downloading $base/$name"
fetch "$base/$name" "$tmp/$name" || die "could not download $base/$name"
fetch "$base/SHA256SUMS" "$tmp/SHA256SUMS" || die "could not download $base/SHA256SUMS"

want=$(awk -v n="$name" '$2 == n || $2 == "*" n { print $1; exit }' "$tmp/SHA256SUMS")
[ -n "$want" ] || die "SHA256SUMS has no line for $name"
got=$(sha256 "$tmp/$name")
[ "$got" = "$want" ] || die "SHA-256 mismatch for $name: expected $want, got $got; nothing installed"
say "verified SHA-256 $got"

mkdir -p "$dir"
chmod 755 "$tmp/$name"
# Same-directory rename: a running hayate keeps its old file, no half-written binary.
mv "$tmp/$name" "$dir/hayate.new.$$"
mv "$dir/hayate.new.$$" "$dir/hayate"
say "installed $dir/hayate ($("$dir/hayate" --version 2>/dev/null || echo "$name"))"
case ":${PATH:-}:" in
  *":$dir:"*) ;;
  *) say "note: $dir is not on PATH" ;;
esac

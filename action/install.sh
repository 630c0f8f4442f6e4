#!/bin/sh
# Puts the `multiarch` of this action's version on PATH, for the composite action's later steps.
#
# The version is the one in "$ACTION_PATH/Cargo.toml" ([workspace.package] version), so the
# action at tag vX.Y.Z always runs multiarch X.Y.Z. Tried in order:
#   path     a `multiarch` already on PATH whose `--version` says `multiarch X.Y.Z`: used as is.
#   release  Linux on X64 or ARM64: the release asset multiarch-<target triple> of tag vX.Y.Z and
#            its multiarch-<target triple>.sha256 (`HEX  NAME`), from
#            $GITHUB_SERVER_URL/$ACTION_REPOSITORY/releases/download/vX.Y.Z/. The binary is used
#            only if its SHA-256 matches: a mismatch stops here, it never falls through.
#   cargo    built from the action's own source: cargo install --locked --path "$ACTION_PATH".
# Either of the last two installs into "$RUNNER_TEMP/multiarch/bin" and appends it to $GITHUB_PATH.
#
# Environment:
#   ACTION_PATH        the action's checkout (github.action_path)                      required
#   ACTION_REPOSITORY  owner/repo of the action (github.action_repository); when empty, read
#                      from ACTION_PATH (…/_actions/OWNER/REPO/REF); unknown for a local
#                      `uses: ./`, which skips the release download
#   ACTION_REF         the ref the action is used at (github.action_ref, else from the path):
#                      a branch other than a v* tag or a commit SHA skips the release download
#   GITHUB_SERVER_URL  https://github.com, or a GitHub Enterprise Server; plain http only
#                      for a loopback host (tests)
#   RUNNER_OS          Linux | macOS | Windows
#   RUNNER_ARCH        X64 | ARM64 | ARM | X86
#   RUNNER_TEMP        where to install                                                required
#   GITHUB_PATH        the file whose lines the runner adds to PATH                    required
#   MULTIARCH_INSTALL_SOURCE  path | release | cargo: use only that way (fail if it fails);
#                      unset or empty: try them in the order above
set -eu

error() {
  # One line for the job's annotations; the details stay in the log above it.
  printf '::error title=multiarch install::%s\n' "$*"
  exit 1
}
note() { printf 'multiarch install: %s\n' "$*"; }

: "${ACTION_PATH:?ACTION_PATH must name the action checkout}"
ACTION_REPOSITORY="${ACTION_REPOSITORY:-}"
ACTION_REF="${ACTION_REF:-}"
# github.action_repository and action_ref can be empty inside composite actions; the runner
# checks actions out at …/_actions/OWNER/REPO/REF, so they can be read from the path.
case "$ACTION_PATH" in
  */_actions/*/*/*)
    rest=${ACTION_PATH#*/_actions/}
    owner=${rest%%/*}; rest=${rest#*/}
    repo=${rest%%/*}; rest=${rest#*/}
    [ -n "$ACTION_REPOSITORY" ] || ACTION_REPOSITORY="$owner/$repo"
    [ -n "$ACTION_REF" ] || ACTION_REF=${rest%%/*}
    ;;
esac
GITHUB_SERVER_URL="${GITHUB_SERVER_URL:-https://github.com}"
RUNNER_OS="${RUNNER_OS:-Linux}"
RUNNER_ARCH="${RUNNER_ARCH:-}"
source_only="${MULTIARCH_INSTALL_SOURCE:-}"

case "$source_only" in
  '' | path | release | cargo) ;;
  *) error "MULTIARCH_INSTALL_SOURCE is '$source_only'; expected path, release or cargo (or unset)" ;;
esac

version=$(awk '
  /^[[:space:]]*\[/ { section = $0; gsub(/[[:space:]]/, "", section); next }
  section == "[workspace.package]" && /^[[:space:]]*version[[:space:]]*=/ {
    sub(/^[^=]*=[[:space:]]*"/, ""); sub(/".*$/, ""); print; exit
  }' "$ACTION_PATH/Cargo.toml") || version=""
[ -n "$version" ] || error "no [workspace.package] version in $ACTION_PATH/Cargo.toml"

install_root="${RUNNER_TEMP:?RUNNER_TEMP must be set}/multiarch"
bin_dir="$install_root/bin"
mkdir -p "$RUNNER_TEMP"

# Adds $bin_dir to PATH for the job's later steps, and checks what is there now.
publish() {
  : "${GITHUB_PATH:?GITHUB_PATH must be set}"
  found=$("$bin_dir/multiarch" --version 2>&1) ||
    error "the installed $bin_dir/multiarch does not run ($found)"
  [ "$found" = "multiarch $version" ] ||
    error "the installed $bin_dir/multiarch says '$found', expected 'multiarch $version'"
  printf '%s\n' "$bin_dir" >>"$GITHUB_PATH"
  note "$found from $1, in $bin_dir"
}

# 1. Already on PATH (a runner image or an earlier step put it there).
if [ -z "$source_only" ] || [ "$source_only" = path ]; then
  if found=$(multiarch --version 2>/dev/null) && [ "$found" = "multiarch $version" ]; then
    note "using $(command -v multiarch) ($found)"
    exit 0
  fi
  [ "$source_only" != path ] ||
    error "MULTIARCH_INSTALL_SOURCE=path, but no 'multiarch $version' on PATH (found: '${found:-nothing}')"
fi

# 2. The release asset, checked against its published SHA-256. Sets $skipped when it cannot be
# tried or is not there; exits on a checksum mismatch.
skipped=""
try_release() {
  case "$RUNNER_OS/$RUNNER_ARCH" in
    Linux/X64) triple=x86_64-unknown-linux-musl ;;
    Linux/ARM64) triple=aarch64-unknown-linux-musl ;;
    *) skipped="no release binary for $RUNNER_OS/$RUNNER_ARCH"; return ;;
  esac
  if [ -z "$ACTION_REPOSITORY" ]; then
    skipped="the action's repository is unknown (a local action), so no release to download"
    return
  fi
  # A release tag (v1, v1.2, v1.2.3) or a commit pin (of a release, as pins normally are) runs
  # the released binary; a branch (main) may be ahead of the last release, so it is built.
  case "$ACTION_REF" in
    '' | v[0-9]* ) ;;
    *)
      if ! printf '%s' "$ACTION_REF" | grep -Eq '^[0-9a-f]{40}$'; then
        skipped="the action is used at $ACTION_REF, which may be ahead of release v$version"
        return
      fi
      ;;
  esac
  case "$GITHUB_SERVER_URL" in
    https://*) ;;
    http://127.* | http://localhost:* | http://localhost | http://\[::1\]*) ;;
    *) error "GITHUB_SERVER_URL '$GITHUB_SERVER_URL' is not https" ;;
  esac
  for tool in curl sha256sum; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      skipped="$tool is not installed"
      return
    fi
  done

  asset="multiarch-$triple"
  url="$GITHUB_SERVER_URL/$ACTION_REPOSITORY/releases/download/v$version/$asset"
  download=$(mktemp -d "$RUNNER_TEMP/multiarch-download.XXXXXX")
  trap 'rm -rf "$download"' EXIT

  echo "::group::Download $asset v$version"
  fetched=yes
  for file in "$asset" "$asset.sha256"; do
    if ! curl --fail --silent --show-error --location --retry 3 \
      --proto '=https,http' --proto-redir '=https' \
      --output "$download/$file" "$url${file#"$asset"}"; then
      fetched=""
      break
    fi
  done
  echo "::endgroup::"
  if [ -z "$fetched" ]; then
    skipped="could not download $url${file#"$asset"} (see the log above)"
    return
  fi

  # The checksum file's first field, checked for shape, against our own copy's name: what the
  # file says about other names is never read.
  expected=$(awk 'NR == 1 { print $1 }' "$download/$asset.sha256")
  case "$expected" in
    *[!0-9a-fA-F]* | '') expected="" ;;
  esac
  [ "${#expected}" -eq 64 ] || error "$url.sha256 does not start with a SHA-256 (expected 'HEX  $asset')"
  if ! (cd "$download" && printf '%s  %s\n' "$expected" "$asset" | sha256sum -c --status -); then
    actual=$(sha256sum "$download/$asset" | awk '{ print $1 }')
    error "checksum mismatch for $asset from $url: expected sha256 $expected ($asset.sha256), got $actual; refusing to install it"
  fi

  mkdir -p "$bin_dir"
  chmod 755 "$download/$asset"
  mv -f "$download/$asset" "$bin_dir/multiarch"
  publish "release v$version ($asset, sha256 $expected)"
  exit 0
}

if [ -z "$source_only" ] || [ "$source_only" = release ]; then
  try_release
  [ "$source_only" != release ] || error "MULTIARCH_INSTALL_SOURCE=release, but $skipped"
  note "$skipped; building multiarch $version from source instead"
fi

# 3. From the action's source.
command -v cargo >/dev/null 2>&1 ||
  error "no multiarch $version binary for this runner (${skipped:-MULTIARCH_INSTALL_SOURCE=cargo}) and no cargo on PATH to build it: install Rust before this step (e.g. with rustup), or put multiarch $version on PATH"
echo "::group::cargo install multiarch $version from $ACTION_PATH"
cargo install --locked --path "$ACTION_PATH" --root "$install_root" ||
  { echo "::endgroup::"; error "cargo install --locked --path $ACTION_PATH failed (see the log above)"; }
echo "::endgroup::"
publish "source ($ACTION_PATH)"

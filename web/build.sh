#!/bin/sh
# Vendors the jsQR decoder into the embedded app assets, so that `go build` needs
# neither npm nor the network. Run from anywhere: `sh web/build.sh`, or
# `go generate ./provider/webapp`. The copied files are committed.
#
# jsqr is pinned in package.json and package-lock.json (with its integrity hash);
# `npm ci` installs exactly that, without running any package scripts.
set -eu

web=$(cd "$(dirname "$0")" && pwd)
out="$web/../templates/static/app/vendor"

cd "$web"
npm ci --ignore-scripts --no-audit --no-fund
mkdir -p "$out"
cp node_modules/jsqr/dist/jsQR.js "$out/jsQR.js"
cp node_modules/jsqr/LICENSE "$out/jsQR.LICENSE"
node icons.mjs
echo "vendored jsQR $(node -p 'require("./node_modules/jsqr/package.json").version') into $out"

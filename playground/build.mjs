// Vendors the playground's third-party assets into assets/ and gzips every asset.
//
//   cd playground && npm ci && npm run build
//
// todoql embeds assets/ in its binary (src/http/playground.rs), so `cargo build` needs
// neither npm nor the internet; this script only runs when GraphiQL or React is upgraded
// or a hand-written asset (playground.js, playground.css) changes. With the same Node.js
// it is deterministic: running it twice gives the same bytes.

import { createRequire } from "node:module";
import { copyFileSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync, constants } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const assets = join(here, "assets");
const licenses = join(here, "licenses");
const require = createRequire(import.meta.url);

/** The packages we ship, with the exact versions the page is written for. */
const pinned = { graphiql: "4.1.2", react: "18.3.1", "react-dom": "18.3.1" };

/** asset name → file inside node_modules. */
const vendored = {
  // The standalone UMD bundle (graphql-js and the graphql-ws client included; React is not).
  "graphiql.min.js": "graphiql/graphiql.min.js",
  // Styles, with the Roboto and Fira Code fonts inlined as data: URLs.
  "graphiql.min.css": "graphiql/graphiql.min.css",
  "react.production.min.js": "react/umd/react.production.min.js",
  "react-dom.production.min.js": "react-dom/umd/react-dom.production.min.js",
};

function packageDir(name) {
  return dirname(require.resolve(`${name}/package.json`));
}

for (const [name, version] of Object.entries(pinned)) {
  const found = JSON.parse(readFileSync(join(packageDir(name), "package.json"), "utf8")).version;
  if (found !== version) {
    throw new Error(`${name} is ${found}, the playground is written for ${version}: run \`npm ci\` first`);
  }
}

mkdirSync(assets, { recursive: true });
mkdirSync(licenses, { recursive: true });

for (const [asset, source] of Object.entries(vendored)) {
  const [pkg, ...rest] = source.split("/");
  let text = readFileSync(join(packageDir(pkg), ...rest), "utf8");
  // The source maps are not shipped: drop the comment that would make DevTools fetch one.
  text = text.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, "\n");
  writeFileSync(join(assets, asset), text);
}

for (const pkg of Object.keys(pinned)) {
  copyFileSync(join(packageDir(pkg), "LICENSE"), join(licenses, `${pkg}.LICENSE`));
}

// Every asset gets a .gz sibling: todoql sends it to clients that accept gzip, so nothing is
// compressed at run time. Level 9 once here costs nothing at serve time.
let raw = 0;
let zipped = 0;
for (const name of readdirSync(assets).sort()) {
  if (name.endsWith(".gz")) continue;
  const path = join(assets, name);
  const bytes = readFileSync(path);
  const gz = gzipSync(bytes, { level: constants.Z_BEST_COMPRESSION });
  gz[9] = 255; // the header's "OS" byte: "unknown", so the output does not depend on the OS
  writeFileSync(`${path}.gz`, gz);
  raw += bytes.length;
  zipped += gz.length;
  console.log(`${name.padEnd(30)} ${kib(bytes.length).padStart(10)} ${kib(statSync(`${path}.gz`).size).padStart(10)} gzip`);
}
console.log(`${"total".padEnd(30)} ${kib(raw).padStart(10)} ${kib(zipped).padStart(10)} gzip`);

function kib(n) {
  return `${(n / 1024).toFixed(1)} KiB`;
}

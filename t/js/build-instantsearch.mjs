// Build the demo search page: bundle conf/instantsearch/app.js (with
// InstantSearch.js and @meilisearch/instant-meilisearch from t/js/node_modules)
// into one minified file with esbuild and copy index.html next to it.
//
//   node t/js/build-instantsearch.mjs [OUTDIR]     (default build/instantsearch)
//
// OUTDIR then holds index.html and app.js; nginx serves it with config.js
// (conf/miroir-instantsearch.conf).  Needs npm ci --prefix t/js first.

import { build } from "esbuild";
import { copyFileSync, mkdirSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const top = resolve(here, "../..");
const src = resolve(top, "conf/instantsearch");
const out = resolve(process.argv[2] || resolve(top, "build/instantsearch"));

mkdirSync(out, { recursive: true });
await build({
    entryPoints: [resolve(src, "app.js")],
    outfile: resolve(out, "app.js"),
    bundle: true,
    minify: true,
    format: "iife",
    platform: "browser",
    target: ["es2020"],
    nodePaths: [resolve(here, "node_modules")],
    legalComments: "eof",
    logLevel: "warning",
    define: { "process.env.NODE_ENV": '"production"' },
});
copyFileSync(resolve(src, "index.html"), resolve(out, "index.html"));
console.log(`instantsearch page: ${out}/index.html, app.js `
            + `(${statSync(resolve(out, "app.js")).size} bytes)`);

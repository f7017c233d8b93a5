// Bundles the extension into one file, dist/extension.js (CommonJS, as VS
// Code loads it), with vscode-languageclient inside and `vscode` left to the
// editor. `--production` minifies and drops the source map (for the .vsix).
import * as esbuild from "esbuild";

const production = process.argv.includes("--production");
const started = Date.now();

const result = await esbuild.build({
  entryPoints: ["src/extension.ts"],
  outfile: "dist/extension.js",
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node18",
  external: ["vscode"],
  minify: production,
  sourcemap: production ? false : "linked",
  sourcesContent: false,
  metafile: true,
  logLevel: "warning",
  legalComments: production ? "none" : "eof",
});

const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
const kb = (bytes / 1024).toFixed(0);
console.log(`dist/extension.js: ${kb} KiB${production ? " (minified)" : ""} in ${Date.now() - started} ms`);

// Builds dist/ with esbuild (what Node runs) and, when bun is installed, the single-file
// executable dist/sparekey-bin that bin/sparekey prefers because it starts in a few milliseconds.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const final = join(root, "dist");
// Build beside dist/ and swap it in at the end, so a test that is running bin/sparekey meanwhile
// never sees a half-written dist/.
const dist = join(root, `dist.tmp-${process.pid}`);
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

await build({
  entryPoints: [join(root, "src/cli/run.ts")],
  outdir: join(dist, "node"),
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  // The default target emits Uint8Array.fromBase64, which Node 20 lacks.
  target: "node20",
  // CommonJS dependencies (kdbxweb, qrcode) call require(); give the ESM bundle one.
  banner: {
    js: "import { createRequire as __skCreateRequire } from 'node:module'; const require = __skCreateRequire(import.meta.url);",
  },
  // Card fonts and the QR reader's wasm are imported `with { type: "file" }` (Bun embeds them);
  // esbuild rejects that attribute, so load them ourselves as files copied beside the bundle
  // (src/render/fonts.ts, src/io/zxingwasm.ts).
  plugins: [
    {
      name: "ttf-file",
      setup: (b) =>
        b.onLoad({ filter: /\.(ttf|wasm)$/ }, (a) => ({ contents: readFileSync(a.path), loader: "file" })),
    },
  ],
  // hash-wasm's "main" is a UMD build that esbuild wraps as CommonJS, leaving
  // `await import("hash-wasm")` with only a default export; its ESM build has the named ones.
  alias: { "hash-wasm": "hash-wasm/dist/index.esm.js" },
  logLevel: "warning",
});

// Node finds the module type here instead of walking up to the package's root for every chunk.
writeFileSync(join(dist, "node/package.json"), '{ "type": "module" }\n');

const bun = join(root, "node_modules/.bin/bun");
if (process.env.SPAREKEY_NO_BUN !== "1" && existsSync(bun)) {
  try {
    execFileSync(
      bun,
      [
        "build",
        "--compile",
        "--bytecode",
        "--format=esm",
        "--minify",
        // Lazily imported commands become separate chunks: without this Bun loads the whole
        // bundle (pdfkit, zxing, kdbxweb...) at start-up, ~6 ms of CPU on every `sparekey code`.
        "--splitting",
        // By default the binary reads .env and bunfig.toml from the working directory: a cloned
        // repository's .env could then point sparekey at another store or identities file.
        "--no-compile-autoload-dotenv",
        "--no-compile-autoload-bunfig",
        join(root, "src/cli/run.ts"),
        "--outfile",
        join(dist, "sparekey-bin"),
      ],
      { stdio: ["ignore", "ignore", "inherit"], cwd: root },
    );
  } catch (e) {
    console.error(`build: bun compile failed (${e.message.split("\n")[0]}); bin/sparekey will use Node`);
  }
}

const old = join(root, `dist.old-${process.pid}`);
if (existsSync(final)) renameSync(final, old);
renameSync(dist, final);
rmSync(old, { recursive: true, force: true });

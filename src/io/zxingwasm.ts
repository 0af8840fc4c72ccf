// Kept alone so that a runtime which cannot load it (vitest, plain Node on the sources) falls back
// to resolving the package file: Bun embeds a file imported this way in the compiled binary, and
// esbuild's file loader copies it beside the bundle and gives its path relative to the bundle.
import wasmPath from "zxing-wasm/reader/zxing_reader.wasm" with { type: "file" };

/** The zxing reader wasm as the build placed it. */
export default wasmPath;

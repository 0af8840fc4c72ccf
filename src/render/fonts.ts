import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { isAbsolute } from "node:path";
import { fileURLToPath } from "node:url";
import sansPath from "dejavu-fonts-ttf/ttf/DejaVuSans.ttf" with { type: "file" };
import sansBoldPath from "dejavu-fonts-ttf/ttf/DejaVuSans-Bold.ttf" with { type: "file" };
import monoPath from "dejavu-fonts-ttf/ttf/DejaVuSansMono.ttf" with { type: "file" };

/** The TrueType fonts a card is set in, as raw file bytes (DejaVu: free, wide Unicode coverage). */
export interface CardFonts {
  sans: Uint8Array;
  sansBold: Uint8Array;
  mono: Uint8Array;
}

/**
 * Where a bundled font may be: the path the bundler gave (absolute inside Bun's binary, relative
 * to the bundle for esbuild), then the package in node_modules (running from source, as tests do).
 */
function candidates(bundled: string, packagePath: string): string[] {
  const out: string[] = [];
  try {
    out.push(isAbsolute(bundled) ? bundled : fileURLToPath(new URL(bundled, import.meta.url)));
  } catch {
    // Not a usable path (a dev server URL): fall through to the package.
  }
  try {
    out.push(createRequire(import.meta.url).resolve(packagePath));
  } catch {
    // No node_modules beside us, as in the compiled binary.
  }
  return out;
}

async function loadFont(bundled: string, packagePath: string): Promise<Uint8Array> {
  for (const path of candidates(bundled, packagePath)) {
    try {
      return new Uint8Array(await readFile(path));
    } catch {
      // Try the next place.
    }
  }
  // A packaging bug, not something the user did: let it surface as an internal error.
  throw new Error(`font ${packagePath} is missing from this build of sparekey`);
}

/** Loads the three card fonts shipped inside sparekey (DejaVu Sans, Sans Bold, Sans Mono). */
export async function loadCardFonts(): Promise<CardFonts> {
  const [sans, sansBold, mono] = await Promise.all([
    loadFont(sansPath, "dejavu-fonts-ttf/ttf/DejaVuSans.ttf"),
    loadFont(sansBoldPath, "dejavu-fonts-ttf/ttf/DejaVuSans-Bold.ttf"),
    loadFont(monoPath, "dejavu-fonts-ttf/ttf/DejaVuSansMono.ttf"),
  ]);
  return { sans, sansBold, mono };
}

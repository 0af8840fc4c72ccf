import type { ExportFormat, ImportFormat } from "./types.js";

/**
 * Every import format, in detection order (the most specific first). Each codec module is
 * loaded only when an import runs, so list the loaders here, one line each.
 */
export const IMPORT_FORMATS: Record<string, () => Promise<ImportFormat>> = {};

/** Every export format, by its `--format` name. */
export const EXPORT_FORMATS: Record<string, () => Promise<ExportFormat>> = {};

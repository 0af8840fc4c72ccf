import { UserError } from "../core/errors.js";
import type { Store } from "./store.js";

/** Opens the store DESIGN.md's rules select. (Being written: see the stores work.) */
export async function openStore(
  _env: Readonly<Record<string, string | undefined>>,
  _storeOption?: string,
): Promise<Store> {
  throw new UserError("no store found; run: sparekey init");
}

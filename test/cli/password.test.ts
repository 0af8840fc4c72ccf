import { describe, expect, it } from "vitest";
import type { Args } from "../../src/cli/context.js";
import { passwordFromFlags } from "../../src/cli/password.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { fakeCtx } from "./wizard-fake.js";

describe("passwordFromFlags", () => {
  it("reads --password-env once and takes the variable out of the environment children inherit", async () => {
    const { ctx } = fakeCtx(new MemoryStore(), { env: { EXPORT_PW: "hunter2" } });
    const args: Args = { positionals: [], values: { "password-env": "EXPORT_PW" } };
    expect(await passwordFromFlags(ctx, args)).toBe("hunter2");
    expect(ctx.env.EXPORT_PW).toBeUndefined();
    // A second mirror in the same run gets the same password.
    expect(await passwordFromFlags(ctx, args)).toBe("hunter2");
  });

  it("refuses both flags at once, and an unset variable", async () => {
    const { ctx } = fakeCtx(new MemoryStore(), { env: {} });
    await expect(
      passwordFromFlags(ctx, { positionals: [], values: { "password-env": "X", "password-file": "f" } }),
    ).rejects.toThrow(/not both/);
    await expect(
      passwordFromFlags(ctx, { positionals: [], values: { "password-env": "NOPE" } }),
    ).rejects.toThrow(/NOPE is not set/);
  });
});

import { secondsLeft } from "../../core/otp.js";
import { parseUri } from "../../core/uri.js";
import type { Store } from "../../stores/store.js";
import { type Args, type Ctx, has } from "../context.js";

export const name = "demo";
export const summary = "Show the whole job on a sample account in a throwaway age store";
export const usage = "sparekey demo [--keep]";
export const options = {
  keep: { type: "boolean" },
} as const;

const SAMPLE = "otpauth://totp/Example:demo@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Example";

/** A context that runs another command against the demo store and collects what it prints. */
function innerCtx(ctx: Ctx, store: Store, stdin: string): { ctx: Ctx; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    ctx: {
      ...ctx,
      stdout: (t) => {
        out.push(t);
      },
      stderr: (l) => {
        err.push(l);
      },
      readStdin: async () => stdin,
      stdinIsTTY: false,
      stdoutIsTTY: false,
      openStore: async () => store,
    },
  };
}

/** Adds the sample account to a temporary age store, shows its code and QR, and the next steps. */
export async function run(ctx: Ctx, args: Args): Promise<number> {
  const { mkdtemp, mkdir, rm, writeFile } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { ageNative } = await import("../../stores/age-native.js");
  const { AgeStore } = await import("../../stores/age.js");
  const { scopeStore } = await import("../../stores/scoped.js");
  const add = await import("./add.js");
  const code = await import("./code.js");
  const { renderQrTerminal } = await import("../../render/qr.js");

  const dir = await mkdtemp(join(tmpdir(), "sparekey-demo-"));
  const keep = has(args, "keep");
  try {
    const root = join(dir, "store");
    const identitiesFile = join(dir, "identities");
    await mkdir(root, { mode: 0o700 });
    const { identity, recipient } = await ageNative.generateIdentity();
    await writeFile(identitiesFile, `# sparekey demo identity\n${identity}\n`, { mode: 0o600 });
    await writeFile(join(root, ".age-recipients"), `${recipient}\n`, { mode: 0o600 });
    // Only what the store needs: the user's PASSAGE_* settings must not leak into the demo.
    const env = { HOME: dir, PATH: ctx.env.PATH };
    const store = scopeStore(
      new AgeStore(root, { env, crypto: async () => ageNative, identitiesFile }),
      ctx.env.SPAREKEY_PREFIX ?? "2fa",
    );
    const account = parseUri(SAMPLE);
    const say = (t = ""): void => ctx.stdout(`${t}\n`);

    say(`sparekey demo: a throwaway age store in ${dir}`);
    say(`(${keep ? "kept after the demo" : "removed at the end; --keep keeps it"})`);
    say();
    say("1. Save the key first, before scanning it:");
    say(`     echo '${SAMPLE}' | sparekey add`);
    const a = innerCtx(ctx, store, `${SAMPLE}\n`);
    const status = await add.run(a.ctx, { positionals: [], values: {} });
    if (status !== 0) throw new Error(`demo: add failed: ${a.err.join(" ")}`);
    const entryName = (await store.list())[0];
    say(`   Saved as ${entryName}, encrypted with age.`);
    say();
    say("   Every day after that, the code is one command away:");
    say("     sparekey code example");
    const c = innerCtx(ctx, store, "");
    await code.run(c.ctx, { positionals: ["example"], values: {} });
    say(`   ${c.out.join("").trim()}   (changes in ${secondsLeft(account, ctx.now())} s)`);
    say();
    say("2. Add it to your authenticator app(s) and double-check:");
    say("     sparekey show example --qr");
    ctx.stdout(renderQrTerminal(SAMPLE, { color: ctx.stdoutIsTTY && !ctx.env.NO_COLOR }));
    say("     sparekey verify example CODE      (the code your phone shows)");
    say();
    say("3. Save the recovery codes the site shows, in the same store:");
    say("     sparekey recovery add example < codes.txt");
    say();
    say("4. Write them on paper: a 3x5 inch card per account:");
    say("     sparekey card example -o cards.pdf");
    say();
    say("5. Keep a second copy in a separate password manager:");
    say("     sparekey export --format aegis -o spare-aegis.json   (or bitwarden, 2fas, ...)");
    say();
    say("Then `sparekey audit` checks that no step was skipped. Start for real with: sparekey init");
    if (keep) {
      say();
      say(`Try it: PASSAGE_IDENTITIES_FILE=${identitiesFile} sparekey --store ${root} code example`);
    }
    return 0;
  } finally {
    if (!keep) await rm(dir, { recursive: true, force: true });
  }
}

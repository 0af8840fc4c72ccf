import { type Account, describeAccount } from "../core/account.js";
import { newEntry, parseEntry, withAccount, withMeta } from "../core/entry.js";
import { UserError } from "../core/errors.js";
import { deriveName, findCaseCollision, freeName, validateName } from "../core/names.js";
import { formatUri } from "../core/uri.js";
import type { Store } from "../stores/store.js";
import { accountFromLine } from "./commands/add.js";
import { promptCodes, saveCodes } from "./commands/recovery.js";
import { applyVerification, describeDrift, MISMATCH_CAUSES } from "./commands/verify.js";
import { type Args, type Ctx, flag, has } from "./context.js";
import { saveEntry, saveText } from "./util.js";

type Status = "pending" | "done" | "skipped";

/** How far the guided add got: what the Ctrl-C message and the final summary are made from. */
export interface WizardState {
  name?: string;
  saved: Status;
  verified: Status;
  recovery: Status;
  card: Status;
  /** True while the store is being written: an interrupt then waits for the write to finish. */
  busy: boolean;
  interrupted: boolean;
}

/** Thrown out of a step when input ends (Ctrl-D): the wizard stops and says what is left. */
class InputEnded extends Error {}

/** Thrown after a write that Ctrl-C arrived during: the write finished, then the wizard stops. */
class Interrupted extends Error {}

/** The secret in groups of four, easier to type into a phone than one long run. */
export function groupSecret(secret: string): string {
  return secret.match(/.{1,4}/g)?.join(" ") ?? secret;
}

/** The steps not done yet, each with the command that does it later. */
export function remainingSteps(s: WizardState): string[] {
  if (s.saved !== "done") return ["save the key: nothing was saved; run sparekey add again"];
  const n = s.name!;
  const out: string[] = [];
  if (s.verified !== "done")
    out.push(`scan and check: sparekey show ${n} --qr, then sparekey verify ${n} CODE`);
  if (s.recovery !== "done") out.push(`recovery codes: sparekey recovery add ${n}`);
  if (s.card !== "done") out.push(`paper card: sparekey card ${n} -o card.pdf`);
  return out;
}

/** Asks one question; end of input stops the wizard. */
async function ask(ctx: Ctx, question: string, secret = false): Promise<string> {
  const answer = await ctx.prompt(question, { secret });
  if (answer === null) throw new InputEnded();
  return answer;
}

/**
 * Runs `fn` as a write that an interrupt must not cut in half; `record` notes in the state what it
 * did, and only then does an interrupt that came meanwhile take effect.
 */
async function guarded<T>(
  state: WizardState,
  fn: () => Promise<T>,
  record: (r: T) => void = () => {},
): Promise<T> {
  state.busy = true;
  let result: T;
  try {
    result = await fn();
    record(result);
  } finally {
    state.busy = false;
  }
  if (state.interrupted) throw new Interrupted();
  return result;
}

/** Step 1: the key, from the hidden prompt only (never argv); a bare secret asks for its labels. */
async function stepKey(ctx: Ctx, args: Args): Promise<Account> {
  ctx.stderr("[1/6] Key: copy the setup key or otpauth:// link the site shows by its QR code.");
  for (;;) {
    const raw = await ask(ctx, "Paste the otpauth:// URI or the secret (hidden): ", true);
    const line = raw.trim();
    if (line === "") {
      ctx.stderr("Nothing was pasted. Paste the key, or press Ctrl-C to stop.");
      continue;
    }
    let account: Account;
    try {
      account = accountFromLine(line, args, "the pasted key");
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      ctx.stderr(`${e.message}. Try again.`);
      continue;
    }
    if (!/^[a-z][a-z0-9+.-]*:/i.test(line)) {
      const issuer = flag(args, "issuer") ?? (await ask(ctx, "Issuer (the site, e.g. GitHub): ")).trim();
      const who = flag(args, "account") ?? (await ask(ctx, "Account (your user name or e-mail): ")).trim();
      account = { ...account, issuer, account: who };
    }
    ctx.stderr(`Key for ${describeAccount(account)} (${account.kind}).`);
    return account;
  }
}

/** Step 2: the entry name; Enter takes the proposal. An existing name is refused unless --force. */
async function stepName(ctx: Ctx, args: Args, store: Store, account: Account): Promise<string> {
  const names = await store.list();
  const wanted = args.positionals[0] ?? deriveName(account.issuer, account.account);
  const proposal = has(args, "force") ? wanted : freeName(wanted, names);
  ctx.stderr("[2/6] Name. This is what you will type: sparekey code NAME.");
  for (;;) {
    const typed = (await ask(ctx, `Name [${proposal}]: `)).trim();
    const candidate = typed === "" ? proposal : typed;
    try {
      validateName(candidate);
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      ctx.stderr(`${e.message}. Try another.`);
      continue;
    }
    const clash = findCaseCollision(candidate, names);
    if (clash) {
      ctx.stderr(`${candidate} differs only in case from ${clash}. Try another.`);
      continue;
    }
    if (!has(args, "force") && (names.includes(candidate) || (await store.exists(candidate)))) {
      ctx.stderr(`${candidate} already exists. Try another name (sparekey add --force replaces a key).`);
      continue;
    }
    return candidate;
  }
}

/** Step 4: the QR code and the grouped secret, then the code the app shows, checked ±1 step. */
async function stepScan(ctx: Ctx, store: Store, state: WizardState, account: Account): Promise<void> {
  const name = state.name!;
  const { renderQrTerminal } = await import("../render/qr.js");
  ctx.stderr("[4/6] Scan this QR code with your app(s), or type in the key:");
  // Eight groups a line keeps a long key inside 80 columns.
  for (const part of groupSecret(account.secret).match(/(?:\S+ ?){1,8}/g) ?? [])
    ctx.stderr(`      ${part.trim()}`);
  const qr = renderQrTerminal(formatUri(account), { color: !ctx.env.NO_COLOR }).trimEnd().split("\n");
  for (const line of qr) ctx.stderr(line);
  const rows = process.stderr.rows || 24;
  if (qr.length + 1 > rows) {
    ctx.stderr(`(The QR code needs ${qr.length + 1} lines: make the window taller, or type the key.)`);
  }
  for (;;) {
    const code = (await ask(ctx, "Code the app shows now (Enter to skip): ")).trim();
    if (code === "") {
      state.verified = "skipped";
      ctx.stderr(`Skipped. Check later with: sparekey verify ${name} CODE`);
      return;
    }
    const now = ctx.now();
    const ok = await guarded(
      state,
      () =>
        store.withLock(async () => {
          const r = applyVerification(name, await store.read(name), code, now, now);
          if (r) await saveText(store, name, r.text, `Record a verified code for ${name}.`);
          return r;
        }),
      (r) => {
        if (r) state.verified = "done";
      },
    );
    if (ok) {
      if (ok.offset === 0 || account.kind === "hotp")
        ctx.stderr(`Code matches; ${describeDrift(account, ok.offset)}.`);
      else {
        const s = Math.abs(ok.offset) * account.period;
        ctx.stderr(`Code matches, but your phone's clock is ${s} s ${ok.offset > 0 ? "ahead" : "behind"}.`);
        ctx.stderr("Turn on automatic date and time on the phone.");
      }
      ctx.stderr("Recorded as verified.");
      return;
    }
    ctx.stderr("That code does not match. Usual causes:");
    for (const cause of MISMATCH_CAUSES) ctx.stderr(`  - ${cause}`);
    ctx.stderr("Type the code the app shows now to try again, or press Enter to skip.");
  }
}

/** Step 5: recovery codes pasted from the site, ending with an empty line. */
async function stepRecovery(ctx: Ctx, store: Store, state: WizardState): Promise<void> {
  const name = state.name!;
  ctx.stderr("[5/6] Recovery codes: paste the codes the site shows, then an empty line.");
  ctx.stderr("      (Enter alone skips.)");
  const codes = await promptCodes(ctx);
  if (codes === null) throw new InputEnded();
  if (codes.length === 0) {
    state.recovery = "skipped";
    ctx.stderr(`No codes saved. Add them later with: sparekey recovery add ${name}`);
    return;
  }
  const { added } = await guarded(
    state,
    () => saveCodes(store, name, codes),
    () => {
      state.recovery = "done";
    },
  );
  ctx.stderr(`Saved ${added} recovery code${added === 1 ? "" : "s"} in ${name}.`);
}

/** Step 6: a 3x5 card with the recovery codes, through the card command. */
async function stepCard(ctx: Ctx, store: Store, state: WizardState): Promise<void> {
  const name = state.name!;
  const answer = (await ask(ctx, "[6/6] Print a 3x5 card with the recovery codes now? [y/N] ")).trim();
  if (!/^y(es)?$/i.test(answer)) {
    state.card = "skipped";
    ctx.stderr(`No card. Make one later with: sparekey card ${name} -o card.pdf`);
    return;
  }
  const out = `${name.replace(/\//g, "-")}-card.pdf`;
  const { printCards } = await import("./commands/card.js");
  try {
    const r = await guarded(
      state,
      () => printCards(ctx, [name], { output: out, store }),
      () => {
        state.card = "done";
      },
    );
    ctx.stderr(`Wrote ${r.file}.`);
    ctx.stderr("Print it at actual size on a 3x5 inch card and keep it with your papers.");
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    state.card = "skipped";
    ctx.stderr(`${e.message}. Try again later: sparekey card ${name} -o card.pdf`);
  }
}

/** The closing lines: what is done, and what is left with the commands that do it. */
function summary(ctx: Ctx, state: WizardState, stopped: boolean): void {
  const left = remainingSteps(state);
  if (stopped)
    ctx.stderr(
      `Stopped.${state.saved === "done" ? ` Everything saved so far is kept in ${state.name}.` : ""}`,
    );
  if (left.length === 0) {
    ctx.stderr(`All done: ${state.name} is saved, verified, has its recovery codes and a card.`);
    return;
  }
  ctx.stderr("Not done yet:");
  for (const l of left) ctx.stderr(`  - ${l}`);
}

/**
 * The guided add, without process handling: the six steps of DESIGN.md's system in order.
 * `state` is filled in as steps finish, so that an interrupt can report it.
 */
export async function guidedAdd(ctx: Ctx, args: Args, state: WizardState): Promise<number> {
  try {
    const store = await ctx.openStore();
    let account = await stepKey(ctx, args);
    const name = await stepName(ctx, args, store, account);
    // An app that shows no label (and pass otp) would be left with nothing to show.
    if (!account.issuer && !account.account) account = { ...account, account: name };

    ctx.stderr("[3/6] Saving the key before you scan it...");
    // Only with --force can the name exist; then the rest of the entry (a password, notes, codes) stays.
    const exists = await store.exists(name);
    const entry = exists
      ? withMeta(withAccount(parseEntry(await store.read(name)), account), "verified", undefined)
      : newEntry(account);
    await guarded(
      state,
      () => saveEntry(store, name, entry, `${exists ? "Replace" : "Add"} 2FA key for ${name}.`),
      () => {
        state.name = name;
        state.saved = "done";
      },
    );
    ctx.stderr(
      `Saved: ${name} in ${store.location} (read back and checked${store.kind === "memory" ? "" : ", committed"}).`,
    );

    await stepScan(ctx, store, state, account);
    await stepRecovery(ctx, store, state);
    await stepCard(ctx, store, state);
  } catch (e) {
    if (!(e instanceof InputEnded || e instanceof Interrupted)) throw e;
    ctx.stderr("");
    summary(ctx, state, true);
    return e instanceof Interrupted ? 130 : 1;
  }
  summary(ctx, state, false);
  return 0;
}

/** A fresh state: nothing done. */
export function newWizardState(): WizardState {
  return {
    saved: "pending",
    verified: "pending",
    recovery: "pending",
    card: "pending",
    busy: false,
    interrupted: false,
  };
}

/**
 * The guided add on a real terminal (`sparekey add` with no key source). Ctrl-C at any step keeps
 * what was saved, says what was not done, and exits 130; an interrupt during a write waits for it.
 */
export async function runGuidedAdd(ctx: Ctx, args: Args): Promise<number> {
  const state = newWizardState();
  const stop = (): void => {
    if (process.stdin.isTTY) process.stdin.setRawMode(false);
    ctx.stderr("");
    summary(ctx, state, true);
    process.exit(130);
  };
  const onSigint = (): void => {
    if (state.busy) state.interrupted = true;
    else stop();
  };
  process.on("SIGINT", onSigint);
  try {
    return await guidedAdd(ctx, args, state);
  } finally {
    process.off("SIGINT", onSigint);
  }
}

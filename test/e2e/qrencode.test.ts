// QR codes made by the real `qrencode` are read by sparekey (add --qr, import), and the PNG that
// sparekey makes is read by the real `zbarimg`: both directions against the reference tools.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Home, hasTool, makeHome, ROOT, sk } from "./harness.js";

const URI =
  "otpauth://totp/ACME%20Co:ann%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DP&issuer=ACME%20Co&digits=8";

describe("QR interop with qrencode and zbarimg", () => {
  let home: Home;
  beforeAll(() => {
    for (const t of ["qrencode", "zbarimg"])
      if (!hasTool(t) && process.env.CI)
        throw new Error(`${t} is missing (apt-get install qrencode zbar-tools)`);
    if (!existsSync(join(ROOT, "dist/node/run.js")))
      execFileSync("node", ["scripts/build.mjs"], { cwd: ROOT, stdio: "inherit" });
    home = makeHome();
    expect(sk(home, ["init"]).code).toBe(0);
  }, 300_000);
  afterAll(() => home?.cleanup());

  it("add --qr reads a PNG that qrencode made, and show --qr writes one that zbarimg reads", () => {
    if (!hasTool("qrencode")) return;
    const png = join(home.dir, "key.png");
    // The URI goes to qrencode on stdin, never in argv.
    expect(spawnSync("qrencode", ["-o", png, "-s", "4"], { input: URI }).status).toBe(0);
    const add = sk(home, ["add", "acme/ann", "--qr", png]);
    expect(add.code, add.stderr).toBe(0);
    const canonical = sk(home, ["show", "acme/ann", "--uri"]).stdout.trim();
    expect(canonical).toBe(URI);
    const out = join(home.dir, "back.png");
    expect(sk(home, ["show", "acme/ann", "--qr", out]).code).toBe(0);
    const z = spawnSync("zbarimg", ["-q", "--raw", out], { encoding: "utf8" });
    expect(z.stdout.trim()).toBe(canonical);
  });

  it("import reads a Google migration QR that qrencode made", () => {
    if (!hasTool("qrencode")) return;
    // A migration payload with one account, encoded by sparekey's exporter, redrawn by qrencode.
    const uris = join(home.dir, "one.txt");
    const dir = join(home.dir, "google");
    execFileSync("sh", [
      "-c",
      `printf '%s\\n' 'otpauth://totp/Ex:bob?secret=JBSWY3DPEBLW64TMMQ&issuer=Ex' > '${uris}'`,
    ]);
    const other = makeHome();
    try {
      expect(sk(other, ["init"]).code).toBe(0);
      expect(sk(other, ["import", uris]).code).toBe(0);
      expect(sk(other, ["export", "--format", "google", "-o", dir, "--yes"]).code).toBe(0);
      const text = spawnSync("sh", ["-c", `zbarimg -q --raw '${dir}'/*.png`], {
        encoding: "utf8",
      }).stdout.trim();
      expect(text).toMatch(/^otpauth-migration:\/\/offline\?data=/);
      const png = join(home.dir, "migration.png");
      expect(spawnSync("qrencode", ["-o", png], { input: text }).status).toBe(0);
      const r = sk(home, ["import", png, "--yes"]);
      expect(r.code, r.stderr).toBe(0);
      expect(sk(home, ["show", "ex/bob", "--uri"]).stdout.trim()).toBe(
        "otpauth://totp/Ex:bob?secret=JBSWY3DPEBLW64TMMQ&issuer=Ex",
      );
    } finally {
      other.cleanup();
    }
  });
});

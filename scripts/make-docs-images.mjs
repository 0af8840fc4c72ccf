// Renders docs/card.png (one 3x5 card, as printed by default) and docs/sheet.png (a letter sheet of
// cards printed --with-secret) from a throwaway sample store, through the real CLI and pdftoppm.
// Usage: npm run docs:images   (builds first when dist/ is missing; needs pdftoppm)
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(root, "bin/sparekey");
if (!existsSync(join(root, "dist/node/run.js"))) execFileSync("node", [join(root, "scripts/build.mjs")]);

const work = mkdtempSync(join(tmpdir(), "sk-docs-"));
const home = join(work, "home");
mkdirSync(home);
const env = {
  PATH: process.env.PATH,
  HOME: home,
  LANG: "C.UTF-8",
  GIT_AUTHOR_NAME: "Docs",
  GIT_AUTHOR_EMAIL: "docs@example.com",
  GIT_COMMITTER_NAME: "Docs",
  GIT_COMMITTER_EMAIL: "docs@example.com",
  GIT_CONFIG_NOSYSTEM: "1",
};
const sk = (args, input = "") =>
  execFileSync(bin, args, { env, cwd: work, input, stdio: ["pipe", "pipe", "pipe"] });

// Sample accounts: made-up keys and codes, names in three scripts.
const accounts = [
  {
    name: "github/zoe",
    uri: "otpauth://totp/GitHub:Zo%C3%AB%20%C3%85str%C3%B6m-N%C3%BA%C3%B1ez?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=GitHub",
    codes: [
      "7xk2-9fqa",
      "m3pd-81zc",
      "q4mz-77ab",
      "plok-2211",
      "zt8w-1rc4",
      "k9dd-0pqe",
      "hx3v-6b2n",
      "w2ya-ue7t",
      "c5rj-94ma",
      "0fgl-td3s",
    ],
    used: ["m3pd-81zc"],
  },
  {
    name: "yandex/dmitry",
    uri: "otpauth://totp/%D0%AF%D0%BD%D0%B4%D0%B5%D0%BA%D1%81:%D0%94%D0%BC%D0%B8%D1%82%D1%80%D0%B8%D0%B9%20%D0%98%D0%B2%D0%B0%D0%BD%D0%BE%D0%B2?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=%D0%AF%D0%BD%D0%B4%D0%B5%D0%BA%D1%81",
    codes: ["4821 0693", "7730 1184", "2297 5560", "9014 3378", "6652 8041", "3308 7719"],
    used: [],
  },
  {
    name: "aws/root",
    uri: "otpauth://totp/Amazon%20Web%20Services:root%40example.com?secret=MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43UOV3HO6DZPJ2XQ3TB&issuer=Amazon%20Web%20Services",
    codes: ["Q7FJ-2KD9-PL3X-88RT", "MN2V-7HC4-ZX0A-1BQE", "T5YW-KD83-LQ0P-96XS"],
    used: [],
  },
];

try {
  sk(["init"]);
  for (const a of accounts) {
    sk(["add", a.name], `${a.uri}\n`);
    sk(["recovery", "add", a.name], `${a.codes.join("\n")}\n`);
    for (const u of a.used) sk(["recovery", "use", a.name, u]);
  }
  const at = "2026-12-04T12:00:00Z";
  sk(["card", "github/zoe", "-o", "card.pdf", "--at", at]);
  sk(["card", "-o", "sheet.pdf", "--paper", "letter", "--with-secret", "--at", at]);
  mkdirSync(join(root, "docs"), { recursive: true });
  execFileSync("pdftoppm", ["-r", "160", "-png", "-singlefile", join(work, "card.pdf"), join(work, "card")]);
  execFileSync("pdftoppm", [
    "-r",
    "100",
    "-png",
    "-singlefile",
    join(work, "sheet.pdf"),
    join(work, "sheet"),
  ]);
  copyFileSync(join(work, "card.png"), join(root, "docs/card.png"));
  copyFileSync(join(work, "sheet.png"), join(root, "docs/sheet.png"));
  console.log("wrote docs/card.png and docs/sheet.png");
} catch (e) {
  console.error(`make-docs-images: ${e.message}\n${e.stderr?.toString() ?? ""}`);
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}

// Launches Debian's chromium (or CHROMIUM) headless through playwright-core, with a fresh
// user data directory and nothing that reaches the network on its own.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

/** A browser context (light colour scheme, 1280×900) and a `close` that removes its profile. */
export async function launch() {
  const userDataDir = mkdtempSync(join(tmpdir(), "weir-chromium-"));
  // Playwright takes the user data directory as a parameter (it refuses --user-data-dir).
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
    colorScheme: "light",
  });
  const page = context.pages()[0] || (await context.newPage());
  const close = async () => {
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
  };
  return { context, page, close };
}

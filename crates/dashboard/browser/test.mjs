// The dashboard scenario in headless Chromium, driven by crates/cli/tests/dashboard.rs:
// log in with the token, see an Application become Synced, see a Rollout pause at a step
// (rendered live, without a reload), press Promote and see it move on, apply a second change,
// press Abort and see it Degraded; screenshots of every stage in SCREENSHOTS.
//
// Environment: WEIR_URL (the API), WEIR_TOKEN, WEIR_BIN and WEIR_DATA_DIR (to run
// `weir apply`), ROLLOUT_V2 and ROLLOUT_V3 (manifests), SCREENSHOTS (a directory),
// CHROMIUM (default /usr/bin/chromium).
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { launch } from "./chromium.mjs";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const url = env("WEIR_URL");
const token = env("WEIR_TOKEN");
const shots = env("SCREENSHOTS");
mkdirSync(shots, { recursive: true });
const WAIT = 180_000;

function weirApply(file) {
  const out = execFileSync(env("WEIR_BIN"), ["--data-dir", env("WEIR_DATA_DIR"), "apply", "-f", file], {
    encoding: "utf8",
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "WEIR_SERVER" && k !== "WEIR_TOKEN")),
  });
  console.log(`weir apply -f ${file}: ${out.trim()}`);
}

function step(what) {
  console.log(`--- ${what}`);
}

const { context, page, close } = await launch();
let failed = false;
page.setDefaultTimeout(WAIT);
const shot = async (name) => {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  console.log(`screenshot ${name}.png`);
};

try {
  step("a page without a session redirects to the login");
  await page.goto(`${url}/ui/rollouts`);
  if (!page.url().endsWith("/ui/login")) throw new Error(`expected the login page, got ${page.url()}`);
  await shot("01-login");

  step("a wrong token is refused");
  await page.fill("input[name=token]", "wrong-token");
  await page.click("button");
  await page.waitForSelector("text=wrong token");

  step("log in with the token");
  await page.fill("input[name=token]", token);
  await page.click("button");
  await page.waitForURL(`${url}/ui/applications`);
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "weir_session");
  if (!session || !session.httpOnly || session.sameSite !== "Strict" || session.value.includes(token)) {
    throw new Error(`bad session cookie: ${JSON.stringify(session)}`);
  }

  step("the application becomes Synced");
  await page.waitForSelector('tr[data-name="guestbook"] .badge:text-is("Synced")');
  await shot("02-applications");
  await page.click('a:has-text("argocd/guestbook")');
  await page.waitForSelector('.node .kind:text-is("Deployment")');
  await page.waitForSelector('.node .kind:text-is("Pod")');
  await shot("03-application-tree");

  step("an action with a wrong CSRF token is refused");
  const refused = await page.evaluate(async () => {
    const r = await fetch(location.pathname + "/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "csrf=forged",
    });
    return r.status;
  });
  if (refused !== 403) throw new Error(`a forged CSRF token got ${refused}, not 403`);
  await page.click('button:text-is("Refresh")');
  await page.waitForSelector("text=refresh requested");

  step("the rollout is healthy at v1");
  await page.goto(`${url}/ui/rollouts`);
  await page.waitForSelector('tr[data-name="web"] .badge:text-is("Healthy")');
  await page.click('a:has-text("default/web")');
  await page.waitForSelector('.summary .badge:text-is("Healthy")');
  // The live stream must be connected before the change, or the change is not seen live.
  await page.waitForSelector("#live.on");

  step("a new version pauses at the pause step, shown live");
  weirApply(env("ROLLOUT_V2"));
  await page.waitForSelector('.summary .badge:text-is("Paused")');
  await page.waitForSelector('ol.steps li.current:has-text("pause")');
  const rendered = await page.getAttribute("#main", "data-rendered");
  if (!rendered || Number(rendered) < 1) throw new Error("the pause was not rendered live");
  await page.waitForSelector('[data-field="set-weight"]:text-is("50")');
  await shot("04-rollout-paused");

  step("Promote moves it on to Healthy");
  await page.click('button:text-is("Promote")');
  await page.waitForSelector("text=rollout web promoted");
  await page.waitForSelector('.summary .badge:text-is("Healthy")');
  await page.waitForSelector('[data-field="step"]:text-is("2/2")');
  await shot("05-rollout-promoted");

  step("a second change pauses again; Abort degrades it");
  await page.waitForSelector("#live.on");
  weirApply(env("ROLLOUT_V3"));
  await page.waitForSelector('.summary .badge:text-is("Paused")');
  await page.click('button:text-is("Abort")');
  await page.waitForSelector("text=rollout web aborted");
  await page.waitForSelector('.summary .badge:text-is("Degraded")');
  await shot("06-rollout-aborted");

  step("the dark theme");
  await page.click("#theme");
  const theme = await page.getAttribute("html", "data-theme");
  if (theme !== "dark") throw new Error(`theme toggle gave ${theme}`);
  await shot("07-rollout-dark");
  console.log("dashboard scenario passed");
} catch (e) {
  failed = true;
  console.error(`dashboard scenario FAILED: ${e.stack || e}`);
  try {
    await shot("99-failure");
  } catch (_) { /* the browser may be gone */ }
} finally {
  await close();
}
process.exit(failed ? 1 : 0);

// Page weight and time to first render of the dashboard's rollouts list in headless Chromium.
// Used by bench/dashboard.sh. Environment: WEIR_URL, WEIR_TOKEN, RUNS (default 5), PAGE
// (default /ui/rollouts), EXPECT_ROWS (the number of rows the list must show).
import { launch } from "./chromium.mjs";

const url = process.env.WEIR_URL;
const token = process.env.WEIR_TOKEN;
const runs = Number(process.env.RUNS || 5);
const path = process.env.PAGE || "/ui/rollouts";
const expectRows = Number(process.env.EXPECT_ROWS || 0);
if (!url || !token) throw new Error("WEIR_URL and WEIR_TOKEN are required");

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const { context, page, close } = await launch();
try {
  await page.goto(`${url}/ui/login`);
  await page.fill("input[name=token]", token);
  await page.click("button");
  await page.waitForURL(`${url}/ui/applications`);

  // Every run is a cold load: the CSS and script are fetched again.
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  const results = [];
  for (let i = 0; i < runs; i++) {
    const bytes = new Map();
    const pending = [];
    const onResponse = (response) => {
      // The event stream never ends; it is not part of the page's weight.
      if (response.url().endsWith("/ui/events") || !response.url().startsWith(url)) return;
      pending.push((async () => {
        const body = await response.body();
        const headers = await response.headersArray();
        const head = headers.reduce((n, h) => n + h.name.length + h.value.length + 4, 0);
        bytes.set(response.url(), { body: body.length, head });
      })().catch(() => { /* a cancelled request */ }));
    };
    page.on("response", onResponse);
    await page.goto("about:blank");
    await page.goto(`${url}${path}`, { waitUntil: "load" });
    const rows = await page.locator("table.list tbody tr").count();
    if (expectRows && rows !== expectRows) throw new Error(`expected ${expectRows} rows, saw ${rows}`);
    const timing = await page.evaluate(() => {
      const nav = performance.getEntriesByType("navigation")[0];
      const fcp = performance.getEntriesByName("first-contentful-paint")[0];
      return {
        ttfb: nav.responseStart - nav.startTime,
        html: nav.responseEnd - nav.startTime,
        dcl: nav.domContentLoadedEventEnd - nav.startTime,
        fcp: fcp ? fcp.startTime : NaN,
        load: nav.loadEventEnd - nav.startTime,
        htmlBytes: nav.transferSize,
        htmlDecoded: nav.decodedBodySize,
      };
    });
    page.off("response", onResponse);
    await Promise.all(pending);
    let body = 0, head = 0;
    for (const r of bytes.values()) { body += r.body; head += r.head; }
    results.push({ ...timing, body, head, requests: bytes.size, rows });
  }
  const m = (k) => median(results.map((r) => r[k]));
  console.log(`page ${path}: ${results[0].rows} rows, ${results[0].requests} requests, median of ${runs} cold loads`);
  console.log(`  page weight:            ${m("body")} bytes of bodies (+${m("head")} bytes of headers); HTML ${m("htmlDecoded")} bytes`);
  console.log(`  time to first byte:     ${m("ttfb").toFixed(0)} ms`);
  console.log(`  HTML received:          ${m("html").toFixed(0)} ms`);
  console.log(`  first contentful paint: ${m("fcp").toFixed(0)} ms   (time to first render)`);
  console.log(`  DOMContentLoaded:       ${m("dcl").toFixed(0)} ms`);
  console.log(`  load:                   ${m("load").toFixed(0)} ms`);
} finally {
  await close();
}

// The chart page in headless Chromium (Debian's package) driven by playwright-core, against a
// real axia-server on the embedded defaults plus the real Redis. Run by
// scripts/browser-test.sh, which builds the binaries and starts Redis:
//
//   AXIA_SERVER_BIN=…/axia-server AXIA_PUT_BAR_BIN=…/examples/put_bar REDIS_URL=… node --test
//
// Writes screenshots and the time-to-chart figures under target/browser/ of the checkout.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFile } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { chromium } from "playwright-core";

const SERVER = process.env.AXIA_SERVER_BIN;
const PUT_BAR = process.env.AXIA_PUT_BAR_BIN;
const REDIS_URL = process.env.REDIS_URL;
const OUT = resolve(process.env.AXIA_BROWSER_OUT ?? join(dirname(fileURLToPath(import.meta.url)), "../../../../target/browser"));
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const NAMESPACE = `browser-${process.pid}-${Date.now()}`;
const PORT = 20000 + (process.pid % 20000);
const BASE = `http://127.0.0.1:${PORT}`;

assert.ok(SERVER && PUT_BAR && REDIS_URL, "AXIA_SERVER_BIN, AXIA_PUT_BAR_BIN and REDIS_URL are required");
mkdirSync(OUT, { recursive: true });
const archive = mkdtempSync(join(tmpdir(), "axia-browser-archive-"));

let server;
let browser;
const figures = {};

function startServer() {
  const child = spawn(SERVER, ["--listen", `127.0.0.1:${PORT}`, "--namespace", NAMESPACE,
    "--archive", archive, "--redis-url", REDIS_URL], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, RUST_LOG: "warn" },
  });
  child.stderr.on("data", (d) => process.stderr.write(`[axia-server] ${d}`));
  return child;
}

async function waitUntilUp() {
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(`${BASE}/health`);
      if (r.ok) return;
    } catch (_) { /* not up yet */ }
    await sleep(50);
  }
  throw new Error("axia-server did not answer /health within 10 s");
}

async function stopServer() {
  if (!server || server.exitCode !== null) return;
  const exited = new Promise((r) => server.once("exit", r));
  server.kill("SIGTERM");
  await exited;
}

function putBar(symbol, timeframe, close) {
  return new Promise((ok, fail) => execFile(PUT_BAR, [symbol, timeframe, String(close)], {
    env: { ...process.env, AXIA_NAMESPACE: NAMESPACE },
  }, (err, stdout, stderr) => (err ? fail(new Error(`${err}: ${stderr}`)) : ok(stdout))));
}

async function openChart(symbol, timeframe, days) {
  const page = await browser.newPage({ viewport: { width: 1200, height: 600 } });
  const problems = [];
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
  await page.goto(`${BASE}/chart/${symbol}/${timeframe}?days=${days}`);
  await page.waitForFunction(() => window.__axia && (window.__axia.ready || window.__axia.errors.length),
    null, { timeout: 30_000 });
  const errors = await page.evaluate(() => window.__axia.errors);
  assert.deepEqual(errors, [], "the page loaded its bars");
  return { page, problems };
}

before(async () => {
  server = startServer();
  await waitUntilUp();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
  });
});

after(async () => {
  await browser?.close();
  await stopServer();
  rmSync(archive, { recursive: true, force: true });
  writeFileSync(join(OUT, "figures.json"), JSON.stringify(figures, null, 2));
});

test("30 days of M1: as many candles as the API returns, live, no page error", async () => {
  const { page, problems } = await openChart("USDJPY", "M1", 30);
  const state = await page.evaluate(() => ({
    bars: window.__axia.candles.data().length,
    first: window.__axia.candles.data()[0].time,
    last: window.__axia.candles.data().at(-1).time,
    totalMs: window.__axia.totalMs,
    fetchMs: window.__axia.fetchMs,
    drawMs: window.__axia.drawMs,
  }));
  figures.m1_30_days = { bars: state.bars, time_to_chart_ms: state.totalMs,
    fetch_ms: state.fetchMs, draw_ms: state.drawMs };
  console.log(`30 days of M1: ${state.bars} candles drawn in ${state.totalMs.toFixed(0)} ms ` +
    `(fetch ${state.fetchMs.toFixed(0)} ms, draw ${state.drawMs.toFixed(0)} ms)`);
  assert.ok(state.bars > 20_000, `30 days of M1 hold over 20,000 bars, got ${state.bars}`);
  const api = await (await fetch(
    `${BASE}/api/v1/bars/USDJPY/M1?start=${state.first}&end=${state.last}&limit=50000`)).json();
  assert.equal(state.bars, api.bars.length, "one candle per bar of the API");
  assert.equal(api.truncated, false);

  await page.waitForFunction(() => window.__axia.status === "live", null, { timeout: 10_000 });
  assert.equal(await page.textContent("#status"), "live");
  await page.screenshot({ path: join(OUT, "chart-usdjpy-m1.png") });
  assert.deepEqual(problems, []);
  await page.close();
});

test("a bar written to the hot tier appears on the chart", async () => {
  const { page, problems } = await openChart("EURUSD", "M1", 2);
  await page.waitForFunction(() => window.__axia.status === "live", null, { timeout: 10_000 });
  const before = await page.evaluate(() => window.__axia.candles.data().at(-1));
  // A close well away from the simulated walk, on the tick grid, so it can only come from us.
  const close = Number((before.close + 0.01234).toFixed(5));
  await putBar("EURUSD", "M1", close);
  await page.waitForFunction((c) => window.__axia.candles.data().at(-1).close === c, close,
    { timeout: 10_000 });
  const last = await page.evaluate(() => window.__axia.candles.data().at(-1));
  assert.ok(last.time >= before.time);
  assert.equal(last.close, close);
  assert.ok(last.high >= close);
  assert.match(await page.textContent("#info"), /\(forming\)/);
  await page.screenshot({ path: join(OUT, "chart-eurusd-live.png") });
  assert.deepEqual(problems, []);
  await page.close();
});

test("scrolling left loads older bars", async () => {
  const { page, problems } = await openChart("USDJPY", "H1", 30);
  const start = await page.evaluate(() => ({
    bars: window.__axia.candles.data().length,
    first: window.__axia.candles.data()[0].time,
    totalMs: window.__axia.totalMs,
    fetchMs: window.__axia.fetchMs,
    drawMs: window.__axia.drawMs,
  }));
  figures.h1_30_days = { bars: start.bars, time_to_chart_ms: start.totalMs,
    fetch_ms: start.fetchMs, draw_ms: start.drawMs };
  console.log(`30 days of H1: ${start.bars} candles drawn in ${start.totalMs.toFixed(0)} ms ` +
    `(fetch ${start.fetchMs.toFixed(0)} ms, draw ${start.drawMs.toFixed(0)} ms)`);
  assert.equal(await page.evaluate(() => window.__axia.olderLoads), 0, "nothing older before a scroll");
  // Drag the time scale far to the left, as a user would.
  const box = await page.locator("#chart").boundingBox();
  const y = box.y + box.height / 2;
  for (let i = 0; i < 6; i++) {
    await page.mouse.move(box.x + 100, y);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width - 100, y, { steps: 8 });
    await page.mouse.up();
  }
  await page.waitForFunction(() => window.__axia.olderLoads > 0, null, { timeout: 10_000 });
  const after = await page.evaluate(() => ({
    bars: window.__axia.candles.data().length,
    first: window.__axia.candles.data()[0].time,
    times: window.__axia.candles.data().map((b) => b.time),
  }));
  assert.ok(after.first < start.first, "older bars were prepended");
  assert.ok(after.bars > start.bars);
  const unique = new Set(after.times);
  assert.equal(unique.size, after.times.length, "no bar twice");
  assert.ok(after.times.every((t, i) => i === 0 || after.times[i - 1] < t), "sorted");
  assert.deepEqual(problems, []);
  await page.close();
});

test("the page shows the lost connection and recovers after the server restarts", async () => {
  const { page, problems } = await openChart("USDJPY", "M5", 3);
  await page.waitForFunction(() => window.__axia.status === "live", null, { timeout: 10_000 });
  await stopServer();
  await page.waitForFunction(() => window.__axia.status !== "live", null, { timeout: 10_000 });
  server = startServer();
  await waitUntilUp();
  await page.waitForFunction(() => window.__axia.status === "live" && window.__axia.reconnects > 0,
    null, { timeout: 20_000 });
  assert.equal(await page.textContent("#status"), "live");
  // Live again: a bar written now reaches the page.
  const last = await page.evaluate(() => window.__axia.candles.data().at(-1));
  const close = Number((last.close + 0.123).toFixed(3));
  await putBar("USDJPY", "M5", close);
  await page.waitForFunction((c) => window.__axia.candles.data().at(-1).close === c, close,
    { timeout: 10_000 });
  // Failed fetches and socket errors while the server was down are expected; nothing else.
  const unexpected = problems.filter((p) => !/ERR_CONNECTION_REFUSED|WebSocket|Failed to load resource/.test(p));
  assert.deepEqual(unexpected, []);
  await page.close();
});

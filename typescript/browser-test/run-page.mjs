#!/usr/bin/env node
// Opens a test page in headless Chromium and reports the verdict the page gives itself.
//
//   node run-page.mjs URL [--timeout SECONDS] [--chromium PATH]
//
// The page says how it went by setting document.title to "PASS" or "FAIL: <why>" (or, the same
// strings, window.__result). The verdict is printed alone on stdout; the page's console
// messages, uncaught errors and failed requests go to stderr, so a failure explains itself.
// Exit status: 0 PASS, 1 FAIL (the page said so), 2 no verdict (timeout, the page did not load,
// no browser, bad arguments).
//
// The browser is Debian's `chromium` package (/usr/bin/chromium; override with --chromium or
// CHROMIUM), driven by playwright-core, which downloads no browser of its own. Also importable:
// `import { runPage } from "./run-page.mjs"`.

import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

export const DEFAULT_CHROMIUM = "/usr/bin/chromium";
export const DEFAULT_TIMEOUT_SECONDS = 60;

/** The verdict a page set, or null while it has set none. Runs in the page. */
function pageVerdict() {
  const candidates = [window.__result, document.title];
  for (const value of candidates) {
    if (typeof value === "string" && (value === "PASS" || value.startsWith("FAIL"))) {
      return value;
    }
  }
  return null;
}

/**
 * Load `url` in headless Chromium and wait for the page's verdict.
 * Resolves to { verdict, passed, log }: verdict "PASS" or "FAIL: …"; log the page's console lines,
 * errors and failed requests. Rejects when there is no verdict within `timeoutSeconds` (the
 * error's message says what the page showed meanwhile, its `log` what the page said).
 */
export async function runPage(url, { timeoutSeconds = DEFAULT_TIMEOUT_SECONDS, executablePath } = {}) {
  const browser = await chromium.launch({
    executablePath: executablePath ?? process.env.CHROMIUM ?? DEFAULT_CHROMIUM,
    headless: true,
    // --no-sandbox: CI runs as root, where Chromium's sandbox cannot start. The rest keep the
    // browser's own background traffic (updates, sync) off a network that would refuse it.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-quic",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  const log = [];
  try {
    const page = await browser.newPage();
    page.on("console", (message) => log.push(`console.${message.type()}: ${message.text()}`));
    page.on("pageerror", (error) => log.push(`page error: ${error.message}`));
    page.on("requestfailed", (request) =>
      log.push(`request failed: ${request.method()} ${request.url()} (${request.failure()?.errorText})`),
    );
    const deadline = timeoutSeconds * 1000;
    const response = await page.goto(url, { timeout: deadline });
    if (response !== null && !response.ok()) {
      throw new Error(`${url} answered HTTP ${response.status()}`);
    }
    try {
      const handle = await page.waitForFunction(pageVerdict, null, { timeout: deadline, polling: 50 });
      const verdict = await handle.jsonValue();
      return { verdict, passed: verdict === "PASS", log };
    } catch (error) {
      if (error?.name !== "TimeoutError") throw error;
      const title = await page.title().catch(() => "?");
      throw new Error(`no verdict from ${url} within ${timeoutSeconds} s (title: ${JSON.stringify(title)})`);
    }
  } catch (error) {
    error.log = log; // what the page said before it failed to give a verdict
    throw error;
  } finally {
    await browser.close();
  }
}

function usage(message) {
  process.stderr.write(`run-page.mjs: ${message}\nusage: node run-page.mjs URL [--timeout SECONDS] [--chromium PATH]\n`);
  process.exit(2);
}

function parseArguments(argv) {
  const options = {};
  let url;
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i];
    if (argument === "--timeout" || argument === "--chromium") {
      const value = argv[++i];
      if (value === undefined) usage(`${argument} needs a value`);
      if (argument === "--timeout") {
        options.timeoutSeconds = Number(value);
        if (!(options.timeoutSeconds > 0)) usage(`--timeout ${value} is not a number of seconds`);
      } else {
        options.executablePath = value;
      }
    } else if (argument.startsWith("-")) {
      usage(`unknown option ${argument}`);
    } else if (url === undefined) {
      url = argument;
    } else {
      usage(`one URL only (got ${url} and ${argument})`);
    }
  }
  if (url === undefined) usage("give the URL of the test page");
  return { url, options };
}

async function main() {
  const { url, options } = parseArguments(process.argv.slice(2));
  let result;
  try {
    result = await runPage(url, options);
  } catch (error) {
    for (const line of error.log ?? []) process.stderr.write(`${line}\n`);
    process.stderr.write(`run-page.mjs: ${error.message}\n`);
    process.exit(2);
  }
  for (const line of result.log) process.stderr.write(`${line}\n`);
  process.stdout.write(`${result.verdict}\n`);
  process.exit(result.passed ? 0 : 1);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await main();
}

import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServeProcess, startServe } from "../fixtures/server-harness.js";

/**
 * The web page in real headless Chromium (Debian's), driven by playwright-core: two browser contexts
 * are two devices with their own cookie jars. Screenshots go to test-artifacts/ (not committed).
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const haveBrowser = existsSync(CHROMIUM);
if (!haveBrowser && process.env.CI) {
  throw new Error(
    `Chromium not found at ${CHROMIUM}: install Debian's chromium (CI must not skip browser tests)`,
  );
}
const ARTIFACTS = new URL("../../test-artifacts/", import.meta.url).pathname;

const FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0";
const SAFARI_MAC =
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";

describe.skipIf(!haveBrowser)("web page in Chromium", () => {
  let server: ServeProcess;
  const dir = mkdtempSync(join(tmpdir(), "revokit-web-"));
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startServe(["--host", "127.0.0.1", "--store", `sqlite:${join(dir, "auth.db")}`]);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  }, 60_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function device(userAgent: string): Promise<Page> {
    const context = await browser.newContext({ userAgent, viewport: { width: 1100, height: 900 } });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(server.url);
    await page.waitForSelector("body[data-ready=true]");
    return page;
  }

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: `${ARTIFACTS}web-${name}.png`, fullPage: true });

  async function logIn(page: Page, username: string, password: string) {
    await page.getByLabel("Username", { exact: true }).first().fill(username);
    await page.locator("#login-password").fill(password);
    await page.getByRole("button", { name: "Log in", exact: true }).click();
    await page.waitForSelector("#signed-in:not([hidden])");
  }

  it("serves the page with a strict CSP and no inline script", async () => {
    const res = await fetch(server.url);
    expect(res.status).toBe(200);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toMatch(/script-src 'self'/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    const html = await res.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // every script is external
    expect(html).not.toMatch(/\son[a-z]+=/i); // no inline handlers
  });

  it("walks sign up, two devices, remote logout, the copied-token demo, and logout-all", async () => {
    const username = `alice${Date.now() % 100000}`;
    const password = "correct horse battery";

    // Device A signs up (and is logged in).
    const a = await device(SAFARI_MAC);
    await shot(a, "1-signed-out");
    await a.locator("#register-username").fill(username);
    await a.locator("#register-password").fill(password);
    await a.getByRole("button", { name: "Sign up" }).click();
    await a.waitForSelector("#signed-in:not([hidden])");
    await expect.poll(() => a.locator("#who").textContent()).toBe(username);

    // The refresh token is only in an HttpOnly, SameSite=Strict cookie scoped to /auth; no token in storage.
    const cookies = await a.context().cookies();
    const rt = cookies.find((c) => c.httpOnly);
    expect(rt).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/auth" });
    const stored = await a.evaluate(
      () => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }),
    );
    expect(stored).toBe("{}{}");
    expect(await a.evaluate(() => document.cookie)).toBe("");

    // Device B logs in.
    const b = await device(FIREFOX_WINDOWS);
    await logIn(b, username, password);
    await expect.poll(() => b.locator("#devices li").count()).toBe(2);
    await expect(b.locator("#devices li.current").textContent()).resolves.toMatch(
      /Firefox on Windows.*This device/s,
    );

    // Device A sees both, this one marked.
    await a.getByRole("button", { name: "Refresh list" }).click();
    await expect.poll(() => a.locator("#devices li").count()).toBe(2);
    await expect(a.locator("#devices li.current").textContent()).resolves.toMatch(/Safari on macOS/);
    await expect(a.locator("#devices li:not(.current)").textContent()).resolves.toMatch(/Firefox on Windows/);
    await shot(a, "2-two-devices");

    // A logs B out; B's next call sends it back to the login form with a plain message.
    await a.locator("#devices li:not(.current) button").click();
    await expect.poll(() => a.locator("#devices li").count()).toBe(1);
    await b.getByRole("button", { name: "Refresh list" }).click();
    await b.waitForSelector("#signed-out:not([hidden])");
    await expect(b.locator("#alert").textContent()).resolves.toMatch(/signed out/i);
    await shot(b, "3-sent-back-to-login");

    // The demo on A: copy the access token, log out, replay it: refused with 401 invalid_token.
    await a.getByRole("button", { name: "1. Copy access token" }).click();
    await expect(a.locator("#copied").inputValue()).resolves.toMatch(/^eyJ/);
    await a.getByRole("button", { name: "3. Replay copied token" }).click();
    await expect.poll(() => a.locator("#replay-result").textContent()).toMatch(/HTTP 200/);
    await a.getByRole("button", { name: "2. Log out" }).click();
    await a.waitForSelector("#signed-out:not([hidden])");
    await a.getByRole("button", { name: "3. Replay copied token" }).click();
    await expect.poll(() => a.locator("#replay-result").textContent()).toMatch(/HTTP 401/);
    await expect(a.locator("#replay-result").textContent()).resolves.toMatch(/error="invalid_token"/);
    await shot(a, "4-copied-token-refused");

    // A reload after logout stays logged out (the cookie was cleared or revoked).
    await a.reload();
    await a.waitForSelector("body[data-ready=true]");
    expect(await a.locator("#signed-out").isHidden()).toBe(false);

    // Logout-all: both devices in again, A logs out everywhere, B is sent back.
    await logIn(a, username, password);
    await logIn(b, username, password);
    await a.getByRole("button", { name: "Refresh list" }).click();
    await expect.poll(() => a.locator("#devices li").count()).toBe(2);
    await a.getByRole("button", { name: "Log out all devices" }).click();
    await a.waitForSelector("#signed-out:not([hidden])");
    await b.getByRole("button", { name: "Refresh list" }).click();
    await b.waitForSelector("#signed-out:not([hidden])");
    await shot(b, "5-after-logout-all");
  });

  it("changes the password: other devices out, this one stays; a reload keeps the session", async () => {
    const username = `bob${Date.now() % 100000}`;
    const a = await device(SAFARI_MAC);
    await a.locator("#register-username").fill(username);
    await a.locator("#register-password").fill("first password");
    await a.getByRole("button", { name: "Sign up" }).click();
    await a.waitForSelector("#signed-in:not([hidden])");
    const b = await device(FIREFOX_WINDOWS);
    await logIn(b, username, "first password");

    await a.locator("#current-password").fill("wrong password");
    await a.locator("#new-password").fill("second password");
    await a.getByRole("button", { name: "Change password" }).click();
    await expect.poll(() => a.locator("#alert").textContent()).toMatch(/current password is wrong/i);

    await a.locator("#current-password").fill("first password");
    await a.locator("#new-password").fill("second password");
    await a.getByRole("button", { name: "Change password" }).click();
    await expect.poll(() => a.locator("#status").textContent()).toMatch(/Password changed/);
    await expect.poll(() => a.locator("#devices li").count()).toBe(1);
    await b.getByRole("button", { name: "Refresh list" }).click();
    await b.waitForSelector("#signed-out:not([hidden])");

    // The access token is in memory only: a reload gets a new one through the refresh cookie.
    await a.reload();
    await a.waitForSelector("#signed-in:not([hidden])");
    await expect.poll(() => a.locator("#who").textContent()).toBe(username);
    await shot(a, "6-password-changed");
  });

  it("is usable by keyboard and screen reader: labelled controls, a live status region", async () => {
    const page = await device(SAFARI_MAC);
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll("input, textarea")]
        .filter((el) => !(el as HTMLInputElement).labels?.length)
        .map((el) => el.id),
    );
    expect(unlabelled).toEqual([]);
    expect(await page.locator("[role=status][aria-live=polite]").count()).toBe(1);
    // Tab reaches the login form's username field.
    await page.keyboard.press("Tab"); // skip link
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("login-username");
  });
});

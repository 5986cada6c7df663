// Drives credkit-server's "over 18?" page in headless Chromium (Debian's /usr/bin/chromium,
// through playwright-core): opens the page, clicks the button, prints the request URI the
// page shows (the test's wallet answers it), then waits for the page's outcome and prints it.
//
//   node over18.mjs https://localhost:PORT
// stdout: {"request_uri": "..."} then {"outcome": "Over 18: yes", "result": "yes", "qr": true}
import { chromium } from "playwright-core";

const url = process.argv[2];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  // The dev CA is the test's own; the page is served by the service under test.
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  await page.goto(url + "/", { waitUntil: "load" });
  await page.click("#start");
  const section = page.locator("#request[data-uri]");
  await section.waitFor({ state: "visible", timeout: 15000 });
  const uri = await section.getAttribute("data-uri");
  const qr = (await page.locator("#qr svg").count()) === 1;
  console.log(JSON.stringify({ request_uri: uri }));
  await page.locator("#outcome[data-result]").waitFor({ timeout: 60000 });
  const outcome = await page.locator("#outcome").textContent();
  const result = await page.locator("#outcome").getAttribute("data-result");
  console.log(JSON.stringify({ outcome, result, qr, errors }));
} finally {
  await browser.close();
}

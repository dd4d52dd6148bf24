// End-to-end test of todoql's /playground in Debian's Chromium (no browser download).
//
//   node tests/browser/playground.mjs http://127.0.0.1:PORT/playground [screenshot.png]
//
// Signs up through the sign-in bar (ticking "Stay signed in"), runs the `Todos` query and
// the `CreateTodo` mutation through GraphiQL and checks their results on the page, creates a
// read-only personal access token in the token bar and acts as it (reads allowed, writes and
// the profile refused for scope), switches back to the session, opens a
// dialog, checks that a reload restores the session and that signing out ends it, and fails
// if any request left 127.0.0.1, if the Content-Security-Policy refused anything, or if the
// page logged an error. Run by `cargo test --test playground`, which starts the server.

import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";
const here = dirname(fileURLToPath(import.meta.url));
const [pageUrl, screenshotArg] = process.argv.slice(2);
if (!pageUrl) {
  console.error("usage: node tests/browser/playground.mjs <playground url> [screenshot.png]");
  process.exit(2);
}
const screenshot = resolve(screenshotArg || join(here, "..", "..", "target", "playground.png"));
const origin = new URL(pageUrl).origin;
const title = `Written by the browser test ${Date.now()}`;

const userDataDir = mkdtempSync(join(tmpdir(), "todoql-chromium-"));
const requests = [];
const offHost = [];
const problems = [];
/** Chromium logs every 4xx response as a console error: the refusal for scope is one, expected. */
const FORBIDDEN_LOG = "Failed to load resource: the server responded with a status of 403 (Forbidden)";
let forbiddenLogged = 0;

function noteRequest(url) {
  requests.push(url);
  const parsed = new URL(url);
  if (["data:", "blob:", "about:"].includes(parsed.protocol)) return;
  if (parsed.hostname !== "127.0.0.1") offHost.push(url);
}

const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: CHROMIUM,
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
  ],
  viewport: { width: 1400, height: 900 },
});

let failed = false;
try {
  context.on("request", (request) => noteRequest(request.url()));
  // The text of the CodeMirror editor inside `selector`, for page.evaluate callers.
  await context.addInitScript(() => {
    window.editorText = (selector) => {
      const editor = document.querySelector(`${selector} .CodeMirror`);
      return editor ? editor.CodeMirror.getValue() : "";
    };
  });
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(20_000);
  page.on("websocket", (socket) => noteRequest(socket.url()));
  page.on("pageerror", (error) => problems.push(`uncaught: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && message.text() === FORBIDDEN_LOG) {
      forbiddenLogged += 1;
    } else if (message.type() === "error" || /Content Security Policy/i.test(message.text())) {
      problems.push(`console ${message.type()}: ${message.text()}`);
    }
  });

  await step("open the playground", async () => {
    await page.goto(pageUrl, { waitUntil: "load" });
    await page.locator(".graphiql-container").waitFor();
    await page.locator("#todoql-sign-in").waitFor();
    // Descriptions are on show: the documentation explorer opens on the root types.
    await page.getByRole("button", { name: "Hide Documentation Explorer" }).waitFor();
    const docs = page.locator(".graphiql-doc-explorer");
    await docs.getByText("Query", { exact: true }).first().waitFor();
    const box = await docs.boundingBox();
    assert(box && box.x >= 0 && box.width > 200, `the documentation explorer is on screen: ${JSON.stringify(box)}`);
    // The first tab's variables are filled in.
    assert((await page.evaluate(() => editorText(".graphiql-editor-tool"))).includes('"first": 10'), "the Todos tab has its variables");
  });

  const email = `browser-${Date.now()}@example.com`;
  await step("sign up through the sign-in bar", async () => {
    const form = page.locator("#todoql-sign-in");
    await form.getByRole("button", { name: "New here? Create an account" }).click();
    await form.getByLabel("Name").fill("Browser Test");
    await form.getByLabel("Email").fill(email);
    await form.getByLabel("Password").fill("correct horse battery");
    await form.getByLabel("Stay signed in").check();
    await form.getByRole("button", { name: "Create account" }).click();
    await expectText(page.locator("#todoql-signed-in"), email);
  });

  await step("run the todos query", async () => {
    await runTab(page, "Todos");
    const result = await response(page, (body) => body.data && body.data.todos);
    assert(result.data.todos.totalCount === 0, `a new user has no todos: ${JSON.stringify(result)}`);
    assert(result.data.me.email === email, `me is the signed-up user: ${JSON.stringify(result)}`);
  });

  await step("run the createTodo mutation", async () => {
    await runTab(page, "CreateTodo", { input: { title, description: "from Chromium" } });
    const result = await response(page, (body) => body.data && body.data.createTodo);
    assert(result.data.createTodo.title === title, `createTodo returns the todo: ${JSON.stringify(result)}`);
    assert(result.data.createTodo.completed === false, "a new todo is not completed");
  });

  await step("see the new todo in the todos query", async () => {
    await runTab(page, "Todos");
    const result = await response(page, (body) => body.data && body.data.todos && body.data.todos.totalCount === 1);
    assert(result.data.todos.nodes[0].title === title, `todos lists the new todo: ${JSON.stringify(result)}`);
    await expectText(page.locator(".graphiql-response"), title);
  });

  await step("create a read-only personal access token in the token bar and act as it", async () => {
    await page.locator("#todoql-new-token summary").click();
    const maker = page.locator("#todoql-token-form");
    await maker.getByLabel("Token name").fill("read only");
    assert(await maker.getByLabel("todos:read").isChecked(), "todos:read is offered ticked");
    assert(!(await maker.getByLabel("todos:write").isChecked()), "todos:write is offered unticked");
    assert(!(await maker.getByLabel("profile:read").isChecked()), "profile:read is offered unticked");
    await maker.getByRole("button", { name: "Create and use" }).click();
    await expectText(page.locator("#todoql-status"), "read only");
    const secret = await page.locator("#todoql-secret-value").inputValue();
    assert(/^todoql_pat_[A-Za-z0-9_-]{43}$/.test(secret), `the secret is shown once: ${secret}`);
    assert((await page.locator("#todoql-token").inputValue()) !== "", "the new token is the one in use");
  });

  await step("the read-only token reads todos but is refused writes and the profile", async () => {
    await runTab(page, "CreateTodo", { input: { title: "refused" } });
    const refused = await response(page, (body) => body.errors && body.errors[0] && body.errors[0].extensions.requiredScopes);
    assert(refused.errors[0].extensions.code === "FORBIDDEN", `a write is FORBIDDEN: ${JSON.stringify(refused)}`);
    assert(JSON.stringify(refused.errors[0].extensions.requiredScopes) === '[["todos:write"]]', `it names todos:write: ${JSON.stringify(refused)}`);
    // Every root field was refused for scope: the response was a 403 (Chromium logs it).
    for (let waited = 0; forbiddenLogged === 0 && waited < 5_000; waited += 100) await page.waitForTimeout(100);
    assert(forbiddenLogged === 1, `the refused write answered 403 (${forbiddenLogged} logged)`);
    await runTab(page, "Todos");
    const read = await response(page, (body) => body.errors && body.errors.some((e) => e.path && e.path[0] === "me"));
    const me = read.errors.find((e) => e.path[0] === "me");
    assert(JSON.stringify(me.extensions.requiredScopes) === '[["profile:read"]]', `me needs profile:read: ${JSON.stringify(read)}`);
    assert(!read.errors.some((e) => e.path && e.path[0] === "todos"), `todos is allowed: ${JSON.stringify(read)}`);
  });

  await step("switch back to the session", async () => {
    await page.locator("#todoql-token").selectOption("");
    await expectText(page.locator("#todoql-status"), "session");
    await runTab(page, "Todos");
    const result = await response(page, (body) => body.data && body.data.me && body.data.todos && body.data.todos.totalCount === 1);
    assert(!result.errors, `the session may do everything: ${JSON.stringify(result)}`);
  });

  await step("save a screenshot", async () => {
    mkdirSync(dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot });
  });

  await step("open and close a dialog (its scroll lock needs the CSP's style nonce)", async () => {
    await page.getByRole("button", { name: "Open settings dialog" }).click();
    await page.locator(".graphiql-dialog").waitFor();
    await page.keyboard.press("Escape");
    await page.locator(".graphiql-dialog").waitFor({ state: "detached" });
  });

  await step("stay signed in across a reload", async () => {
    await page.reload({ waitUntil: "load" });
    await expectText(page.locator("#todoql-signed-in"), email);
    await runTab(page, "Todos");
    await response(page, (body) => body.data && body.data.todos && body.data.todos.totalCount === 1);
  });

  await step("sign out", async () => {
    await page.locator("#todoql-sign-out").click();
    await page.locator("#todoql-sign-in").waitFor();
    await page.reload({ waitUntil: "load" });
    await page.locator("#todoql-sign-in").waitFor();
    assert(await page.locator("#todoql-signed-in").isHidden(), "a reload after signing out stays signed out");
    const stored = await page.evaluate(() => Object.keys(localStorage).filter((key) => /token/i.test(key)));
    assert(stored.length === 0, `no token is left in localStorage: ${stored}`);
  });
} catch (error) {
  failed = true;
  console.error(`FAILED: ${error.message}`);
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}

if (offHost.length) {
  failed = true;
  console.error(`FAILED: requests left 127.0.0.1:\n  ${offHost.join("\n  ")}`);
}
if (problems.length) {
  failed = true;
  console.error(`FAILED: the page reported problems:\n  ${problems.join("\n  ")}`);
}
console.log(`${requests.length} requests, ${offHost.length} off 127.0.0.1 (${origin}); screenshot: ${screenshot}`);
console.log(failed ? "playground browser test: 0 passed, 1 failed" : "playground browser test: 1 passed, 0 failed");
process.exit(failed ? 1 : 0);

// ---- helpers ----------------------------------------------------------------------------

async function step(name, run) {
  const started = Date.now();
  try {
    await run();
  } catch (error) {
    throw new Error(`${name}: ${error.message}`);
  }
  console.log(`ok - ${name} (${Date.now() - started} ms)`);
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

async function expectText(locator, text) {
  await locator.filter({ hasText: text }).waitFor({ state: "visible" });
}

/** Opens the tab titled `name` and runs its (single) operation, with `variables` if given. */
async function runTab(page, name, variables) {
  await page.locator(".graphiql-tab-button", { hasText: new RegExp(`^${name}$`) }).click();
  await page.waitForFunction(
    (operation) => editorText(".graphiql-query-editor").includes(operation),
    ` ${name}(`,
  );
  if (variables) await setVariables(page, JSON.stringify(variables, null, 2));
  // GraphiQL settles the operation name a moment after an edit or a tab switch (a person
  // never clicks this fast); run before that and it sends the previous tab's name.
  await page.waitForTimeout(500);
  await page.locator(".graphiql-execute-button").click();
}

/** Replaces the variables editor's text. */
async function setVariables(page, text) {
  await page.evaluate((value) => {
    document.querySelector(".graphiql-editor-tool .CodeMirror").CodeMirror.setValue(value);
  }, text);
}

/** Waits until the response editor holds JSON that `done` accepts; returns it. */
async function response(page, done) {
  const deadline = Date.now() + 20_000;
  let last = "";
  while (Date.now() < deadline) {
    last = await page.evaluate(() => editorText(".graphiql-response"));
    try {
      const body = JSON.parse(last);
      if (done(body)) return body;
    } catch (error) {
      // Not JSON yet (empty, or still running).
    }
    await page.waitForTimeout(100);
  }
  throw new Error(`no matching response; the response editor shows: ${last || "(nothing)"}`);
}

// End-to-end smoke test of the SPA in real Chromium against a running stack.
// Usage: BASE_URL=http://127.0.0.1:8000 node e2e/run.mjs   (the router serving both the SPA build and /api)
import { execFile } from "node:child_process";
import { mkdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const BASE_URL = (process.env.BASE_URL ?? "http://127.0.0.1:8000").replace(/\/$/, "");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const HEADLESS_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const TIMEOUT_MS = 15_000;
// Playwright's own waits stop at TIMEOUT_MS, but a download, a fetch or a close can wait forever: every step
// and the final close get a hard deadline, so a hang names its step instead of being killed from outside.
const STEP_DEADLINE_MS = 90_000;
const BROWSER_CLOSE_DEADLINE_MS = 20_000;
const PAGE_CLOSE_DEADLINE_MS = 10_000;
// Over the API's 25 MiB attachment limit and under nginx's 30 MB body cap, so the function itself refuses it.
const OVERSIZE_BYTES = 26 * 1024 * 1024;
const RATE_LIMIT_MESSAGE = "You’re making too many requests. Please wait a bit and try again.";

// How to run one reminder pass against the stack's database (a JSON argv, run from the repository root), e.g.
// ["python", "-m", "functions.reminders.cli", "run"] as `make reminders` does; tests/e2e/test_spa.py sets it. The
// browser cannot start a pass itself: without it the run checks the bell and the empty page only, and says so.
const REMINDER_PASS_COMMAND = process.env.REMINDER_PASS_COMMAND ? JSON.parse(process.env.REMINDER_PASS_COMMAND) : null;
// A URL that receives the webhook the owner adds: a receiver of the caller's that records what it is sent, and
// that the stack is allowed to call (tests/e2e/test_spa.py starts one and checks its deliveries' signatures).
const WEBHOOK_RECEIVER_URL = process.env.WEBHOOK_RECEIVER_URL ?? null;
// How to send once what is due in the outbox (a JSON argv run from the repository root, as REMINDER_PASS_COMMAND):
// ["python", "-m", "functions.reminders.cli", "deliver"]. The stack the tests start runs no outbox worker.
const OUTBOX_DELIVERY_COMMAND = process.env.OUTBOX_DELIVERY_COMMAND ? JSON.parse(process.env.OUTBOX_DELIVERY_COMMAND) : null;
// The line that hands what the page showed of the webhook (its id, URL and secret) to whoever started the run.
const WEBHOOK_RECORD_PREFIX = "e2e-webhook: ";

const here = path.dirname(fileURLToPath(import.meta.url));
const REPOSITORY = path.resolve(here, "../..");
const SCREENSHOTS = path.resolve(here, "../../test-artifacts/screenshots");

const run = Date.now().toString(36);
const owner = { email: `owner-${run}@example.com`, password: "first-password-1" };
const viewer = { email: `viewer-${run}@example.com`, password: "viewer-password-1" };
const title = `Prepare the quarterly report ${run}`;
const editedTitle = `${title} (edited)`;
const descriptionFromTheFirstTab = `Figures are in; the summary waits (${run}).`;
const uniqueTag = `q${run}`;
const attachmentText = `Notes for ${run}\n`;
const dueSoonTitle = `Send the invoices ${run}`;
const hookedTitle = `Tell the receiver ${run}`;

let current = "start-up";
const passed = [];

function withDeadline(promise, milliseconds, what) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${milliseconds / 1000} s`)), milliseconds);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

async function step(name, action) {
  current = name;
  const started = Date.now();
  await withDeadline(action(), STEP_DEADLINE_MS, `the step "${name}"`);
  passed.push(name);
  console.log(`  ok  ${name} (${Date.now() - started} ms)`);
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

async function signIn(page, user) {
  await page.goto(`${BASE_URL}/login`);
  await page.getByLabel("Email").fill(user.email);
  await page.getByLabel("Password").fill(user.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${BASE_URL}/tasks`);
  await page.getByTestId("current-user").filter({ hasText: user.email }).waitFor();
}

async function registerThroughApi(user) {
  const response = await fetch(`${BASE_URL}/api/v1/auth/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(user),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  check(response.status === 201, `registering ${user.email} answered ${response.status}: ${await response.text()}`);
}

async function changeThroughApi(user, taskUrl, changes) {
  const login = await fetch(`${BASE_URL}/api/v1/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(user),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  check(login.status === 200, `signing in ${user.email} through the API answered ${login.status}`);
  const { access_token: token } = await login.json();
  const taskId = new URL(taskUrl).pathname.split("/").pop();
  const changed = await fetch(`${BASE_URL}/api/v1/tasks/${taskId}`, {
    method: "PATCH",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify(changes),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  check(changed.status === 200, `changing the task through the API answered ${changed.status}: ${await changed.text()}`);
}

/** Runs a JSON argv from the repository root; what it printed. */
function runCommand(command, what) {
  const [program, ...args] = command;
  return new Promise((resolve, reject) => {
    execFile(program, args, { cwd: REPOSITORY, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${what} failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve(stdout.trim());
    });
  });
}

/** One reminder pass, as the worker runs it every 5 minutes; what it printed. */
function runReminderPass() {
  return runCommand(REMINDER_PASS_COMMAND, "the reminder pass");
}

/** One outbox run, as the worker runs it every few seconds: sends the deliveries that are due. */
function runOutboxDelivery() {
  return runCommand(OUTBOX_DELIVERY_COMMAND, "the outbox delivery");
}

/** `<input type="datetime-local">`'s value for a moment `hours` from now, in the browser's (this machine's) zone. */
function localInputIn(hours) {
  const date = new Date(Date.now() + hours * 3600_000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

// Closing a tab, a context or the browser when done with it can hang in headless Chromium (seen after a page
// signed itself out): close() has no timeout of its own, and what the test checks is already checked, so what
// does not close is left to the browser's close, and that to the exit.
async function closeQuietly(target, what, deadline = PAGE_CLOSE_DEADLINE_MS) {
  await withDeadline(target.close(), deadline, `closing ${what}`).catch((error) => {
    console.error(`${error.message}; going on without it`);
  });
}

async function main() {
  await rm(SCREENSHOTS, { recursive: true, force: true });
  await mkdir(SCREENSHOTS, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: HEADLESS_ARGS });
  const ownerContext = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  const page = await ownerContext.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  let taskUrl = "";

  try {
    await step("register through the UI", async () => {
      await page.goto(`${BASE_URL}/login`);
      await shot(page, "01-login");
      await page.getByRole("link", { name: "Create one" }).click();
      await page.waitForURL(`${BASE_URL}/register`);
      await page.getByLabel("Email").fill(owner.email);
      await page.getByLabel("Full name (optional)").fill("Olivia Owner");
      await page.getByLabel("Password").fill(owner.password);
      await shot(page, "02-register");
      await page.getByRole("button", { name: "Create account" }).click();
      await page.waitForURL(`${BASE_URL}/login`);
      await page.getByText("Account created").waitFor();
    });

    await step("log in and see the task list", async () => {
      await signIn(page, owner);
      await page.getByRole("heading", { name: "Tasks" }).waitFor();
      await page.locator(".task-table, .empty-state").first().waitFor();
    });

    await step("create a task", async () => {
      await page.getByRole("link", { name: "New task" }).click();
      await page.waitForURL(`${BASE_URL}/tasks/new`);
      await page.getByRole("button", { name: "Create task" }).click();
      await page.getByText("Title is required.").waitFor();
      await page.getByLabel("Title").fill(title);
      await page.getByLabel("Description").fill("Gather the figures and write the summary.");
      await page.getByLabel("Priority").selectOption("HIGH");
      await page.getByLabel("Due date").fill("2030-01-15T10:30");
      await page.getByLabel("Tags").fill("reports");
      await page.getByLabel("Tags").press("Enter");
      await page.getByLabel("Tags").fill(uniqueTag);
      await page.getByLabel("Tags").press("Enter");
      await shot(page, "04-task-new");
      await page.getByRole("button", { name: "Create task" }).click();
      await page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
      taskUrl = page.url();
      await page.getByRole("heading", { name: title }).waitFor();
      await page.getByText("Task created.").waitFor();
    });

    await step("see the new task in the list", async () => {
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Tasks" }).click();
      await page.waitForURL(`${BASE_URL}/tasks`);
      const row = page.getByRole("row").filter({ hasText: title });
      await row.waitFor();
      check((await row.innerText()).includes(owner.email), "the row does not show the owner's email");
      await shot(page, "03-task-list");
    });

    await step("search and filter find the task", async () => {
      await page.getByLabel("Search").fill(`report ${run}`);
      await page.waitForURL(/search=report/);
      await page.getByRole("row").filter({ hasText: title }).waitFor();
      await page.getByRole("checkbox", { name: "High" }).click();
      await page.getByRole("checkbox", { name: "To do" }).click();
      await page.waitForURL(/priority=HIGH/);
      await page.waitForURL(/status=TODO/);
      await page.getByRole("row").filter({ hasText: title }).waitFor();
      await page.getByLabel("Tags").fill(uniqueTag);
      await page.getByLabel("Tags").press("Enter");
      await page.waitForURL(new RegExp(`tags=${uniqueTag}`));
      await page.getByRole("row").filter({ hasText: title }).waitFor();
      await shot(page, "05-task-list-filtered");
      // A filter that excludes it must hide it: the filters really reach the API.
      await page.getByRole("checkbox", { name: "High" }).click();
      await page.getByRole("checkbox", { name: "Low" }).click();
      await page.getByText("No task matches these filters.").waitFor();
      // The filters live in the URL, so Back restores the previous view.
      await page.goBack();
      await page.goBack();
      await page.getByRole("row").filter({ hasText: title }).waitFor();
    });

    await step("open the task's detail", async () => {
      await page.getByRole("link", { name: title }).click();
      await page.waitForURL(taskUrl);
      await page.getByRole("heading", { name: title }).waitFor();
      await page.getByText("Gather the figures and write the summary.").waitFor();
      await page.getByText("Task created", { exact: true }).waitFor();
    });

    await step("upload a file and see it listed", async () => {
      await page.getByLabel("Upload attachments").setInputFiles({
        name: "notes.txt",
        mimeType: "text/plain",
        buffer: Buffer.from(attachmentText),
      });
      await page.locator(".upload-list li.done").filter({ hasText: "notes.txt" }).waitFor();
      await page.locator("table.attachments").getByRole("cell", { name: "notes.txt", exact: true }).waitFor();
      await page.getByText("Attachment added", { exact: true }).waitFor();
      await shot(page, "06-task-detail");
    });

    await step("an oversize file gets its own explained error", async () => {
      await page.getByLabel("Upload attachments").setInputFiles({
        name: "huge.bin",
        mimeType: "application/octet-stream",
        buffer: Buffer.alloc(OVERSIZE_BYTES, 1),
      });
      const failed = page.locator(".upload-list li.failed").filter({ hasText: "huge.bin" });
      await failed.waitFor();
      const text = await failed.innerText();
      check(text.includes("too large"), `the oversize upload says: ${text}`);
      check(
        (await page.locator("table.attachments").getByRole("cell", { name: "huge.bin", exact: true }).count()) === 0,
        "the oversize file was listed",
      );
      await shot(page, "06b-upload-too-large");
    });

    await step("download the file", async () => {
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.getByRole("button", { name: "Download notes.txt" }).click(),
      ]);
      check(download.suggestedFilename() === "notes.txt", `downloaded as ${download.suggestedFilename()}`);
      const saved = await withDeadline(download.path(), TIMEOUT_MS, "the download");
      check(saved !== null, `the download failed: ${await download.failure()}`);
      const content = await readFile(saved, "utf8");
      check(content === attachmentText, `the downloaded file holds ${JSON.stringify(content)}`);
    });

    await step("edit the task", async () => {
      await page.getByRole("link", { name: "Edit task" }).click();
      await page.waitForURL(`${taskUrl}/edit`);
      await page.getByLabel("Title").fill("");
      await page.getByRole("button", { name: "Save changes" }).click();
      await page.getByText("Title is required.").waitFor();
      await page.getByLabel("Title").fill(editedTitle);
      await page.getByLabel("Status").selectOption("IN_PROGRESS");
      await shot(page, "07-task-edit");
      await page.getByRole("button", { name: "Save changes" }).click();
      await page.waitForURL(taskUrl);
      await page.getByRole("heading", { name: editedTitle }).waitFor();
      await page.getByText("Task updated.").waitFor();
      await page.getByText("Task updated", { exact: true }).waitFor();
    });

    await step("two tabs edit one task: the second sees the newer version and reapplies its change on top", async () => {
      const secondTab = await ownerContext.newPage();
      secondTab.setDefaultTimeout(TIMEOUT_MS);
      try {
        // Both tabs open the form on the same version.
        await page.goto(`${taskUrl}/edit`);
        await page.getByLabel("Description").waitFor();
        await secondTab.goto(`${taskUrl}/edit`);
        await secondTab.getByLabel("Priority").waitFor();
        // The first saves a new description...
        await page.getByLabel("Description").fill(descriptionFromTheFirstTab);
        await page.getByRole("button", { name: "Save changes" }).click();
        await page.waitForURL(taskUrl);
        await page.locator("p.description").filter({ hasText: descriptionFromTheFirstTab }).waitFor();
        // ...then the second, still holding the version before it, saves another priority: refused, not overwritten.
        await secondTab.getByLabel("Priority").selectOption("CRITICAL");
        await secondTab.getByRole("button", { name: "Save changes" }).click();
        const conflict = secondTab.locator("section.conflict");
        await conflict.getByRole("heading", { name: "This task was changed while you were editing it" }).waitFor();
        await conflict.getByRole("row", { name: /^Description/ }).getByText(descriptionFromTheFirstTab).waitFor();
        await conflict.getByRole("row", { name: /^Priority/ }).getByText("Critical").waitFor();
        await shot(secondTab, "07b-edit-conflict");
        await secondTab.getByRole("button", { name: "Reapply my changes" }).click();
        await secondTab.waitForURL(taskUrl);
        await secondTab.getByText("Your changes were applied to the current version.").waitFor();
        // Both changes stand: the first tab's description and the second's priority.
        await secondTab.locator("p.description").filter({ hasText: descriptionFromTheFirstTab }).waitFor();
        await secondTab.locator(".details-grid .badge").filter({ hasText: "Critical" }).waitFor();
        await secondTab.getByRole("heading", { name: editedTitle }).waitFor();
      } finally {
        await closeQuietly(secondTab, "the second tab");
      }
    });

    await step("a second user sees the task without edit or delete controls", async () => {
      await registerThroughApi(viewer);
      const viewerContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const viewerPage = await viewerContext.newPage();
      viewerPage.setDefaultTimeout(TIMEOUT_MS);
      await signIn(viewerPage, viewer);
      await viewerPage.getByRole("row").filter({ hasText: editedTitle }).waitFor();
      await viewerPage.goto(taskUrl);
      await viewerPage.getByRole("heading", { name: editedTitle }).waitFor();
      await viewerPage.locator("table.attachments").getByRole("cell", { name: "notes.txt", exact: true }).waitFor();
      const forbidden = {
        "Edit task": await viewerPage.getByRole("link", { name: "Edit task" }).count(),
        "Delete task": await viewerPage.getByRole("button", { name: "Delete task" }).count(),
        "attachment delete": await viewerPage.getByRole("button", { name: /^Delete / }).count(),
        "upload area": await viewerPage.getByLabel("Upload attachments").count(),
      };
      const shown = Object.entries(forbidden).filter(([, count]) => count > 0);
      check(shown.length === 0, `the second user sees owner controls: ${shown.map(([name]) => name).join(", ")}`);
      check((await viewerPage.getByRole("button", { name: "Download notes.txt" }).count()) === 1, "no download for the second user");
      await shot(viewerPage, "08-task-detail-other-user");
      await closeQuietly(viewerContext, "the second user's browser");
    });

    await step("change password validates a mismatch, then works and ends every session", async () => {
      // The owner is signed in on another device too, and has a second tab open in this browser.
      const otherDevice = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const otherDevicePage = await otherDevice.newPage();
      otherDevicePage.setDefaultTimeout(TIMEOUT_MS);
      await signIn(otherDevicePage, owner);
      const secondTab = await ownerContext.newPage();
      secondTab.setDefaultTimeout(TIMEOUT_MS);
      await secondTab.goto(`${BASE_URL}/tasks`);
      await secondTab.getByRole("heading", { name: "Tasks" }).waitFor();

      await page.getByRole("link", { name: "Change password" }).click();
      await page.waitForURL(`${BASE_URL}/change-password`);
      const newPassword = "second-password-2";
      await page.getByLabel("Current password").fill(owner.password);
      await page.getByLabel("New password", { exact: true }).fill(newPassword);
      await page.getByLabel("Confirm new password").fill("something-else-3");
      await page.getByRole("button", { name: "Change password" }).click();
      await page.getByText("The passwords do not match.").waitFor();
      await shot(page, "09-change-password");
      await page.getByLabel("Confirm new password").fill(newPassword);
      await page.getByRole("button", { name: "Change password" }).click();
      await page.getByText("Password changed.").waitFor();
      owner.password = newPassword;
      // Every session ends with a password change: the app signs out, and the new password works.
      await page.waitForURL(`${BASE_URL}/login`);
      // The other tab follows at once; the other device's tokens stop working, so its next visit asks for a sign-in.
      await secondTab.waitForURL(`${BASE_URL}/login`);
      await otherDevicePage.goto(`${BASE_URL}/tasks`);
      await otherDevicePage.waitForURL(`${BASE_URL}/login`);
      await closeQuietly(secondTab, "the second tab");
      await closeQuietly(otherDevice, "the other device's browser");
      await signIn(page, owner);
      await page.getByRole("button", { name: "Log out" }).click();
      await page.waitForURL(`${BASE_URL}/login`);
      await signIn(page, owner);
    });

    await step("the audit log lists the owner's events", async () => {
      await page.getByRole("link", { name: "Audit log" }).click();
      await page.getByRole("heading", { name: "Audit log" }).waitFor();
      await page.getByRole("cell", { name: "Password changed" }).first().waitFor();
      await shot(page, "10-audit");
    });

    await step("a 429 shows the friendly message with the correlation id", async () => {
      await page.route(/\/api\/v1\/tasks(\?|$)/, (route) =>
        route.fulfill({
          status: 429,
          headers: { "Content-Type": "application/json", "Retry-After": "30", "X-Correlation-ID": `e2e-429-${run}` },
          body: JSON.stringify({
            error: { code: "RATE_LIMITED", message: "Too many requests", details: {}, correlation_id: `e2e-429-${run}` },
          }),
        }),
      );
      await page.goto(`${BASE_URL}/tasks`);
      const toast = page.getByRole("alert").filter({ hasText: RATE_LIMIT_MESSAGE });
      await toast.waitFor();
      check((await toast.innerText()).includes(`e2e-429-${run}`), "the error toast does not show the correlation id");
      await shot(page, "11-rate-limited");
      await page.unroute(/\/api\/v1\/tasks(\?|$)/);
    });

    await step("deleting a task changed meanwhile is refused, shows it as it is now, and then deletes it", async () => {
      await page.goto(taskUrl);
      await page.getByRole("heading", { name: editedTitle }).waitFor();
      const renamed = `${editedTitle} (renamed elsewhere)`;
      await changeThroughApi(owner, taskUrl, { title: renamed });
      page.once("dialog", (dialog) => dialog.accept());
      await page.getByRole("button", { name: "Delete task" }).click();
      await page.getByRole("alert").filter({ hasText: "so it was not deleted" }).waitFor();
      await page.getByRole("heading", { name: renamed }).waitFor();
      // The history shows the change that stopped the delete.
      await page.locator(".event-details li").filter({ hasText: `${editedTitle} → ${renamed}` }).waitFor();
      await shot(page, "12-delete-conflict");
      page.once("dialog", (dialog) => dialog.accept());
      await page.getByRole("button", { name: "Delete task" }).click();
      await page.waitForURL(`${BASE_URL}/tasks`);
      await page.getByText("Task deleted.").waitFor();
    });

    await step("the bell shows nothing unread and the notifications page is empty", async () => {
      const bell = page.getByTestId("notification-bell");
      await bell.waitFor();
      check((await bell.getAttribute("aria-label")) === "Notifications", "the bell counts notifications nobody sent");
      await bell.click();
      await page.waitForURL(`${BASE_URL}/notifications`);
      await page.getByRole("heading", { name: "Notifications" }).waitFor();
      await page.getByText("No notifications yet.").waitFor();
      check(await page.getByRole("button", { name: "Mark all read" }).isDisabled(), "Mark all read is offered with nothing unread");
      await shot(page, "13-notifications-empty");
    });

    if (!REMINDER_PASS_COMMAND) {
      console.log("  --  a task due soon notifies its owner: left out, REMINDER_PASS_COMMAND is not set (tests/e2e sets it)");
    } else {
      await step("a task due within 24 h: a reminder pass notifies its owner, the bell counts it, it is marked read", async () => {
        await page.goto(`${BASE_URL}/tasks/new`);
        await page.getByLabel("Title").fill(dueSoonTitle);
        await page.getByLabel("Due date").fill(localInputIn(3));
        await page.getByRole("button", { name: "Create task" }).click();
        await page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
        const dueSoonUrl = page.url();

        console.log(`      ${await runReminderPass()}`);
        // A new page asks at once; an open one asks within 30 s or when its window is focused again.
        await page.goto(`${BASE_URL}/tasks`);
        await page.getByTestId("unread-count").filter({ hasText: /^1$/ }).waitFor();
        await page.getByRole("link", { name: "Notifications, 1 unread" }).click();
        await page.waitForURL(`${BASE_URL}/notifications`);
        const notification = page.getByTestId("notification").filter({ hasText: dueSoonTitle });
        await notification.getByText("This task is due within 24 hours.").waitFor();
        check(
          (await notification.getByRole("link", { name: dueSoonTitle }).getAttribute("href")) === new URL(dueSoonUrl).pathname,
          "the notification does not link to its task",
        );
        await shot(page, "14-notifications-unread");

        await notification.getByRole("button", { name: `Mark "${dueSoonTitle}" read` }).click();
        await page.getByRole("button", { name: "Unread (0)" }).waitFor();
        await page.getByTestId("unread-count").waitFor({ state: "detached" });
        await page.getByRole("button", { name: "Unread (0)" }).click();
        await page.getByText("No unread notifications.").waitFor();
        await shot(page, "15-notifications-read");
      });
    }

    await step("the owner switches e-mailed reminders off and on, and each choice holds across a reload", async () => {
      await page.goto(`${BASE_URL}/notifications`);
      const emailSwitch = page.getByRole("switch", { name: "E-mail me reminders" });
      const hint = page.locator("#email-reminders-hint");
      await hint.filter({ hasText: `Reminders of tasks due soon also go to ${owner.email}.` }).waitFor();
      check(await emailSwitch.isChecked(), "e-mailed reminders are not on for a new account");

      await emailSwitch.click();
      await page.getByText("Reminders will no longer be e-mailed.").waitFor();
      await hint.filter({ hasText: "Reminders show here only." }).waitFor();
      await shot(page, "16-email-reminders-off");
      await page.reload();
      await hint.filter({ hasText: "Reminders show here only." }).waitFor();
      check(!(await emailSwitch.isChecked()), "e-mailed reminders are on again after a reload");

      await emailSwitch.click();
      await page.getByText(`Reminders will also be e-mailed to ${owner.email}.`).waitFor();
      await page.reload();
      await hint.filter({ hasText: `Reminders of tasks due soon also go to ${owner.email}.` }).waitFor();
      check(await emailSwitch.isChecked(), "e-mailed reminders are off again after a reload");
    });

    if (!WEBHOOK_RECEIVER_URL || !OUTBOX_DELIVERY_COMMAND) {
      console.log("  --  webhooks: left out, WEBHOOK_RECEIVER_URL or OUTBOX_DELIVERY_COMMAND is not set (tests/e2e sets both)");
    } else {
      const webhook = { id: "", url: WEBHOOK_RECEIVER_URL, secret: "", taskId: "" };

      await step("the owner adds a webhook, sees its secret once, and the list never shows it", async () => {
        await page.getByRole("link", { name: "Webhooks" }).click();
        await page.waitForURL(`${BASE_URL}/webhooks`);
        await page.getByRole("heading", { name: "Webhooks", exact: true }).waitFor();
        await page.getByText("No webhooks yet.").waitFor();
        const url = page.getByLabel("Payload URL");
        await url.fill("receiver.example.com/hook");
        await page.getByRole("button", { name: "Add webhook" }).click();
        await page.getByText("Enter a full http:// or https:// URL").waitFor();

        await url.fill(webhook.url);
        const isCreate = (response) =>
          response.request().method() === "POST" && new URL(response.url()).pathname === "/api/v1/webhooks";
        const [answer] = await Promise.all([page.waitForResponse(isCreate), page.getByRole("button", { name: "Add webhook" }).click()]);
        check(answer.status() === 201, `adding the webhook answered ${answer.status()}: ${await answer.text()}`);
        const created = await answer.json();
        const panel = page.getByTestId("webhook-secret-panel");
        await panel.getByText("you will not see it again").waitFor();
        webhook.secret = await panel.getByLabel("Webhook secret").inputValue();
        webhook.id = created.id;
        check(webhook.secret !== "" && webhook.secret === created.secret, "the page does not show the secret the API answered");
        const listed = page.getByTestId("webhook").filter({ hasText: webhook.url });
        await listed.waitFor();
        check(!(await listed.innerText()).includes(webhook.secret), "the list shows the secret");
        await shot(page, "17-webhook-secret");

        await panel.getByRole("button", { name: "I have stored it" }).click();
        await panel.waitFor({ state: "detached" });
        await page.reload();
        await listed.waitFor();
        check(!(await page.content()).includes(webhook.secret), "the secret is shown again after a reload");
      });

      await step("a task created now reaches the receiver, and Recent deliveries shows it delivered", async () => {
        await page.goto(`${BASE_URL}/tasks/new`);
        await page.getByLabel("Title").fill(hookedTitle);
        await page.getByRole("button", { name: "Create task" }).click();
        await page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
        webhook.taskId = new URL(page.url()).pathname.split("/").pop();

        await page.getByRole("link", { name: "Webhooks" }).click();
        await page.getByRole("button", { name: `Recent deliveries of ${webhook.url}` }).click();
        const delivery = page.getByTestId("delivery").filter({ hasText: "task.created" }).first();
        await delivery.waitFor();
        console.log(`      ${await runOutboxDelivery()}`);
        // The open view asks again every few seconds: the delivery turns delivered without a reload.
        await delivery.locator(".badge").filter({ hasText: "Delivered" }).waitFor();
        const text = await delivery.innerText();
        check(/HTTP 2\d\d/.test(text), `the delivered row does not show the receiver's answer: ${text}`);
        await shot(page, "18-webhook-deliveries");
        // For the caller to check what the receiver got against what the page showed.
        console.log(`${WEBHOOK_RECORD_PREFIX}${JSON.stringify(webhook)}`);
      });

      await step("the owner deletes the webhook after confirming", async () => {
        let asked = "";
        page.once("dialog", (dialog) => {
          asked = dialog.message();
          void dialog.accept();
        });
        await page.getByRole("button", { name: `Delete the webhook to ${webhook.url}` }).click();
        await page.getByText("Webhook deleted.").waitFor();
        await page.getByText("No webhooks yet.").waitFor();
        check(asked.includes(webhook.url), `the confirmation does not name the webhook: ${asked}`);
        await page.reload();
        await page.getByText("No webhooks yet.").waitFor();
        await shot(page, "19-webhooks-empty");
      });
    }
  } catch (error) {
    await shot(page, `failed-${current.replace(/[^a-z0-9]+/gi, "-")}`).catch(() => {});
    console.error(`FAILED at step "${current}": ${error instanceof Error ? error.message : error}`);
    console.error(`Passed before it: ${passed.length ? passed.join("; ") : "none"}`);
    await closeQuietly(browser, "the browser", BROWSER_CLOSE_DEADLINE_MS);
    process.exit(1);
  }
  await closeQuietly(browser, "the browser", BROWSER_CLOSE_DEADLINE_MS);
  console.log(`All ${passed.length} end-to-end steps passed; screenshots in ${SCREENSHOTS}`);
}

main().then(() => process.exit(0)).catch((error) => {
  console.error(`FAILED before the first step could finish (${current}): ${error instanceof Error ? error.stack : error}`);
  process.exit(1);
});

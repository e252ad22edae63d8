// Browser test of the console's Offices page (gateway/admin/console/offices.js) against the real
// admin listener with a network whose offices log in themselves (offices_server.cpp: a fake
// OfficeLogins), driven by run_offices.sh:   node offices.spec.mjs HARNESS.json
// Headless Debian chromium through playwright-core. An operator sees each office's state, starts
// a login, reads where the code went, enters a wrong code (asked again), then the right one (the
// office turns active); a locked office cannot be started; an auditor sees the page is for
// operators. The listener's log never holds the code or its destination. Screenshots go to the
// artifacts directory. Ends with "N passed, N failed".
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const H = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const { chromium } = createRequire(import.meta.url)(H.playwright);
const shot = (name) => path.join(H.artifacts, name + '.png');
const log = (...a) => console.log(new Date().toISOString().slice(11, 23), ...a);

let passed = 0;
let failed = 0;
const pageErrors = [];
const pages = [];

async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    log(`ok    ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    log(`FAIL  ${name}: ${e && e.stack ? e.stack : e}`);
    for (const [i, p] of pages.entries()) {
      await p.screenshot({ path: shot(`offices-failure-${i}`), fullPage: true }).catch(() => {});
    }
    throw new Error('step failed: ' + name);
  }
}

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function newPage(browser, label, locale) {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true, viewport: { width: 1360, height: 900 }, locale, timezoneId: 'Asia/Tokyo',
  });
  const page = await context.newPage();
  pages.push(page);
  page.setDefaultTimeout(20000);
  page.on('pageerror', (e) => pageErrors.push(`${label}: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') log(`[${label} console] ${m.text()}`); });
  return page;
}

async function login(page, token) {
  await page.goto(H.base_url + '/');
  await page.getByTestId('login-token').fill(token);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('role').waitFor();
}

const row = (page, office) => page.locator(`[data-testid=office-list] tr[data-office="${office}"]`);

async function main() {
  const browser = await chromium.launch({
    executablePath: H.chromium, headless: true,
    args: [...(process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : []), '--disable-dev-shm-usage', '--disable-gpu'],
  });
  try {
    const op = await newPage(browser, 'operator', 'ja-JP');
    await step('the Offices page lists the login network and its offices', async () => {
      await login(op, H.operator_token);
      await op.getByTestId('nav-offices').click();
      await op.locator('[data-testid=offices][data-loaded]').waitFor();
      const networks = await op.locator('[data-testid=login-network]').evaluateAll((els) => els.map((e) => e.dataset.network));
      check(JSON.stringify(networks) === '["kaigo"]', `login networks shown: ${JSON.stringify(networks)} (regional has none)`);
      check(await row(op, '3271500013').getAttribute('data-state') === 'login_required', 'office 3271500013 is not login_required');
      check(await row(op, '3271500021').getAttribute('data-state') === 'active', 'office 3271500021 is not active');
      check((await row(op, '3271500013').textContent()).includes('ログインが必要'), 'the state is not worded in Japanese');
      check(await row(op, '3271500039').getByTestId('login-start').isDisabled(), 'a locked office can be started');
      await op.screenshot({ path: shot('offices-01-list'), fullPage: true });
    });

    await step('start a login: the page says where the code went', async () => {
      await row(op, '3271500013').getByTestId('login-start').click();
      const sent = op.getByTestId('otp-sent');
      await sent.waitFor();
      const text = await sent.textContent();
      check(text.includes('3271500013') && text.includes('SMS') && text.includes('***-****-5678'), `otp-sent says "${text}"`);
      check(await row(op, '3271500013').getAttribute('data-state') === 'awaiting_otp', 'the office is not awaiting_otp');
      await op.screenshot({ path: shot('offices-02-code-sent'), fullPage: true });
    });

    await step('a wrong code is refused and asked again', async () => {
      await op.getByTestId('otp-input').fill('000000');
      await op.getByTestId('otp-submit').click();
      await op.getByTestId('login-message').waitFor({ state: 'visible' });
      const text = await op.getByTestId('login-message').textContent();
      check(text.includes('KW1003'), `after a wrong code: "${text}"`);
      check(await op.getByTestId('otp-input').inputValue() === '', 'the code field was not emptied');
    });

    await step('the right code logs the office in', async () => {
      const otp = fs.readFileSync(path.join(H.work, 'otp'), 'utf8').trim();
      await op.getByTestId('otp-input').fill(otp);
      await op.getByTestId('otp-submit').click();
      await op.getByTestId('offices-message').waitFor();
      const text = await op.getByTestId('offices-message').textContent();
      check(text.includes('3271500013'), `after the right code: "${text}"`);
      await op.locator('[data-testid=office-list] tr[data-office="3271500013"][data-state=active]').waitFor();
      check(await op.getByTestId('login-panel').count() === 0, 'the code form is still shown');
      await op.screenshot({ path: shot('offices-03-active'), fullPage: true });
    });

    await step('a locked office cannot be logged in from the page or the API', async () => {
      const r = await op.evaluate(async () => {
        const res = await fetch('/api/networks/kaigo/offices/3271500039/login', {
          method: 'POST', headers: { Authorization: 'Bearer ' + sessionStorage.getItem('kakehashi.token'), 'X-Kakehashi-Request': '1' },
        });
        return res.json();
      });
      check(r.state === 'locked' && r.locked_until, `the API answered ${JSON.stringify(r)}`);
    });

    const au = await newPage(browser, 'auditor', 'en-GB');
    await step('an auditor sees the page is for operators', async () => {
      await login(au, H.auditor_token);
      await au.evaluate(() => localStorage.setItem('kakehashi.lang', 'en'));
      await au.reload();
      await au.getByTestId('nav-offices').click();
      await au.getByTestId('operator-only').waitFor();
      check(await au.getByTestId('login-start').count() === 0, 'an auditor sees login buttons');
      await au.screenshot({ path: shot('offices-04-auditor'), fullPage: true });
    });

    await step('the listener log holds neither the code nor where it went', async () => {
      const text = fs.readFileSync(H.server_log, 'utf8');
      check(text.includes('admin-office-login'), 'no admin-office-login line in the log');
      for (const secret of ['483920', '000000', '***-****-5678']) {
        check(!text.includes(secret), `the log holds ${secret}`);
      }
    });
    check(pageErrors.length === 0, 'page errors: ' + pageErrors.join('; '));
  } finally {
    await browser.close();
  }
}

main().then(() => {
  log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}, (e) => {
  log(String(e && e.message ? e.message : e));
  log(`${passed} passed, ${failed + (failed ? 0 : 1)} failed`);
  process.exit(1);
});

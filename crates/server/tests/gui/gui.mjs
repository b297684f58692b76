// End-to-end test of onnx-web's own GUI bundle (npm @apextoaster/onnx-web 0.12.0) against this
// server, in Debian's headless Chromium driven by playwright-core. Started by tests/gui.rs with:
//   GUI_URL        the server's address, e.g. http://127.0.0.1:40123
//   GUI_TOKEN      the admin token (the GUI takes it from its page URL, as in onnx-web)
//   GUI_ARTIFACTS  folder for one screenshot per step
//   GUI_STEP       optional: run only the steps whose name contains this
// Prints one line per step; exits non-zero with the reason on the first failure.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.GUI_URL.replace(/\/$/, '');
const token = process.env.GUI_TOKEN;
const artifacts = process.env.GUI_ARTIFACTS;
const only = process.env.GUI_STEP ?? '';
mkdirSync(artifacts, { recursive: true });

const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run',
];
const JOB_TIMEOUT = 120_000;

function fail(message) {
  throw new Error(message);
}

process.on('unhandledRejection', (error) => { console.error(`gui test failed: ${error.stack ?? error}`); process.exit(1); });

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
const consoleErrors = [];
const httpErrors = [];
// A bug of the GUI itself: the inpaint tab's mask canvas is styled `url(undefined)` until a source
// is chosen (MaskCanvas.tsx), so the browser asks for /undefined; onnx-web answers 404 too.
const knownGuiBug = (url) => url === `${base}/undefined`;
// The bundle is a development build of React, which reports its own prop misuse (in the Models
// tab's lists) as console errors starting "Warning: "; those are the GUI's, not the server's.
const reactWarning = (text) => text.startsWith('Warning: ');
page.on('console', (m) => {
  if (m.type() !== 'error' || knownGuiBug(m.location().url) || reactWarning(m.text())) return;
  consoleErrors.push(m.text().slice(0, 400));
});
page.on('pageerror', (e) => consoleErrors.push(`uncaught: ${e.message}`.slice(0, 400)));
page.on('response', (r) => {
  if (r.status() >= 400 && !knownGuiBug(r.url())) httpErrors.push(`${r.status()} ${r.request().method()} ${r.url()}`);
});
page.on('request', (r) => {
  if (r.method() !== 'GET' && r.url().includes('/api/')) {
  }
});

let stepNumber = 0;
async function step(name, body) {
  stepNumber += 1;
  if (only !== '' && !name.includes(only) && !['load', 'txt2img'].includes(name)) return;
  const started = Date.now();
  try {
    await body();
  } finally {
    await page.screenshot({ path: join(artifacts, `${String(stepNumber).padStart(2, '0')}-${name}.png`), fullPage: true });
  }
  if (consoleErrors.length > 0) fail(`${name}: console errors: ${consoleErrors.join(" | ")}; HTTP: ${httpErrors.join(" | ")}`);
  if (httpErrors.length > 0) fail(`${name}: HTTP errors: ${httpErrors.join(' | ')}`);
  console.log(`gui step ok: ${name} (${Date.now() - started} ms)`);
}

async function openTab(name) {
  const tab = page.getByRole('tab', { name, exact: true });
  await tab.click();
  await page.waitForFunction((element) => element.getAttribute('aria-selected') === 'true', await tab.elementHandle());
}

// The keys of the images of one endpoint shown in the history, e.g. "txt2img".
async function historyImages(kind) {
  return page.locator(`img[src*="/output/${kind}_"]`).evaluateAll((images) =>
    images.filter((i) => i.complete && i.naturalWidth > 0).map((i) => decodeURIComponent(new URL(i.src).pathname.split('/').pop())));
}

// Clicks Generate on the current tab, waits for the job's request and for its first output image
// to appear in the history, decoded by the browser. Returns the server's response body.
async function generateAndWait(kind) {
  const before = new Set(await historyImages(kind));
  const responsePromise = page.waitForResponse((r) => r.url().includes(`/api/${kind}?`) && r.request().method() === 'POST');
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  const response = await responsePromise;
  if (response.status() !== 200) fail(`${kind}: the server answered ${response.status()}: ${await response.text()}`);
  const job = await response.json();
  const key = job.outputs[0];
  await page.waitForFunction(([k, known]) => {
    const images = [...document.querySelectorAll(`img[src*="/output/${k.split('_')[0]}_"]`)];
    return images.some((i) => i.complete && i.naturalWidth > 0 && i.src.includes(k) && !known.includes(k));
  }, [key, [...before]], { timeout: JOB_TIMEOUT, polling: 250 });
  return job;
}

async function setNumber(label, value) {
  const field = page.getByLabel(label, { exact: true }).first();
  await field.fill(String(value));
  await field.blur();
}

async function uploadSource(png, name) {
  // ImageInput: a button-like <label> holding a hidden <input type=file>.
  await page.locator('label:has-text("Source") input[type=file]').first().setInputFiles({ name, mimeType: 'image/png', buffer: png });
  // img2img previews the image; inpaint draws it behind the mask canvas.
  await page.waitForFunction(() => document.querySelector('img[src^="blob:"]') !== null
    || [...document.querySelectorAll('canvas')].some((c) => c.style.backgroundImage.includes('blob:')));
}

async function chooseOption(label, text) {
  await page.getByLabel(label, { exact: true }).first().click();
  await page.getByRole('option').filter({ hasText: text }).first().click();
}

const results = {};
let sourcePng;

await step('load', async () => {
  await page.goto(`${base}/?token=${encodeURIComponent(token)}`, { waitUntil: 'networkidle' });
  await page.getByRole('button', { name: 'Generate', exact: true }).waitFor({ state: 'visible', timeout: 30_000 });
  await page.waitForLoadState('networkidle');
});

await step('txt2img', async () => {
  await openTab('txt2img');
  await setNumber('Steps', 4);
  const job = await generateAndWait('txt2img');
  results.txt2img = job.outputs;
  const fetched = await page.request.get(`${base}/output/${job.outputs[0]}`);
  if (fetched.status() !== 200) fail(`txt2img output ${job.outputs[0]}: ${fetched.status()}`);
  sourcePng = await fetched.body();
  writeFileSync(join(artifacts, 'source.png'), sourcePng);
});

await step('img2img', async () => {
  if (!sourcePng) fail('img2img needs the txt2img output');
  await openTab('img2img');
  await setNumber('Steps', 4);
  await uploadSource(sourcePng, 'source.png');
  // The server answers 400 without a source upload, so an image in the history means it came.
  const job = await generateAndWait('img2img');
  results.img2img = job.outputs;
});

await step('inpaint', async () => {
  if (!sourcePng) fail('inpaint needs the txt2img output');
  await openTab('inpaint');
  await chooseOption('Diffusion Model', 'Tiny Inpaint'); // diffusion-tiny-inpaint's readable label
  await setNumber('Steps', 4);
  await uploadSource(sourcePng, 'source.png');
  // Paint a stroke on the visible mask canvas, as a user would with the mouse.
  const canvas = page.locator('canvas:visible').first();
  const box = await canvas.boundingBox();
  if (!box) fail('inpaint: no visible mask canvas');
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.3);
  await page.mouse.down();
  for (let i = 0; i <= 20; i += 1) {
    await page.mouse.move(box.x + box.width * (0.3 + 0.02 * i), box.y + box.height * (0.3 + 0.015 * i));
  }
  await page.mouse.up();
  const generate = page.getByRole('button', { name: 'Generate', exact: true });
  await page.waitForFunction(() => {
    const button = [...document.querySelectorAll('button')].find((b) => b.textContent.trim() === 'Generate');
    return button && !button.disabled;
  }, null, { timeout: 15_000 });
  if (await generate.isDisabled()) fail('inpaint: Generate stays disabled after painting a mask');
  // No mask file was chosen: the server answers 400 without a mask, so the painted one came.
  const job = await generateAndWait('inpaint');
  results.inpaint = job.outputs;
});

await step('upscale', async () => {
  if (!sourcePng) fail('upscale needs the txt2img output');
  await openTab('upscale');
  await chooseOption('Upscaling Model', 'Tiny X2'); // upscaling-tiny-x2's readable label
  await page.getByRole('checkbox', { name: 'Upscale', exact: true }).check();
  // The Upscale row's Scale and Outscale: the only enabled ones (Highres and Face Correction are off).
  for (const label of ['Scale', 'Outscale']) {
    const field = page.locator('input:enabled').and(page.getByLabel(label, { exact: true })).first();
    await field.fill('2');
    await field.blur();
  }
  await uploadSource(sourcePng, 'source.png');
  const job = await generateAndWait('upscale');
  results.upscale = job.outputs;
});

await step('blend', async () => {
  if (!sourcePng) fail('blend needs the txt2img output');
  await openTab('blend');
  const inputs = page.locator('label:has-text("Source") input[type=file]');
  await inputs.nth(0).setInputFiles({ name: 'a.png', mimeType: 'image/png', buffer: sourcePng });
  await inputs.nth(1).setInputFiles({ name: 'b.png', mimeType: 'image/png', buffer: sourcePng });
  const canvas = page.locator('canvas:visible').first();
  const box = await canvas.boundingBox();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.8, { steps: 20 });
  await page.mouse.up();
  const job = await generateAndWait('blend');
  results.blend = job.outputs;
});

await step('cancel', async () => {
  await openTab('txt2img');
  await setNumber('Steps', 300);
  const responsePromise = page.waitForResponse((r) => r.url().includes('/api/txt2img?') && r.request().method() === 'POST');
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  const job = await (await responsePromise).json();
  const key = job.outputs[0];
  const cancelRequest = page.waitForRequest((r) => r.url().includes('/api/cancel') && r.method() === 'PUT', { timeout: 30_000 });
  await page.getByRole('button', { name: 'Cancel', exact: true }).first().click({ timeout: 30_000 });
  const sent = await cancelRequest;
  if (!decodeURIComponent(sent.url()).includes(key)) fail(`cancel: the GUI cancelled ${sent.url()}, not ${key}`);
  // The server reports the job cancelled; it never finishes its 300 steps.
  let ready;
  for (let i = 0; i < 120; i += 1) {
    ready = await (await page.request.get(`${base}/api/ready?output=${encodeURIComponent(key)}`)).json();
    if (ready.ready) break;
    await page.waitForTimeout(250);
  }
  if (!ready.ready || !ready.cancelled) fail(`cancel: ready says ${JSON.stringify(ready)}`);
  if (ready.progress >= 300) fail('cancel: the job ran to the end');
  results.cancelled = key;
  await setNumber('Steps', 4);
});

await step('models', async () => {
  // The model menu of the txt2img tab lists the folder's diffusion models ...
  await openTab('txt2img');
  await page.getByRole('button', { name: 'Generate', exact: true }).waitFor();
  await page.getByLabel('Diffusion Model', { exact: true }).first().click();
  const options = await page.getByRole('option').allInnerTexts();
  await page.keyboard.press('Escape');
  // Models the extras file does not label show a readable label made from the folder name.
  for (const expected of ['Tiny Int64', 'Tiny Inpaint']) {
    if (!options.some((o) => o.includes(expected))) fail(`models: the model menu lacks ${expected}: ${options.join(', ')}`);
  }
  // ... the extras label stands for diffusion-tiny-demo ...
  if (!options.some((o) => o.includes('Tiny demo'))) fail(`models: the model menu lacks the extras label: ${options.join(', ')}`);
  // ... and the Models tab shows the extras file, read with the admin token.
  await openTab('models');
  await page.getByText('Diffusion Models', { exact: false }).first().click();
  // An editable row per extras entry: label and source.
  await page.locator('input[value="Tiny demo (random weights)"]').first().waitFor({ state: 'visible', timeout: 15_000 });
  await page.locator('input[value="generated"]').first().waitFor({ state: 'visible' });
  results.models = options;
});

await step('restart', async () => {
  // The "Restart Workers" button of the model menus calls the admin route with the page's token.
  await openTab('txt2img');
  const responsePromise = page.waitForResponse((r) => r.url().includes('/api/restart') && r.request().method() === 'POST');
  await page.getByRole('button', { name: 'Restart Workers', exact: true }).click();
  const response = await responsePromise;
  if (response.status() !== 200) fail(`restart: ${response.status()} ${await response.text()}`);
  const status = await response.json();
  if (!Array.isArray(status.total)) fail(`restart: not a status: ${JSON.stringify(status)}`);
  // Models load again for the next job.
  const job = await generateAndWait('txt2img');
  results.afterRestart = job.outputs;
});

console.log(`gui results: ${JSON.stringify(results)}`);
await browser.close();

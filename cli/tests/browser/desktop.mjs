// Debian's Chromium, driven by Playwright, uses pbx's agent desktop like an
// agent would: it logs in with SIP credentials, registers over SIP over
// WebSocket, and places or answers calls with the page's buttons. Its
// microphone is a WAV file (fake media devices); what it hears is measured
// with WebAudio on the page's remote <audio> stream. Run by
// cli/tests/browser.rs, which starts pbx and the `pbx phone` peers and reads
// the one JSON line this prints at the end.
//
//   node desktop.mjs SCENARIO
//   env: PBX_HTTP (http://127.0.0.1:PORT), PBX_USER, PBX_PASSWORD, PBX_MIC_WAV,
//        PBX_SHOTS (screenshot directory), PBX_CHROMIUM (default /usr/bin/chromium),
//        PBX_NUMBER (what to dial), PBX_HEAR_HZ (the tone the browser should hear),
//        PBX_DIGITS (DTMF to press once connected), PBX_TRANSFER (blind transfer target),
//        PBX_WS_URL (the SIP WebSocket URL to type in, e.g. a wss: one),
//        PBX_HOLD (hold and resume once connected, then listen again)
// Scenarios: call (dial PBX_NUMBER), answer (wait for a call and answer it),
//            agent (log in to queues, become available, answer the queue call).
import { chromium } from 'playwright-core';

const env = process.env;
const scenario = process.argv[2];
const shots = env.PBX_SHOTS || '.';
const result = { scenario, steps: [] };
const step = (s) => { result.steps.push(s); console.error(`[desktop] ${s}`); };

const browser = await chromium.launch({
  executablePath: env.PBX_CHROMIUM || '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    `--use-file-for-fake-audio-capture=${env.PBX_MIC_WAV}`,
    '--autoplay-policy=no-user-gesture-required',
    // the tests' WSS listener has a self-signed certificate
    '--ignore-certificate-errors',
  ],
});

async function text(page, sel) { return (await page.textContent(sel)).trim(); }

async function waitText(page, sel, want, timeout = 15000) {
  await page.waitForFunction(
    ({ sel, want }) => document.querySelector(sel).textContent.trim().startsWith(want),
    { sel, want },
    { timeout },
  ).catch(async (e) => {
    throw new Error(`${sel} never showed "${want}" (shows "${await text(page, sel)}"): ${e.message}`);
  });
}

// The remote stream's spectrum over `ms`: the peak frequency and the share of
// the 100–4000 Hz power within ±60 Hz of `hz`.
async function hear(page, hz, ms = 2000) {
  return page.evaluate(async ({ hz, ms }) => {
    const stream = document.getElementById('remote-audio').srcObject;
    if (!stream) return { peakHz: 0, share: 0, frames: 0, error: 'no remote stream' };
    const ctx = new AudioContext();
    await ctx.resume();
    const an = ctx.createAnalyser();
    an.fftSize = 8192;
    ctx.createMediaStreamSource(stream).connect(an);
    const bins = new Float32Array(an.frequencyBinCount);
    const acc = new Float64Array(an.frequencyBinCount);
    const t0 = performance.now();
    let frames = 0;
    while (performance.now() - t0 < ms) {
      await new Promise((r) => setTimeout(r, 50));
      an.getFloatFrequencyData(bins);
      for (let i = 0; i < bins.length; i++) if (Number.isFinite(bins[i])) acc[i] += 10 ** (bins[i] / 10);
      frames++;
    }
    const binHz = ctx.sampleRate / an.fftSize;
    let peak = 1; let near = 0; let total = 0;
    for (let i = 1; i < acc.length; i++) {
      const f = i * binHz;
      if (f < 100 || f > 4000) continue;
      if (acc[i] > acc[peak]) peak = i;
      total += acc[i];
      if (Math.abs(f - hz) <= 60) near += acc[i];
    }
    await ctx.close();
    return { peakHz: Math.round(peak * binHz), share: total ? near / total : 0, frames };
  }, { hz, ms });
}

async function connected(page) {
  await waitText(page, '#call-state', 'connected');
  step('connected');
  if (env.PBX_HEAR_HZ) {
    // let the jitter buffers fill before listening
    await page.waitForTimeout(500);
    result.heard = await hear(page, Number(env.PBX_HEAR_HZ));
    step(`heard peak ${result.heard.peakHz} Hz, share ${result.heard.share.toFixed(3)}`);
  }
  await page.waitForTimeout(300);
  result.quality = {
    codec: await text(page, '#q-codec'),
    packets: await text(page, '#q-packets'),
    rtt: await text(page, '#q-rtt'),
  };
  await page.screenshot({ path: `${shots}/${scenario}-connected.png`, fullPage: true });
  if (env.PBX_HOLD) {
    await page.click('#hold');
    await waitText(page, '#call-state', 'on hold');
    step('on hold');
    await page.screenshot({ path: `${shots}/${scenario}-on-hold.png`, fullPage: true });
    await page.waitForTimeout(1000);
    step(`after a second on hold: ${await text(page, '#call-state')}`);
    await page.click('#hold');
    await waitText(page, '#call-state', 'connected');
    step('resumed');
    if (env.PBX_HEAR_HZ) {
      await page.waitForTimeout(500);
      result.heardAfterHold = await hear(page, Number(env.PBX_HEAR_HZ));
      step(`heard after hold: peak ${result.heardAfterHold.peakHz} Hz`);
    }
  }
  for (const d of env.PBX_DIGITS || '') {
    await page.click(`#keypad button[data-key="${d}"]`);
    step(`pressed ${d}`);
    await page.waitForTimeout(400);
  }
  if (env.PBX_TRANSFER) {
    await page.fill('#transfer-to', env.PBX_TRANSFER);
    await page.click('#transfer');
    step(`transferring to ${env.PBX_TRANSFER}`);
    await page.waitForTimeout(2000);
    step(`transfer: ${await text(page, '#phone-error')} / call ${await text(page, '#call-state')}`);
  }
}

try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (m) => console.error(`[page] ${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => { console.error(`[page] error: ${e.message}`); result.pageErrors = (result.pageErrors || 0) + 1; });
  await page.goto(`${env.PBX_HTTP}/desktop/`);
  await page.waitForFunction(() => document.getElementById('ws-url').value !== '');
  await page.screenshot({ path: `${shots}/${scenario}-login.png` });
  await page.fill('#user', env.PBX_USER);
  await page.fill('#password', env.PBX_PASSWORD);
  if (env.PBX_WS_URL) {
    await page.click('#login-form summary');
    await page.fill('#ws-url', env.PBX_WS_URL);
  }
  await page.click('#login-form button[type=submit]');
  await waitText(page, '#reg-state', 'registered');
  step('registered');
  result.registered = true;
  await page.screenshot({ path: `${shots}/${scenario}-desk.png`, fullPage: true });

  if (scenario === 'call') {
    await page.fill('#number', env.PBX_NUMBER);
    await page.click('#call');
    step(`dialed ${env.PBX_NUMBER}`);
    await connected(page);
  } else if (scenario === 'answer' || scenario === 'agent') {
    if (scenario === 'agent') {
      await page.click('#state-login');
      await waitText(page, '#agent-state', 'available');
      step('agent available');
      result.agentState = await text(page, '#agent-state');
      await page.screenshot({ path: `${shots}/${scenario}-available.png`, fullPage: true });
      // the caller may dial now
      console.log(JSON.stringify({ ready: true }));
    }
    await waitText(page, '#call-state', 'ringing', 30000);
    step(`ringing from ${await text(page, '#call-peer')}`);
    if (scenario === 'agent') {
      await page.waitForSelector('#pop-fields dd[data-field="Skill group"]', { timeout: 10000 });
      result.pop = Object.fromEntries(await page.$$eval('#pop-fields dd', (dds) => dds.map((d) => [d.dataset.field, d.textContent])));
      step(`pop ${JSON.stringify(result.pop)}`);
    }
    await page.screenshot({ path: `${shots}/${scenario}-ringing.png`, fullPage: true });
    await page.click('#answer');
    await connected(page);
  } else {
    throw new Error(`unknown scenario ${scenario}`);
  }
  // the call ends from the other side, or here after the checks
  if (!env.PBX_TRANSFER) {
    const ended = await waitText(page, '#call-state', 'ended', Number(env.PBX_WAIT_END_MS || 1)).then(() => true, () => false);
    if (!ended) {
      await page.click('#hangup');
      step('hung up');
      await waitText(page, '#call-state', 'ended');
    }
  } else {
    await waitText(page, '#call-state', 'ended', 15000);
  }
  result.endState = await text(page, '#call-state');
  await page.screenshot({ path: `${shots}/${scenario}-ended.png`, fullPage: true });
  await page.click('#logout');
  result.ok = true;
} catch (e) {
  result.ok = false;
  result.error = String(e && e.stack ? e.stack : e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);

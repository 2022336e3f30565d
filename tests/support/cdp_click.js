// Drives a headless Chromium through the DevTools protocol (no puppeteer): opens a page, waits
// until a selector is on it, clicks it with real mouse events at its position, and waits until a
// second selector appears. Prints the page's DOM at the end.
// Usage: node --experimental-websocket cdp_click.js DEVTOOLS_PORT URL CLICK_SELECTOR WAIT_SELECTOR
"use strict";
const [port, url, clickSelector, waitSelector] = process.argv.slice(2);

async function main() {
  const target = await (await fetch(`http://127.0.0.1:${port}/json/new?${encodeURIComponent(url)}`, { method: "PUT" })).json();
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  let next = 1;
  const pending = new Map();
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.id && pending.has(msg.id)) {
      const { resolve, reject } = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) reject(new Error(JSON.stringify(msg.error)));
      else resolve(msg.result);
    }
  };
  const send = (method, params = {}) => new Promise((resolve, reject) => {
    const id = next++;
    pending.set(id, { resolve, reject });
    ws.send(JSON.stringify({ id, method, params }));
  });
  const evaluate = async (expression) => (await send("Runtime.evaluate", { expression, returnByValue: true })).result.value;
  const waitFor = async (selector) => {
    for (let i = 0; i < 300; ++i) {
      if (await evaluate(`!!document.querySelector(${JSON.stringify(selector)})`)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("timed out waiting for " + selector);
  };
  await send("Runtime.enable");
  await waitFor(clickSelector);
  const box = await evaluate(`(() => { const r = document.querySelector(${JSON.stringify(clickSelector)}).getBoundingClientRect();
                                       return { x: r.left + r.width / 2, y: r.top + r.height / 2 }; })()`);
  for (const type of ["mouseMoved", "mousePressed", "mouseReleased"])
    await send("Input.dispatchMouseEvent", { type, x: box.x, y: box.y, button: "left", clickCount: 1 });
  await waitFor(waitSelector);
  console.log(await evaluate("document.documentElement.outerHTML"));
  ws.close();
}

main().then(() => process.exit(0), (e) => { console.error(String(e && e.stack || e)); process.exit(1); });

// outboundIQ Relay console: the little the live parts need. No framework, no build step.
"use strict";

// Parts of a page that refresh themselves: <div data-refresh="URL" data-every="SECONDS">.
function refreshing(node) {
  const url = node.dataset.refresh;
  const every = Math.max(1, Number(node.dataset.every || "5")) * 1000;
  async function tick() {
    if (!document.hidden) {
      try {
        const reply = await fetch(url, { credentials: "same-origin", headers: { "accept": "text/html" } });
        if (reply.ok && !reply.redirected) {
          node.innerHTML = await reply.text();
          node.dataset.refreshed = String(Date.now());
        }
      } catch (err) { /* the relay is restarting: try again next tick */ }
    }
    setTimeout(tick, every);
  }
  setTimeout(tick, every);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-refresh]").forEach(refreshing);
  if (typeof window.relayConsolePage === "function") window.relayConsolePage();
});

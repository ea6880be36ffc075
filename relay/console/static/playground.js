// The mapping playground: re-run the form as you type (the result parts swapped in place,
// the textareas keep your text), and copy the stanza. The page works without this script.
"use strict";

(function () {
  const DELAY_MS = 400;

  function live(form) {
    const url = form.dataset.resultUrl;
    const said = document.getElementById("pg-live");
    let timer = null;
    let sequence = 0;
    let pending = null;

    async function run() {
      const mine = ++sequence;
      if (pending) pending.abort();
      pending = new AbortController();
      const data = new URLSearchParams(new FormData(form));
      const csrf = form.querySelector("input[name=csrf]").value;
      if (said) said.textContent = "running…";
      try {
        const reply = await fetch(url, {
          method: "POST",
          credentials: "same-origin",
          headers: { "x-csrf-token": csrf, "accept": "text/html" },
          body: data,
          signal: pending.signal,
        });
        if (mine !== sequence) return;  // a newer run is on its way
        if (!reply.ok || reply.redirected) {
          if (said) said.textContent = "could not run (" + reply.status + "): press Try";
          return;
        }
        const parts = document.createElement("template");
        parts.innerHTML = await reply.text();
        parts.content.querySelectorAll("[data-swap][id]").forEach((part) => {
          const here = document.getElementById(part.id);
          if (here) here.replaceWith(part);
        });
        form.dataset.ran = String(mine);
        if (said) said.textContent = "";
        copying();
      } catch (err) {
        if (err.name !== "AbortError" && said) said.textContent = "could not run: press Try";
      }
    }

    function soon() {
      if (timer) clearTimeout(timer);
      timer = setTimeout(run, DELAY_MS);
    }

    form.addEventListener("input", soon);
    form.addEventListener("change", soon);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (timer) clearTimeout(timer);
      run();
    });
  }

  function copying() {
    document.querySelectorAll("button[data-copy]").forEach((button) => {
      button.hidden = false;
      if (button.dataset.ready) return;
      button.dataset.ready = "1";
      button.addEventListener("click", async () => {
        const text = document.getElementById(button.dataset.copy);
        const said = button.parentElement.querySelector("[data-copy-said]");
        if (!text) return;
        try {
          await navigator.clipboard.writeText(text.textContent);
          if (said) said.textContent = "Copied.";
        } catch (err) {  // no clipboard (plain http): select it for Ctrl+C
          const range = document.createRange();
          range.selectNodeContents(text);
          const selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
          text.focus();
          if (said) said.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const pick = document.getElementById("pg-source");
    if (pick) pick.addEventListener("change", () => pick.form.submit());
    const form = document.getElementById("pg-form");
    if (form) live(form);
    copying();
  });
})();

// Rejected and Dead letters: a "select all" box for the listed records.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const all = document.getElementById("select-all");
  const form = document.getElementById("store-records");
  if (!all || !form) return;
  const boxes = () => Array.from(form.querySelectorAll('input[type="checkbox"][name="id"]'));
  all.hidden = boxes().length === 0;
  all.addEventListener("change", () => {
    boxes().forEach((box) => { box.checked = all.checked; });
  });
  form.addEventListener("change", (event) => {
    if (event.target === all) return;
    const list = boxes();
    all.checked = list.length > 0 && list.every((box) => box.checked);
  });
});

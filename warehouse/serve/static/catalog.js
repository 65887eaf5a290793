// The catalog page's search: show the columns whose own or whose table's names, Chinese
// labels or descriptions contain every word typed, and the tables holding them.
// No network, no framework.
(function () {
  "use strict";
  const input = document.getElementById("search");
  const count = document.getElementById("match-count");
  const sections = Array.from(document.querySelectorAll("section.table"));
  const toc = new Map(
    Array.from(document.querySelectorAll("#toc li")).map((li) => [li.dataset.table, li])
  );

  function matches(text, words) {
    return words.every((w) => text.includes(w));
  }

  function apply() {
    const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    let tables = 0;
    let columns = 0;
    for (const section of sections) {
      const rows = Array.from(section.querySelectorAll("tbody tr.column"));
      let shown = 0;
      for (const row of rows) {
        // A word may name the table ("mart.alerts") and another the column ("subject").
        const show = matches(`${section.dataset.search} ${row.dataset.search}`, words);
        row.classList.toggle("hidden", !show);
        const below = lineageRow(row);
        if (below) below.classList.toggle("hidden", !show);
        if (show) shown += 1;
      }
      const visible = shown > 0;
      section.classList.toggle("hidden", !visible);
      const item = toc.get(section.id.slice(2));
      if (item) item.classList.toggle("hidden", !visible);
      if (visible) {
        tables += 1;
        columns += shown;
      }
    }
    count.textContent = words.length
      ? `${tables} table(s), ${columns} column(s) match`
      : `${sections.length} tables`;
    const url = new URL(window.location.href);
    if (words.length) url.searchParams.set("q", input.value);
    else url.searchParams.delete("q");
    window.history.replaceState(null, "", url);
  }

  function lineageRow(row) {
    const next = row.nextElementSibling;
    return next && next.classList.contains("lineage-row") ? next : null;
  }

  function show(row, open) {
    const below = lineageRow(row);
    const button = row.querySelector("button.toggle");
    if (!below || !button) return;
    below.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    button.textContent = button.textContent.replace(/[▸▾]$/, open ? "▾" : "▸");
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button.toggle");
    if (!button) return;
    const row = button.closest("tr");
    show(row, button.getAttribute("aria-expanded") !== "true");
  });

  input.value = new URLSearchParams(window.location.search).get("q") || "";
  input.addEventListener("input", apply);
  apply();
  // A link to a column (#c-mart.alerts.subject_code) opens its lineage.
  if (window.location.hash.startsWith("#c-")) {
    const row = document.getElementById(decodeURIComponent(window.location.hash.slice(1)));
    if (row) show(row, true);
  }
})();

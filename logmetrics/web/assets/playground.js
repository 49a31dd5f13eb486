// The playground page: posts the program and the sample as they change, shows what comes back.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const token = document.querySelector('meta[name="playground-token"]').content;
  const program = $("program"), sample = $("sample");
  let selected = null, timer = null, generation = 0;

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function lineCount(text) { return Math.max(1, text.split("\n").length); }

  function gutter(area, box, errors) {
    const n = lineCount(area.value);
    area.rows = n + 1;
    box.textContent = "";
    for (let i = 1; i <= n; i++) {
      const span = el("span", errors && errors.has(i) ? "err" : "", String(i));
      if (errors && errors.has(i)) span.title = errors.get(i);
      box.appendChild(span);
      box.appendChild(document.createTextNode("\n"));
    }
  }

  function sampleLines() {
    const lines = sample.value.split("\n");
    if (lines.length && lines[lines.length - 1] === "") lines.pop();
    return lines;
  }

  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", "X-Playground-Token": token },
    });
    const data = await response.json();
    if (!response.ok && !data.message) data.message = response.status + " " + response.statusText;
    return data;
  }

  function goTo(line, col) {
    const rows = program.value.split("\n");
    let offset = 0;
    for (let i = 0; i < line - 1 && i < rows.length; i++) offset += rows[i].length + 1;
    offset += Math.max(0, (col || 1) - 1);
    program.focus();
    program.setSelectionRange(offset, offset);
  }

  function showErrors(errors) {
    const list = $("errors"), marks = new Map();
    list.textContent = "";
    for (const e of errors) {
      const item = el("li", "", e.in_program ? `${e.line}:${e.col}: ${e.message}` : e.text);
      item.dataset.line = e.line;
      if (e.in_program) {
        marks.set(e.line, e.message);
        item.addEventListener("click", () => goTo(e.line, e.col));
      }
      list.appendChild(item);
    }
    gutter(program, $("program-gutter"), marks);
  }

  function siteLabel(result, index) {
    const site = result.sites[index];
    return site ? ":" + site.line : "";
  }

  function showTrace(result) {
    const list = $("trace"), lines = sampleLines();
    list.textContent = "";
    result.lines.forEach((entry, i) => {
      const item = el("li", entry.e ? "err" : entry.m ? "hit" : "miss");
      item.dataset.line = i;
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", String(i === selected));
      const mark = entry.e ? "error" : entry.m ? "✓ " + entry.s.map((s) => siteLabel(result, s)).join(" ") : "—";
      item.append(el("span", "no", String(i + 1)), el("span", "mark", mark), el("span", "text", lines[i] || ""));
      item.addEventListener("click", () => choose(i));
      list.appendChild(item);
    });
    const stopped = result.stopped ? ` (stopped after ${result.lines.length} lines: time budget)` : "";
    $("trace-status").textContent = `${result.matched} of ${result.total} matched${stopped}`;
    const dead = result.sites.filter((s) => s.matched === 0).length;
    $("sites-status").textContent = `${result.sites.length} pattern sites` + (dead ? `, ${dead} never matched` : "");
  }

  function showDetail(result) {
    const box = $("detail"), detail = result.detail;
    box.textContent = "";
    if (!detail) {
      box.appendChild(el("p", "help", "Choose a line to see which pattern matched it and what it captured."));
      return;
    }
    box.appendChild(el("p", "sub", `Line ${detail.line + 1}: ` + (detail.sites.length ? "" : "no pattern matched")));
    if (detail.error) box.appendChild(el("code", "error", detail.error));
    for (const site of detail.sites) {
      const head = el("h4", "", site.where.split("/").pop() + " matched");
      head.title = site.where;
      box.append(head, el("code", "site-text", site.text));
      if (site.captures === null) {
        box.appendChild(el("p", "sub", "Matched against an expression, not the line: captures not shown."));
        continue;
      }
      if (!site.captures.length) continue;
      const table = el("table", "caps");
      const header = el("tr");
      for (const h of ["capture", "text", "value"]) header.appendChild(el("th", "", h));
      table.appendChild(header);
      for (const c of site.captures) {
        const row = el("tr");
        row.dataset.capture = c.name;
        const value = c.text === null ? "(unset)" : c.type === "string" ? "string" : `${c.type} ${c.value}`;
        row.append(el("td", "mono", "$" + c.name), el("td", "mono", c.text === null ? "" : c.text), el("td", "", value));
        table.appendChild(row);
      }
      box.appendChild(table);
    }
  }

  async function refresh() {
    const mine = ++generation;
    gutter(sample, $("sample-gutter"));
    $("sample-status").textContent = `${sampleLines().length} lines`;
    let result;
    try {
      result = await post("/api/run", { program: program.value, sample: sample.value, explain: selected });
    } catch (err) {
      $("compile-status").textContent = "cannot reach the playground: " + err;
      $("compile-status").className = "sub status-line bad";
      return;
    }
    if (mine !== generation) return;  // a newer edit is on its way
    const status = $("compile-status");
    if (!result.ok) {
      const count = result.errors ? result.errors.length : 0;
      status.textContent = result.message || `${count} error${count === 1 ? "" : "s"}`;
      status.className = "sub status-line bad";
      showErrors(result.errors || []);
      return;
    }
    status.textContent = "compiled";
    status.className = "sub status-line ok";
    showErrors([]);
    $("metrics").textContent = result.metrics || "# no metric has a value yet\n";
    showTrace(result);
    showDetail(result);
  }

  function choose(index) {
    selected = index;
    refresh();
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  }

  async function save() {
    const status = $("save-status");
    const body = { program: program.value, sample: sample.value };
    if ($("save-case").checked) body.case = $("case-name").value;
    status.textContent = "saving…";
    status.className = "status-line";
    const result = await post("/api/save", body);
    status.textContent = result.ok ? "saved " + result.saved.join(", ") : result.message;
    status.className = "status-line " + (result.ok ? "ok" : "bad");
  }

  for (const area of [program, sample]) {
    area.addEventListener("input", later);
    area.addEventListener("keydown", (event) => {
      if (event.key === "Tab" && !event.shiftKey && !event.ctrlKey && !event.altKey) {
        event.preventDefault();
        area.setRangeText("  ", area.selectionStart, area.selectionEnd, "end");
        later();
      }
    });
  }
  if ($("save")) $("save").addEventListener("click", save);
  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === "s" && $("save")) {
      event.preventDefault();
      save();
    }
  });
  gutter(program, $("program-gutter"));
  refresh();
})();

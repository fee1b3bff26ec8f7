// mdiff's page: reads the form, asks the local server (POST /api/diff, /api/solve: the
// records `mdiff ... --json` prints) and renders them.  The state lives in the URL's query
// string, so a reload or a shared link recomputes the same result.  User text is only ever
// put into the page as text (textContent), never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);

const EXAMPLES = [
  { label: "tr(A X' B X)", expr: "tr(A*X'*B*X)", wrt: "X" },
  { label: "quadratic form", expr: "x'*A*x", wrt: "x", decls: ["A: matrix(n,n) symmetric"] },
  { label: "Gaussian likelihood (seed article)",
    expr: "D: matrix(p,N); S: matrix(p,p) spd; m: vector(p);\n" +
          "-N/2*logdet(S) - 1/2*tr((D - m*vector(1)')'*inv(S)*(D - m*vector(1)'))",
    wrt: "m S", solve: true },
  { label: "MLP (seed article)",
    expr: "y1 = tanh(W1*x + b1); y2 = tanh(W2*y1 + b2); 1/2*norm2(y2 - y)^2", wrt: "W1 W2" },
  { label: "logistic Hessian", expr: "sum(log(1 + exp(-y .* (X*w))))", wrt: "w", order: "2" },
  { label: "ridge regression", expr: "norm2(A*x - b)^2 + c*norm2(x)^2", wrt: "x", solve: true,
    decls: ["c: scalar positive"] },
  { label: "A X B (Kronecker)", expr: "A*X*B", wrt: "X" },
  { label: "log det", expr: "logdet(X)", wrt: "X", against: "inv(X)" },
  { label: "softmax cross-entropy", expr: "-y'*log(softmax(W*x))", wrt: "W" },
];

const state = { expr: "", wrt: "", decls: [], order: "1", against: "", solve: false };
let inflight = null;

// --- the URL -----------------------------------------------------------------------------

function readUrl() {
  const q = new URLSearchParams(location.search);
  state.expr = q.get("expr") || "";
  state.wrt = q.get("wrt") || "";
  state.decls = q.getAll("d");
  state.order = q.get("order") || "1";
  state.against = q.get("against") || "";
  state.solve = q.get("solve") === "1";
}

function urlOf() {
  const q = new URLSearchParams();
  if (state.expr) q.set("expr", state.expr);
  if (state.wrt) q.set("wrt", state.wrt);
  for (const d of state.decls) q.append("d", d);
  if (state.order !== "1") q.set("order", state.order);
  if (state.against) q.set("against", state.against);
  if (state.solve) q.set("solve", "1");
  const s = q.toString();
  return location.pathname + (s ? "?" + s : "");
}

function toForm() {
  $("expr").value = state.expr;
  $("wrt").value = state.wrt;
  $("order").value = state.order;
  $("against").value = state.against;
}

function fromForm() {
  state.expr = $("expr").value;
  state.wrt = $("wrt").value.trim();
  state.order = $("order").value;
  state.against = $("against").value.trim();
}

// --- helpers -------------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

function tex(latex, display = true) {
  const e = el("div", { class: "math" });
  if (window.katex) {
    try {
      katex.render(latex, e, { displayMode: display, throwOnError: false, trust: false });
      return e;
    } catch (err) { /* shown as text below */ }
  }
  e.textContent = latex;
  return e;
}

async function copyText(text, button) {
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch (err) {             // no clipboard API (or no permission): the old way
    const t = el("textarea", { class: "offscreen" });
    t.value = text;
    t.style.position = "fixed"; t.style.left = "-9999px";
    document.body.append(t);
    t.select();
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    t.remove();
  }
  const old = button.dataset.label || button.textContent;
  button.dataset.label = old;
  button.textContent = ok ? "Copied ✓" : "Copy failed";
  setTimeout(() => { button.textContent = old; }, 1500);
}

function copyButton(getText, cls) {
  const b = el("button", { type: "button", class: "small " + (cls || ""), text: "Copy" });
  b.addEventListener("click", () => copyText(getText(), b));
  return b;
}

function fmt(x) {
  return typeof x === "number" ? x.toExponential(1) : String(x);
}

// --- errors, with the caret under the text they point into ----------------------------------

const ERROR_BOXES = { expr: "expr-error", against: "against-error", declare: "declare-error" };

function clearErrors() {
  $("against-result").textContent = "";
  for (const id of ["error", ...Object.values(ERROR_BOXES)]) {
    $(id).hidden = true;
    $(id).textContent = "";
  }
  $("expr").classList.remove("invalid");
  $("against").classList.remove("invalid");
}

function showError(err, fallbackBox) {
  const box = $(ERROR_BOXES[err.field] || fallbackBox || "error");
  box.textContent = "";
  box.append(el("div", { class: "message", text: `${err.error}: ${err.message}` }));
  if (err.line && err.column && typeof err.text === "string") {
    const lines = err.text.split("\n");
    const src = lines[err.line - 1] || "";
    const pre = el("pre", { class: "caret" });
    pre.append(src + "\n" + " ".repeat(Math.max(0, err.column - 1)));
    pre.append(el("span", { class: "mark", text: "^" }));
    box.append(pre);
    const input = err.field === "expr" ? $("expr") : err.field === "against" ? $("against") : null;
    if (input && input.value === err.text) {
      input.classList.add("invalid");
      let offset = 0;
      for (let i = 0; i < err.line - 1; i++) offset += lines[i].length + 1;
      offset += err.column - 1;
      input.setSelectionRange(offset, Math.min(input.value.length, offset + 1));
    }
  }
  if (err.field === "declare" && typeof err.text === "string") {
    // the declaration that does not read: a button to drop it (and recompute)
    const bad = err.text.replace(/\s+/g, "");
    if (state.decls.some((d) => d.replace(/\s+/g, "") === bad)) {
      box.append(el("button", { type: "button", class: "small remove-declaration",
        text: "Remove this declaration", onclick: () => {
          state.decls = state.decls.filter((d) => d.replace(/\s+/g, "") !== bad);
          compute();
        } }));
    }
  }
  if (box.id === "against-error") $("against-card").hidden = false;
  if (box.id === "declare-error") $("variables-card").hidden = false;
  box.hidden = false;
}

// A request failed: no result of an earlier request stays on screen as if it were this
// one's; the table keeps only the declarations (each with its × to remove it).
function showFailure(err) {
  $("results").textContent = "";
  $("solve-card").hidden = true;
  $("solve-card").textContent = "";
  $("against-result").textContent = "";
  const declared = {};
  for (const d of state.decls) {
    const i = d.indexOf(":");
    declared[(i < 0 ? d : d.slice(0, i)).trim()] = i < 0 ? "" : d.slice(i + 1).trim();
  }
  renderVariables(declared, []);
  showError(err);
}

// --- the server --------------------------------------------------------------------------

async function post(path, body, signal) {
  const r = await fetch(path, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body), signal,
  });
  let data;
  try { data = await r.json(); } catch (e) {
    data = { error: "HTTPError", message: `${r.status} ${r.statusText}` };
  }
  return { status: r.status, data };
}

function names() {
  return state.wrt.split(/[\s,]+/).filter(Boolean);
}

function diffBody(withCheck) {
  const body = { expr: state.expr, wrt: names(), declare: state.decls };
  if (!body.wrt.length) return body;
  if (state.order === "mixed") body.mixed = true;
  else body.order = parseInt(state.order, 10);
  if (state.order === "1" || state.order === "2") body.steps = true;   // gradients, Jacobians, Hessians
  if (withCheck) {
    body.check = true;
    if (state.against) body.against = state.against;
  }
  return body;
}

async function compute() {
  fromForm();
  history.replaceState(null, "", urlOf());
  clearErrors();
  if (inflight) inflight.abort();
  const ctrl = new AbortController();
  inflight = ctrl;
  if (!state.expr.trim()) {
    $("results").textContent = "";
    $("variables-card").hidden = true;
    return;
  }
  $("status").textContent = "computing…";
  try {
    let { status, data } = await post("/api/diff", diffBody(true), ctrl.signal);
    let checkError = null;
    if (status === 400 && data.field === "against") {
      // a formula that does not read: say so under it, and show mdiff's result anyway
      showError(data);
      const body = diffBody(true);
      delete body.against;
      ({ status, data } = await post("/api/diff", body, ctrl.signal));
    }
    if (status === 400 && !data.field && names().length &&
        ["NoDomainPoint", "EvaluationError", "DomainError"].includes(data.error)) {
      // the derivative may exist where no numeric check can be made: show it without one
      checkError = data;
      ({ status, data } = await post("/api/diff", diffBody(false), ctrl.signal));
    }
    if (ctrl.signal.aborted) return;
    if (status !== 200) {
      showFailure(data);
      $("status").textContent = "";
      return;
    }
    render(data, checkError);
    $("status").textContent = "";
    if (state.solve) await solve(ctrl);
    else $("solve-card").hidden = true;
  } catch (err) {
    if (err.name !== "AbortError") {
      showFailure({ error: "ConnectionError", message: "the mdiff server did not answer (" + err.message + ")" });
      $("status").textContent = "";
    }
  }
}

// --- rendering -----------------------------------------------------------------------------

function render(data, checkError) {
  const records = data.results || [data];
  renderVariables(records[0].variables || {}, records[0].assumed || []);
  const out = $("results");
  out.textContent = "";
  if (data.expression !== undefined) {        // no 'wrt': the expression as mdiff reads it
    const card = el("section", { class: "card result parsed" });
    card.append(el("h2", { text: `f is a ${data.kind}` +
      (data.shape.length ? ` (${data.shape.join("×")})` : "") }));
    card.append(el("div", { class: "plainrow" }, el("pre", { class: "plain", text: data.expression })));
    card.append(el("p", { class: "note", text: "Name the variables to differentiate in “with respect to”." }));
    out.append(card);
    $("against-card").hidden = true;
    return;
  }
  for (const rec of records) out.append(renderResult(rec, checkError));
  $("against-card").hidden = false;
  const ag = $("against-result");
  ag.textContent = "";
  for (const rec of records) {
    if (!rec.against) continue;
    const a = rec.against;
    const how = a.equal ? "equal to mdiff's result" : "NOT equal to mdiff's result";
    const detail = Number.isFinite(a.max_abs_difference)
      ? `largest difference ${fmt(a.max_abs_difference)} over ${a.points} random points`
      : `the formula is not finite where mdiff's result is`;
    ag.append(el("p", {},
      el("span", { class: "badge " + (a.equal ? "ok" : "bad"), text: (a.equal ? "✓ " : "✗ ") + how }),
      el("span", { class: "detail", text: (records.length > 1 ? `d/d${rec.wrt}: ` : "") + detail })));
  }
}

function title(rec) {
  const wrt = Array.isArray(rec.wrt) ? [...new Set(rec.wrt)].join(", ") : rec.wrt;
  const what = { gradient: "Gradient", jacobian: "Jacobian", hessian: "Hessian",
                 tensor: `Derivative of order ${rec.order}` }[rec.form] ||
               (rec.form.charAt(0).toUpperCase() + rec.form.slice(1));
  const shape = rec.shape && rec.shape.length ? ` · ${rec.shape.join(" × ")}` : "";
  return `${what} with respect to ${wrt}${shape}`;
}

function renderResult(rec, checkError) {
  const card = el("section", { class: "card result" });
  const head = el("div", { class: "result-head" }, el("h2", { text: title(rec) }));
  if (rec.check) {
    const c = rec.check;
    head.append(el("span", {},
      el("span", { class: "badge check " + (c.ok ? "ok" : "bad"),
                   text: c.ok ? "✓ numerically checked" : "✗ numeric check failed" }),
      el("span", { class: "detail",
                   text: `max rel. error ${fmt(c.max_rel_error)}, ${c.points} random points` })));
  } else if (checkError) {
    head.append(el("span", { class: "badge info", text: "not checked: " + checkError.message }));
  }
  card.append(head);
  card.append(tex(rec.latex));
  const plain = rec.result;
  card.append(el("div", { class: "plainrow" }, el("pre", { class: "plain", text: plain }),
                 copyButton(() => plain, "copy-result")));
  if (rec.assumed && rec.assumed.length) {
    card.append(el("p", { class: "note", text: "assumed " + rec.assumed.join(", ") +
      " (declare otherwise in the table above)" }));
  }
  card.append(el("h3", { text: "Kronecker form  d vec(F) / d vec(X)ᵀ" }));
  card.append(el("pre", { class: "kron", text: rec.kron }));
  if (rec.steps) card.append(stepsBox(rec.steps));
  if (rec.code) {
    const det = el("details", { class: "code-box" }, el("summary", { text: "Python code (NumPy, JAX, PyTorch, Dask: the array API)" }));
    det.append(el("div", { class: "plainrow" }, el("pre", { class: "code", text: rec.code }),
                  copyButton(() => rec.code, "copy-code")));
    card.append(det);
  }
  card.append(el("p", { class: "note", text: rec.convention }));
  return card;
}

const PROPERTIES = ["", "symmetric", "spd", "diagonal", "lower", "upper", "positive"];

function declaredNames() {
  return new Map(state.decls.map((d) => [d.split(":")[0].trim(), d]));
}

function renderVariables(variables, assumed) {
  const tbody = $("variables").querySelector("tbody");
  tbody.textContent = "";
  const declared = declaredNames();
  const assumedNames = new Set(assumed.map((a) => a.split(":")[0].trim()));
  for (const [name, spec] of Object.entries(variables)) {
    const m = /^(scalar|vector|matrix)(?:\(([^)]*)\))?\s*(.*)$/.exec(spec) || [null, "matrix", "", ""];
    const kind = el("select", { "aria-label": `kind of ${name}` });
    for (const k of ["scalar", "vector", "matrix"]) kind.append(el("option", { value: k, text: k }));
    kind.value = m[1];
    const size = el("input", { value: m[2] || "", "aria-label": `size of ${name}`, placeholder: "n" });
    size.disabled = m[1] === "scalar";
    const prop = el("select", { "aria-label": `property of ${name}` });
    const props = PROPERTIES.includes(m[3]) ? PROPERTIES : [...PROPERTIES, m[3]];
    for (const p of props) prop.append(el("option", { value: p, text: p || "—" }));
    prop.value = m[3];
    const row = el("tr", { class: declared.has(name) ? "declared" : assumedNames.has(name) ? "assumed" : "" },
      el("td", { class: "name", text: name }), el("td", {}, kind), el("td", {}, size), el("td", {}, prop));
    const declare = () => {
      const k = kind.value;
      const dims = size.value.trim() || (k === "vector" ? "n" : k === "matrix" ? "m,n" : "");
      const text = `${name}: ${k}${k === "scalar" ? "" : `(${dims})`}${prop.value ? " " + prop.value : ""}`;
      state.decls = [...state.decls.filter((d) => d.split(":")[0].trim() !== name), text];
      compute();
    };
    kind.addEventListener("change", declare);
    prop.addEventListener("change", declare);
    size.addEventListener("change", declare);
    const cell = el("td");
    if (declared.has(name)) {
      cell.append(el("button", { type: "button", class: "small", title: "forget this declaration", text: "×",
        onclick: () => { state.decls = state.decls.filter((d) => d.split(":")[0].trim() !== name); compute(); } }));
    }
    row.append(cell);
    tbody.append(row);
  }
  $("variables-card").hidden = Object.keys(variables).length === 0;
}

// A derivation: each step's title, its KaTeX, its text as the tooltip.
function stepsBox(steps) {
  const det = el("details", { class: "steps-box" }, el("summary", { text: `Derivation (${steps.length} steps)` }));
  const ol = el("ol", { class: "steps" });
  for (const s of steps) {
    const li = el("li", {}, el("div", { class: "title", text: s.title }));
    const t = tex(s.latex);
    t.className = "steptex";
    t.title = s.text;
    li.append(t);
    ol.append(li);
  }
  det.append(ol);
  return det;
}

// --- solve ----------------------------------------------------------------------------------

async function solve(ctrl) {
  const card = $("solve-card");
  card.hidden = false;
  card.textContent = "";
  card.append(el("h2", { text: "Stationary point  ∇f = 0" }), el("p", { class: "note", text: "solving…" }));
  const body = { expr: state.expr, wrt: names(), declare: state.decls, check: true,
                 classify: true, code: true, steps: true };
  const { status, data } = await post("/api/solve", body, ctrl && ctrl.signal);
  card.textContent = "";
  card.append(el("h2", { text: "Stationary point  ∇f = 0" }));
  if (status !== 200) {
    const box = el("div", { class: "field-error" });
    box.append(el("div", { class: "message", text: `${data.error}: ${data.message}` }));
    card.append(box);
    return;
  }
  card.append(tex(data.latex));
  const text = data.results ? data.results.map((r) => r.solution).join("\n") : data.solution;
  card.append(el("div", { class: "plainrow" }, el("pre", { class: "plain", text }),
                 copyButton(() => text, "copy-solution")));
  const c = data.classify;
  if (c) {
    const counts = Object.entries(c.counts).map(([k, v]) => `${k} at ${v}`).join(", ");
    const n = Object.values(c.counts).reduce((a, b) => a + b, 0);
    const good = ["minimum", "maximum"].includes(c.classification);
    card.append(el("p", {},
      el("span", { class: "badge classification " + (good ? "ok" : "info"), text: c.classification }),
      el("span", { class: "detail", text: counts ? `second-order test: ${counts} of ${n} random data sets` : "" })));
  }
  if (data.check) {
    const ok = data.check.every((r) => r.ok);
    card.append(el("p", {},
      el("span", { class: "badge " + (ok ? "ok" : "bad"), text: ok ? "✓ gradient vanishes there" : "✗ gradient does not vanish" }),
      el("span", { class: "detail", text: `verified ${data.verified || (data.results || []).map((r) => r.verified).join(", ")}, random data` })));
  }
  if (data.note) card.append(el("p", { class: "note", text: data.note }));
  if (data.steps) card.append(stepsBox(data.steps));
  if (data.code) {
    const det = el("details", {}, el("summary", { text: "Python code of the solution" }));
    det.append(el("div", { class: "plainrow" }, el("pre", { class: "code", text: data.code }),
                  copyButton(() => data.code, "copy-solve-code")));
    card.append(det);
  }
}

// --- wiring -----------------------------------------------------------------------------------

function useExample(ex) {
  state.expr = ex.expr;
  state.wrt = ex.wrt;
  state.decls = ex.decls || [];
  state.order = ex.order || "1";
  state.against = ex.against || "";
  state.solve = !!ex.solve;
  toForm();
  compute();
}

function init() {
  const exs = $("examples");
  for (const ex of EXAMPLES) {
    exs.append(el("button", { type: "button", text: ex.label, onclick: () => useExample(ex) }));
  }
  $("form").addEventListener("submit", (e) => { e.preventDefault(); state.solve = false; compute(); });
  $("expr").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); state.solve = false; compute(); }
  });
  $("order").addEventListener("change", () => compute());
  $("solve").addEventListener("click", () => { state.solve = true; compute(); });
  $("against-go").addEventListener("click", () => compute());
  $("against").addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); compute(); }
  });
  $("share").addEventListener("click", (e) => copyText(location.href, e.target));
  readUrl();
  if (!state.expr) {
    useExample(EXAMPLES[0]);
    return;
  }
  toForm();
  compute();
}

document.addEventListener("DOMContentLoaded", init);

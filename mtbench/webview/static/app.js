// MT-bench browser. Untrusted text (answers, judgments, questions, model names) is put on the page with
// textContent, or as the `html` the server rendered with raw HTML off (webview/markup.py: markdown-it,
// links only to http, https and mailto, no images); the page's Content-Security-Policy allows no inline
// script either way.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { meta: null, tab: "single" };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// A piece of untrusted text: {text, html}. Markdown on: the server's safe rendering; off: the raw text.
function rich(piece) {
  if ($("markdown").checked) {
    const div = el("div", { class: "body md" });
    div.innerHTML = piece.html; // rendered by the server with raw HTML off: no scripts, no handlers
    return div;
  }
  return el("pre", { class: "body raw" }, piece.text);
}

function block(kind, label, ...content) {
  return el("div", { class: "block " + kind }, el("div", { class: "label" }, label), ...content);
}

async function api(path, params) {
  const url = path + "?" + new URLSearchParams(params || {}).toString();
  const response = await fetch(url);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function showError(err) {
  const p = $("error");
  p.textContent = err ? String(err.message || err) : "";
  p.hidden = !err;
}

function fill(select, options, keep) {
  const previous = keep === undefined ? select.value : keep;
  select.replaceChildren(...options.map(([value, label]) => el("option", { value: String(value) }, label)));
  if (options.some(([v]) => String(v) === String(previous))) select.value = String(previous);
}

function judgeInfo() {
  return state.meta.judges.find((j) => j.name === $("judge").value) || null;
}

// ---- selectors --------------------------------------------------------------------------------------

function fillQuestions(prefix) {
  const cat = state.meta.categories.find((c) => c.name === $(prefix + "-category").value);
  fill($(prefix + "-question"), (cat ? cat.questions : []).map((q) => [q.id, q.id + ": " + q.preview]));
}

function fillModels(preferJudgedPair) {
  const judge = judgeInfo();
  const pairModels = judge && judge.pair_models.length ? judge.pair_models : state.meta.models;
  const all = state.meta.models.map((m) => [m, m]);
  fill($("single-model"), all);
  const a = $("pair-model-a"), b = $("pair-model-b");
  // Like FastChat's first model vs its baseline: open on a pair this judge actually compared.
  const first = preferJudgedPair && judge && judge.first_pair;
  fill(a, pairModels.map((m) => [m, m]), first ? first[0] : undefined);
  fill(b, pairModels.map((m) => [m, m]), first ? first[1] : undefined);
  if (b.value === a.value && pairModels.length > 1) b.value = pairModels.find((m) => m !== a.value);
  const modes = [];
  if (!judge || judge.single) modes.push(["single", "single-answer grading"]);
  if (judge && judge.pair) modes.push(["pairwise-all", "pairwise, all pairs"], ["pairwise-baseline", "pairwise vs a baseline"]);
  fill($("board-mode"), modes);
  fill($("board-baseline"), pairModels.map((m) => [m, m]));
}

// ---- single tab -------------------------------------------------------------------------------------

function questionBlocks(q, turnIndex) {
  return block("user", "User, turn " + (turnIndex + 1), rich(q.turns[turnIndex]));
}

function referenceBlocks(q) {
  const out = [];
  if (q.reference) {
    const r = q.reference;
    const how = r.judged_with ? "given to the judge" : "not used by the judge for this category";
    out.push(block("reference" + (r.failure ? " failure" : ""), "Reference answer (" + r.set + ", " + how + ")",
      el("div", { class: "muted" }, r.source + ": " + r.why),
      r.failure ? el("div", { class: "failure-reason" }, r.failure) : null,
      ...r.turns.map((t, i) => el("div", { class: "ref-turn", "data-turn": String(i + 1) },
        el("div", { class: "muted" }, "Turn " + (i + 1)), rich(t)))));
  }
  if (q.hints.length) {
    out.push(block("reference", "Reference hints (question file; never shown to the judge)",
      ...q.hints.map((t) => rich(t))));
  }
  return out;
}

function answerBlock(answer, turnIndex) {
  const attrs = { class: "block answer", "data-model": answer.model, "data-turn": String(turnIndex + 1) };
  const node = el("div", attrs, el("div", { class: "label" }, answer.model + ", turn " + (turnIndex + 1)));
  const turn = answer.turns[turnIndex];
  if (answer.failure) node.append(el("div", { class: "failure-reason" }, "Failed answer: " + answer.failure));
  if (turn) node.append(rich(turn));
  else if (!answer.failure) node.append(el("div", { class: "muted" }, "(no text for this turn)"));
  if (answer.failure) node.classList.add("failure");
  return node;
}

function singleJudgment(j) {
  const label = "Judgment, turn " + j.turn + (j.prompt ? " (" + j.prompt + ")" : "");
  if (j.status === "missing") return block("judge missing", label, el("div", { class: "muted" }, "N/A: not judged"));
  // a match judged several times shows every sample's score, whichever sample the block explains
  const spread = j.spread ? el("div", { class: "score" }, "Scores (" + j.samples.length + " samples): " + j.spread + " / 10") : null;
  const head = j.status === "failed"
    ? el("div", { class: "failure-reason" }, "Failed judgment: " + j.failure)
    : spread || el("div", { class: "score" }, "Score: " + j.score + " / 10");
  const parts = j.status === "failed" && spread ? [head, spread] : [head];
  const node = block("judge " + j.status, label, ...parts, rich(j.explanation));
  node.setAttribute("data-turn", String(j.turn));
  if (j.status === "failed") node.classList.add("failure");
  return node;
}

async function renderSingle() {
  const id = $("single-question").value, model = $("single-model").value;
  if (!id || !model) return;
  const params = { id, model };
  if ($("judge").value) params.judge = $("judge").value;
  const data = await api("/api/single", params);
  const parts = [el("h2", {}, "Question " + data.question.id + " (" + data.question.category + ")")];
  data.question.turns.forEach((_, i) => {
    parts.push(questionBlocks(data.question, i), answerBlock(data.answer, i));
    if (data.judgments[i]) parts.push(singleJudgment(data.judgments[i]));
  });
  parts.push(...referenceBlocks(data.question));
  $("single-view").replaceChildren(...parts);
}

// ---- pairwise tab -----------------------------------------------------------------------------------

function verdictText(m) {
  if (m.verdict === "tie") return m.inconsistent ? "Tie (inconsistent: the two games disagree)" : "Tie";
  return "Winner: " + m.verdict;
}

function matchBlock(m) {
  const label = "Judgment, turn " + m.turn + (m.prompt ? " (" + m.prompt + ")" : "");
  if (m.status === "missing") return block("judge missing", label, el("div", { class: "muted" }, "N/A: not judged"));
  const head = m.status === "failed"
    ? el("div", { class: "failure-reason" }, "Failed judgment: " + m.failure)
    : el("div", { class: "verdict" }, verdictText(m));
  const games = el("div", { class: "columns" }, ...m.games.map((g) => el("div", { class: "game", "data-game": String(g.game) },
    el("div", { class: "muted" }, "Game " + g.game + ": A = " + g.assistant_a + ", B = " + g.assistant_b),
    el("div", { class: "game-winner" }, "Game " + g.game + " winner: " + g.winner),
    rich(g.explanation))));
  const node = block("judge " + m.status, label, head, games);
  node.setAttribute("data-turn", String(m.turn));
  if (m.inconsistent) head.classList.add("inconsistent");
  if (m.status === "failed") node.classList.add("failure");
  return node;
}

async function renderPair() {
  const id = $("pair-question").value, a = $("pair-model-a").value, b = $("pair-model-b").value;
  if (!id || !a || !b) return;
  const params = { id, model_a: a, model_b: b };
  if ($("judge").value) params.judge = $("judge").value;
  const data = await api("/api/pair", params);
  const parts = [el("h2", {}, "Question " + data.question.id + " (" + data.question.category + ")")];
  data.question.turns.forEach((_, i) => {
    parts.push(questionBlocks(data.question, i));
    parts.push(el("div", { class: "columns" }, ...data.answers.map((ans) => el("div", {}, answerBlock(ans, i)))));
    if (data.matches[i]) parts.push(matchBlock(data.matches[i]));
  });
  parts.push(...referenceBlocks(data.question));
  $("pair-view").replaceChildren(...parts);
}

// ---- leaderboard ------------------------------------------------------------------------------------

function num(x, digits) {
  return x === null || x === undefined ? "-" : Number.isInteger(x) && digits === 0 ? String(x) : Number(x).toFixed(digits);
}

// partial[i] true: row i stands on fewer than all of the bench's questions (marked, not hidden).
function table(id, header, rows, partial) {
  return el("table", { id },
    el("thead", {}, el("tr", {}, ...header.map((h) => el("th", {}, h)))),
    el("tbody", {}, ...rows.map((r, i) => el("tr", partial && partial[i] ? { class: "partial" } : {},
      ...r.map((c) => el("td", {}, c))))));
}

// show's n_questions (questions with a valid judgment), marked "*" when partial as show marks it
// (show_result PARTIAL_MARK; its note says what the mark means).
function covered(r) {
  return String(r.n_questions) + (r.partial ? "*" : "");
}

function questionsHeader(data) {
  return "questions" + (data.bench_questions ? " (of " + data.bench_questions + ")" : "");
}

async function renderBoard() {
  const judge = $("judge").value, mode = $("board-mode").value;
  $("board-baseline-label").hidden = mode !== "pairwise-baseline";
  if (!judge || !mode) {
    $("board-view").replaceChildren(el("p", { class: "muted" }, "No judgments to rank yet."));
    return;
  }
  const params = { judge, mode };
  if (mode === "pairwise-baseline") params.baseline = $("board-baseline").value;
  const data = await api("/api/leaderboard", params);
  const pct = Math.round(data.bootstrap.confidence * 100) + "% CI";
  const parts = [el("p", { class: "muted" }, "Judge " + judge + ", " + data.judgment_file)];
  // show's warning, above the tables: the judge gave no verdict on more than a tenth of its matches
  if (data.warning) parts.push(el("p", { class: "warning", id: "failure-warning" }, data.warning));
  // show's forced-verdict column (--force-verdict), only for a file that has forced verdicts
  const forced = data.models.length > 0 && data.models[0].n_forced !== undefined;
  const forcedHeader = forced ? ["forced"] : [];
  const forcedCells = (r) => forced ? [num(r.n_forced, 0)] : [];
  // show's --control columns (browse --control), only where the leaderboard has them
  const controlKey = mode === "single" ? "controlled_score" : "controlled_win_rate";
  const controlled = data.models.length > 0 && data.models[0][controlKey] !== undefined;
  const bt = controlled && data.models[0].bt_win_rate !== undefined;
  const digits = mode === "single" ? 2 : 3;
  const controlHeader = controlled ? [...(bt ? ["BT win rate"] : []), "controlled", pct] : [];
  const controlCells = (r) => !controlled ? [] : [...(bt ? [num(r.bt_win_rate, digits)] : []), num(r[controlKey], digits),
    r.controlled_ci === null ? "-" : "[" + num(r.controlled_ci[0], digits) + ", " + num(r.controlled_ci[1], digits) + "]"];
  if (mode === "single") {
    // show's judge-noise columns, only for a file judged several times per match (--judge-samples)
    const noisy = data.samples > 1;
    const noiseHeader = noisy ? ["samples", "noise sd", "noise range", pct + " +noise"] : [];
    const noiseCells = (r) => !noisy ? [] : [num(r.samples, 0), num(r.noise_sd, 3),
      r.noise_min === null ? "-" : num(r.noise_min, 2) + "-" + num(r.noise_max, 2),
      r.ci2_low === null ? "-" : "[" + num(r.ci2_low, 2) + ", " + num(r.ci2_high, 2) + "]"];
    parts.push(el("h2", {}, "Scores"), table("scores", ["model", "turn 1", "turn 2", "score", pct, ...noiseHeader, ...controlHeader, "valid", "failed", ...forcedHeader, questionsHeader(data)],
      data.models.map((r) => [r.model, num(r.first_turn, 2), num(r.second_turn, 2), num(r.overall, 2),
        r.ci_low === null ? "-" : "[" + num(r.ci_low, 2) + ", " + num(r.ci_high, 2) + "]", ...noiseCells(r), ...controlCells(r), num(r.n_valid, 0), num(r.n_failed, 0),
        ...forcedCells(r), covered(r)]), data.models.map((r) => r.partial)));
    if (data.by_category) {
      const models = data.models.map((r) => r.model);
      parts.push(el("h2", {}, "Score by category"), table("by-category", ["category", ...models],
        Object.entries(data.by_category).map(([cat, row]) => [cat, ...models.map((m) => num(row[m], 2))])));
      const img = el("img", { class: "radar", id: "radar", alt: "radar chart of the per-category scores" });
      img.src = "/radar.png?" + new URLSearchParams({ judge }).toString();
      parts.push(el("h2", {}, "Radar"), img);
    }
  } else {
    parts.push(el("h2", {}, data.baseline ? "Against " + data.baseline : "All pairs"),
      table("scores", ["model", "win", "loss", "tie", "error", "win rate", pct, "adjusted win rate", pct, ...controlHeader,
        "consistent", ...forcedHeader, questionsHeader(data)],
        data.models.map((r) => [r.model, num(r.win, 0), num(r.loss, 0), num(r.tie, 0), num(r.n_error, 0),
          num(r.win_rate, 3), "[" + num(r.win_rate_ci_low, 3) + ", " + num(r.win_rate_ci_high, 3) + "]",
          num(r.win_rate_adjusted, 3), "[" + num(r.adjusted_ci_low, 3) + ", " + num(r.adjusted_ci_high, 3) + "]",
          ...controlCells(r), num(r.consistency, 3), ...forcedCells(r), covered(r)]), data.models.map((r) => r.partial)));
    parts.push(el("p", {}, "Position consistency: " + num(data.consistency, 3) + " of " + data.matches +
      " matches had both games agree (disagreements count as ties)."));
  }
  const notes = [...(data.notes || [])];
  if (data.bootstrap.n) {
    notes.push("CIs: " + pct.replace(" CI", "") + " percentile bootstrap over questions, " + data.bootstrap.n +
      " resamples, seed " + data.bootstrap.seed);
  }
  if (notes.length) parts.push(el("ul", { class: "notes" }, ...notes.map((n) => el("li", {}, n))));
  $("board-view").replaceChildren(...parts);
}

// ---- wiring -----------------------------------------------------------------------------------------

// The view lives in the URL's fragment, so a link (or a reload) opens the same question and models.
const HASH_FIELDS = { judge: "judge", model: "single-model", a: "pair-model-a", b: "pair-model-b",
  mode: "board-mode", baseline: "board-baseline" };

function saveHash() {
  const params = new URLSearchParams({ tab: state.tab });
  const q = state.tab === "pair" ? $("pair-question").value : $("single-question").value;
  if (q) params.set("q", q);
  for (const [key, id] of Object.entries(HASH_FIELDS)) if ($(id).value) params.set(key, $(id).value);
  history.replaceState(null, "", "#" + params.toString());
}

function restoreHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const judge = params.get("judge");
  if (judge && judge !== $("judge").value && [...$("judge").options].some((o) => o.value === judge)) {
    $("judge").value = judge;
    fillModels(true);
  }
  const q = params.get("q");
  const cat = q && state.meta.categories.find((c) => c.questions.some((x) => String(x.id) === q));
  for (const prefix of ["single", "pair"]) {
    if (cat) { $(prefix + "-category").value = cat.name; fillQuestions(prefix); $(prefix + "-question").value = q; }
  }
  for (const [key, id] of Object.entries(HASH_FIELDS)) {
    const v = params.get(key);
    if (key !== "judge" && v && [...$(id).options].some((o) => o.value === v)) $(id).value = v;
  }
  return ["single", "pair", "board"].includes(params.get("tab")) ? params.get("tab") : "single";
}

async function refresh() {
  saveHash();
  showError(null);
  try {
    if (state.tab === "single") await renderSingle();
    else if (state.tab === "pair") await renderPair();
    else await renderBoard();
  } catch (err) {
    showError(err);
  }
  document.body.setAttribute("data-ready", String(Date.now()));
}

function selectTab(tab) {
  state.tab = tab;
  for (const button of document.querySelectorAll(".tab")) button.classList.toggle("active", button.dataset.tab === tab);
  for (const pane of ["single", "pair", "board"]) $("pane-" + pane).hidden = pane !== tab;
  return refresh();
}

async function start() {
  try {
    state.meta = await api("/api/meta");
  } catch (err) {
    showError(err);
    return;
  }
  const meta = state.meta;
  $("bench").textContent = meta.bench + " in " + meta.data_dir;
  // Open on a judge with valid judgments (the server's pick: gpt-4 when it has any), not simply the first.
  const judges = meta.judges.map((j) => [j.name, j.valid ? j.name : j.name + " (no valid judgments)"]);
  fill($("judge"), judges.length ? judges : [["", "(no judgments)"]], meta.default_judge ?? "");
  for (const prefix of ["single", "pair"]) {
    fill($(prefix + "-category"), meta.categories.map((c) => [c.name, c.name + " (" + c.questions.length + ")"]));
    fillQuestions(prefix);
    $(prefix + "-category").addEventListener("change", () => { fillQuestions(prefix); refresh(); });
  }
  fillModels(true);
  for (const id of ["single-question", "single-model", "pair-question", "pair-model-a", "pair-model-b",
    "board-mode", "board-baseline", "markdown"]) {
    $(id).addEventListener("change", refresh);
  }
  $("judge").addEventListener("change", () => { fillModels(true); refresh(); });
  for (const button of document.querySelectorAll(".tab")) button.addEventListener("click", () => selectTab(button.dataset.tab));
  await selectTab(restoreHash());
}

document.addEventListener("DOMContentLoaded", start);

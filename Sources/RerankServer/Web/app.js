// Lychee Rerank web page: builds a /v1/rerank request from the form and shows the ranking.
"use strict";

const $ = (selector, root = document) => root.querySelector(selector);
const images = new WeakMap(); // drop zone element -> data URL of its image

// ---- API key -------------------------------------------------------------------------------------
const keyInput = $("#api-key");
keyInput.value = localStorage.getItem("lychee-api-key") || "";
keyInput.addEventListener("input", () => { localStorage.setItem("lychee-api-key", keyInput.value); checkReady(); });
$("#settings-toggle").addEventListener("click", () => { $("#settings").hidden = !$("#settings").hidden; });

function headers() {
  const h = { "Content-Type": "application/json" };
  if (keyInput.value) h.Authorization = "Bearer " + keyInput.value;
  return h;
}

async function checkReady() {
  const status = $("#model-status");
  try {
    const response = await fetch("/ready", { headers: headers() });
    const body = await response.json();
    if (response.ok) {
      status.textContent = "model: " + body.model; status.className = "model ready";
    } else {
      status.textContent = body.error ? body.error.message : "not ready"; status.className = "model down";
      if (response.status === 401) $("#settings").hidden = false;
      if (response.status === 503) setTimeout(checkReady, 2000);
    }
  } catch (e) {
    status.textContent = "server unreachable"; status.className = "model down";
  }
}

// ---- Images: upload, drag and drop, paste ---------------------------------------------------------
function readFile(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

function setImage(zone, dataURL) {
  const thumb = $(".thumb", zone), remove = $(".remove-image", zone);
  if (dataURL) { images.set(zone, dataURL); thumb.src = dataURL; } else { images.delete(zone); thumb.removeAttribute("src"); }
  thumb.hidden = remove.hidden = !dataURL;
  zone.classList.toggle("has-image", !!dataURL);
  const input = $(".file", zone); if (!dataURL) input.value = "";
}

async function takeFile(zone, file) {
  if (!file || !file.type.startsWith("image/")) { showError("That file is not an image."); return; }
  setImage(zone, await readFile(file));
}

function wireDropZone(zone) {
  $(".file", zone).addEventListener("change", (e) => takeFile(zone, e.target.files[0]));
  $(".remove-image", zone).addEventListener("click", (e) => { e.stopPropagation(); setImage(zone, null); });
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault(); zone.classList.remove("over");
    takeFile(zone, e.dataTransfer.files[0]);
  });
}

// Paste: an image goes to the drop zone of the card that has focus (the query's by default).
document.addEventListener("paste", (e) => {
  const item = [...(e.clipboardData?.items || [])].find((i) => i.kind === "file" && i.type.startsWith("image/"));
  if (!item) return;
  e.preventDefault();
  const card = document.activeElement?.closest?.(".doc, .card");
  const zone = (card && $("[data-role=drop]", card)) || $("#query-drop");
  takeFile(zone, item.getAsFile());
});

// ---- Documents ------------------------------------------------------------------------------------
const documentsList = $("#documents");

function renumber() {
  [...documentsList.children].forEach((li, i) => { $(".doc-number", li).textContent = "Document " + (i + 1); });
  $("#doc-count").textContent = documentsList.children.length;
}

function addDocument(text = "") {
  const li = $("#doc-template").content.firstElementChild.cloneNode(true);
  $(".doc-text", li).value = text;
  wireDropZone($("[data-role=drop]", li));
  $(".remove-doc", li).addEventListener("click", () => { li.remove(); renumber(); });
  documentsList.appendChild(li);
  renumber();
  return li;
}

$("#add-doc").addEventListener("click", () => $(".doc-text", addDocument()).focus());
$("#clear-docs").addEventListener("click", () => { documentsList.innerHTML = ""; renumber(); });
$("#paste-many-toggle").addEventListener("click", () => { $("#paste-many").hidden = !$("#paste-many").hidden; });
$("#paste-many-add").addEventListener("click", () => {
  const lines = $("#paste-many-text").value.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  // Fill empty documents first, then add new ones.
  const empty = [...documentsList.children].filter((li) => !$(".doc-text", li).value && !images.has($("[data-role=drop]", li)));
  lines.forEach((line) => { const li = empty.shift(); if (li) $(".doc-text", li).value = line; else addDocument(line); });
  $("#paste-many-text").value = ""; $("#paste-many").hidden = true;
});

// ---- Instruction presets ---------------------------------------------------------------------------
const instruction = $("#instruction");
function markPreset() {
  document.querySelectorAll("#presets button").forEach((b) => b.classList.toggle("active", b.dataset.preset === instruction.value));
}
document.querySelectorAll("#presets button").forEach((button) =>
  button.addEventListener("click", () => { instruction.value = button.dataset.preset; markPreset(); }));
instruction.addEventListener("input", markPreset);

// ---- Rerank -----------------------------------------------------------------------------------------
function showError(message) { const box = $("#error"); box.textContent = message; box.hidden = !message; }

function collect() {
  const query = { text: $("#query-text").value.trim() };
  const queryImage = images.get($("#query-drop"));
  if (queryImage) query.image = queryImage;
  const documents = [...documentsList.children].map((li) => {
    const doc = { text: $(".doc-text", li).value.trim() };
    const image = images.get($("[data-role=drop]", li));
    if (image) doc.image = image;
    return doc;
  });
  return { query, documents };
}

async function rerank() {
  showError("");
  const { query, documents } = collect();
  if (!query.text && !query.image) { showError("Give a query: text, an image, or both."); return; }
  const used = documents.filter((d) => d.text || d.image);
  if (!used.length) { showError("Add at least one document with text or an image."); return; }
  const button = $("#rerank"); button.disabled = true;
  $("#run-status").textContent = "Ranking " + used.length + " document" + (used.length > 1 ? "s" : "") + "…";
  const started = performance.now();
  try {
    const response = await fetch("/v1/rerank", {
      method: "POST", headers: headers(),
      body: JSON.stringify({ query, documents: used, instruction: instruction.value.trim() || undefined }),
    });
    const body = await response.json();
    const seconds = (performance.now() - started) / 1000;
    if (!response.ok) {
      showError((body.error && body.error.message) || ("HTTP " + response.status));
      $("#run-status").textContent = "";
      if (response.status === 401) $("#settings").hidden = false;
      return;
    }
    render(body, used, seconds);
    if (window.innerWidth < 860) $("#results").scrollIntoView({ behavior: "smooth", block: "start" });
    $("#run-status").textContent = "Done in " + seconds.toFixed(2) + " s";
  } catch (e) {
    showError("The request failed: " + e.message); $("#run-status").textContent = "";
  } finally {
    button.disabled = false;
  }
}

function render(body, documents, seconds) {
  const list = $("#results"); list.innerHTML = "";
  body.results.forEach((result, rank) => {
    const doc = documents[result.index];
    const li = document.createElement("li");
    li.className = "result"; li.dataset.index = result.index; li.dataset.score = String(result.relevance_score);
    const thumb = doc.image ? `<img alt="document ${result.index + 1} image">` : "text";
    li.innerHTML = `<div class="rank">${rank + 1}</div><div class="thumb-box">${thumb}</div>
      <div><div class="text"></div>
      <div class="bar"><span style="width:${(result.relevance_score * 100).toFixed(2)}%"></span></div>
      <div class="meta"><span class="score">${result.relevance_score.toFixed(4)}</span>
      <span>logit ${result.logit.toFixed(3)}</span><span>doc ${result.index + 1}</span>
      <span>${result.tokens} tokens</span>${result.truncated ? '<span class="badge">truncated</span>' : ""}</div></div>`;
    if (doc.image) $("img", li).src = doc.image;
    $(".text", li).textContent = doc.text || "(image only)";
    list.appendChild(li);
  });
  $("#summary").textContent = `${body.results.length} ranked · ${seconds.toFixed(2)} s · ${body.usage.total_tokens} tokens`;
}

$("#rerank").addEventListener("click", rerank);
document.addEventListener("keydown", (e) => { if ((e.ctrlKey || e.metaKey) && e.key === "Enter") rerank(); });

// ---- Start ------------------------------------------------------------------------------------------
wireDropZone($("#query-drop"));
addDocument(); addDocument();
markPreset();
checkReady();

// The model page's form and the compare page: submit a job, follow its progress by
// server-sent events, show the images. Nothing here knows a model family.
"use strict";

function showError(form, message) {
  const box = form.querySelector("#form-error");
  box.textContent = message;
  box.hidden = !message;
}

async function submitJob(model, data) {
  const resp = await fetch(`/api/models/${encodeURIComponent(model)}/jobs`, {
    method: "POST", body: data,
  });
  let body;
  try { body = await resp.json(); } catch (e) { body = { error: `the server answered ${resp.status}` }; }
  if (!resp.ok) throw new Error(body.error || `the server answered ${resp.status}`);
  return body;
}

// Calls onUpdate(state) for each change until the job is done or failed; resolves with the last.
function follow(job, onUpdate) {
  return new Promise((resolve) => {
    const events = new EventSource(`/api/jobs/${job.id}/events`);
    events.onmessage = (ev) => {
      const state = JSON.parse(ev.data);
      onUpdate(state);
      if (state.state === "done" || state.state === "error") { events.close(); resolve(state); }
    };
    events.onerror = () => {
      events.close();
      fetch(`/api/jobs/${job.id}`).then((r) => r.json()).then((s) => { onUpdate(s); resolve(s); });
    };
  });
}

function describe(state) {
  if (state.state === "queued") {
    return state.position > 0 ? `queued: ${state.position} ahead` : "queued";
  }
  if (state.state === "running") {
    return state.total ? `drawing: ${state.done} of ${state.total}` : "loading the model";
  }
  if (state.state === "done") {
    const n = state.images.length;
    return `${n} image${n === 1 ? "" : "s"} in ${state.draw_seconds}s (model load ${state.load_seconds}s)`;
  }
  return state.error;
}

function imageLinks(urls) {
  return urls.map((url) => {
    const a = document.createElement("a");
    a.href = url;
    a.download = url.split("/").slice(-2).join("-");
    a.className = "png";
    const img = document.createElement("img");
    img.src = url;
    img.alt = "drawn image";
    a.appendChild(img);
    return a;
  });
}

// -- the model page ----------------------------------------------------------------------

function setupModelForm(form) {
  const model = form.dataset.model;
  const sampler = form.querySelector("#f-sampler");
  const toggle = () => {
    const chosen = sampler ? sampler.value : null;
    for (const el of form.querySelectorAll(".sampler-only")) {
      const takers = el.dataset.sampler.split(" ");
      el.hidden = chosen !== null && !takers.includes(chosen);
    }
  };
  if (sampler) sampler.addEventListener("change", toggle);
  toggle();
  const mask = setupMaskPad(form);
  const variation = form.querySelector("#variation");
  let last = null; // the seed and n of the last request, for "same seeds"

  const collect = (keepSeeds) => {
    const data = new FormData();
    for (const el of form.elements) {
      if (!el.name || el.closest("[hidden]")) continue;
      if (el.type === "file") {
        if (el.files.length) data.append(el.name, el.files[0]);
      } else if (el.type === "checkbox") {
        if (el.checked) data.append(el.name, "true");
      } else if (el.value !== "") {
        data.append(el.name, el.value);
      }
    }
    if (mask && !data.has("mask") && mask.painted()) data.append("mask", mask.blob(), "mask.png");
    if (keepSeeds && last) { data.set("seed", last.seed); data.set("n", last.n); }
    return data;
  };

  const run = async (keepSeeds) => {
    showError(form, "");
    const data = collect(keepSeeds);
    const section = document.getElementById("job");
    const status = document.getElementById("status");
    const bar = document.getElementById("progress");
    const images = document.getElementById("images");
    let job;
    try {
      job = await submitJob(model, data);
    } catch (err) {
      showError(form, err.message);
      return;
    }
    last = { seed: data.get("seed") || "0", n: data.get("n") || "1" };
    section.hidden = false;
    images.replaceChildren();
    const final = await follow(job, (state) => {
      status.textContent = describe(state);
      bar.max = state.total || 1;
      bar.value = state.done;
    });
    if (final.state === "error") { showError(form, final.error); return; }
    images.replaceChildren(...imageLinks(final.images));
    variation.disabled = false;
  };
  form.addEventListener("submit", (ev) => { ev.preventDefault(); run(false); });
  variation.addEventListener("click", () => run(true));
}

// Paint a mask over the uploaded image: white where the model repaints, sent as a PNG the
// size of the image.
function setupMaskPad(form) {
  const pad = form.querySelector(".maskpad");
  const image = form.querySelector("#f-image");
  if (!pad || !image) return null;
  const canvas = pad.querySelector("canvas");
  const ctx = canvas.getContext("2d");
  const mask = document.createElement("canvas");
  const mctx = mask.getContext("2d");
  let picture = null, painted = false, down = false;
  const redraw = () => {
    ctx.drawImage(picture, 0, 0);
    ctx.globalAlpha = 0.5; ctx.drawImage(mask, 0, 0); ctx.globalAlpha = 1;
  };
  const clear = () => {
    mctx.fillStyle = "#000"; mctx.fillRect(0, 0, mask.width, mask.height);
    painted = false;
    if (picture) redraw();
  };
  image.addEventListener("change", () => {
    if (!image.files.length) { pad.hidden = true; return; }
    const img = new Image();
    img.onload = () => {
      picture = img;
      canvas.width = mask.width = img.naturalWidth;
      canvas.height = mask.height = img.naturalHeight;
      clear();
      pad.hidden = false;
    };
    img.src = URL.createObjectURL(image.files[0]);
  });
  const paint = (ev) => {
    const r = canvas.getBoundingClientRect();
    const x = (ev.clientX - r.left) * canvas.width / r.width;
    const y = (ev.clientY - r.top) * canvas.height / r.height;
    const radius = Math.max(1, canvas.width / 16);
    mctx.fillStyle = "#fff";
    mctx.beginPath(); mctx.arc(x, y, radius, 0, 2 * Math.PI); mctx.fill();
    painted = true;
    redraw();
  };
  canvas.addEventListener("pointerdown", (ev) => { down = true; paint(ev); });
  canvas.addEventListener("pointermove", (ev) => { if (down) paint(ev); });
  window.addEventListener("pointerup", () => { down = false; });
  pad.querySelector("#mask-clear").addEventListener("click", clear);
  return {
    painted: () => painted,
    blob: () => {
      const url = mask.toDataURL("image/png");
      const bytes = atob(url.split(",")[1]);
      const arr = new Uint8Array(bytes.length);
      for (let i = 0; i < bytes.length; i++) arr[i] = bytes.charCodeAt(i);
      return new Blob([arr], { type: "image/png" });
    },
  };
}

// -- the compare page --------------------------------------------------------------------

function setupCompare(form) {
  const columns = document.getElementById("columns");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    showError(form, "");
    const models = [...form.querySelectorAll("input[name=models]:checked")].map((b) => b.value);
    if (models.length < 2 || models.length > 4) {
      showError(form, `pick 2 to 4 models; ${models.length} picked`);
      return;
    }
    columns.replaceChildren();
    const runs = models.map(async (model) => {
      const col = document.createElement("div");
      col.className = "column";
      col.dataset.model = model;
      const title = document.createElement("h3");
      title.textContent = model;
      const status = document.createElement("p");
      status.className = "status";
      const imgs = document.createElement("div");
      imgs.className = "imgs";
      col.append(title, status, imgs);
      columns.appendChild(col);
      const data = new FormData();
      for (const el of form.elements) {
        if (!el.name || el.name === "models") continue;
        if (el.type === "file") { if (el.files.length) data.append(el.name, el.files[0]); }
        else if (el.value !== "") data.append(el.name, el.value);
      }
      try {
        const job = await submitJob(model, data);
        const final = await follow(job, (s) => { status.textContent = describe(s); });
        if (final.state === "done") imgs.replaceChildren(...imageLinks(final.images));
        else status.classList.add("error");
      } catch (err) {
        status.textContent = err.message;
        status.classList.add("error");
      }
    });
    await Promise.all(runs);
  });
}

const sampleForm = document.getElementById("sample-form");
if (sampleForm) setupModelForm(sampleForm);
const compareForm = document.getElementById("compare-form");
if (compareForm) setupCompare(compareForm);

// fercnn serve's page: the webcam or dropped photos, sent to POST /api/predict, the answer drawn.
// No framework and no build step: this file is served as it is.
"use strict";

// Webcam frames are sent this wide (a 640x480 camera: 400x300). Face detection, the slow part
// of a prediction, takes time in proportion to the pixels; faces a webcam sees stay above the
// 48-pixel smallest face at this size.
const SEND_WIDTH = 400;
// Between frames the faces barely move: the server is asked to search only around the last
// frame's boxes (near=), ten times faster than searching the whole frame at every face size,
// and the whole frame every FULL_SEARCH_EVERY frames, so that a new face is found too.
const FULL_SEARCH_EVERY = 10;

const $ = (selector) => document.querySelector(selector);
const state = { models: [], stream: null, running: false, lastDone: 0, fps: 0, frames: 0, boxes: [] };

function element(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function status(text) { $("#status").textContent = text || ""; }

async function loadModels() {
  const answer = await fetch("/api/models").then((r) => r.json());
  state.models = answer.models;
  const select = $("#model");
  select.replaceChildren(...answer.models.map((m) => {
    const option = element("option", "", m.name + (m.source === "shipped" ? " (shipped)" : ""));
    option.value = m.name;
    option.selected = m.default;
    return option;
  }));
}

function predictUrl(name, near) {
  const params = new URLSearchParams({ model: $("#model").value });
  if ($("#saliency").checked) params.set("saliency", "1");
  if (name) params.set("name", name);
  if (near && near.length) params.set("near", near.map((b) => b.join(",")).join(";"));
  return "/api/predict?" + params;
}

async function predict(blob, name, near) {
  const response = await fetch(predictUrl(name, near), {
    method: "POST", body: blob, headers: { "Content-Type": blob.type || "application/octet-stream" },
  });
  const answer = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
  return answer;
}

// Boxes are in the pixels of the image sent (width x height): placed in percent, they land on
// the displayed video or photo whatever its size on screen.
function drawFaces(overlay, cards, faces, width, height) {
  overlay.replaceChildren();
  cards.replaceChildren();
  faces.forEach((face, i) => {
    const [x, y, w, h] = face.box;
    const box = element("div", "box");
    Object.assign(box.style, { left: `${100 * x / width}%`, top: `${100 * y / height}%`,
                               width: `${100 * w / width}%`, height: `${100 * h / height}%` });
    if (face.saliency) {
      const map = element("img", "saliency");
      map.src = face.saliency;
      map.alt = `saliency of ${face.top}`;
      box.append(map);
    }
    box.append(element("span", "label", `${i + 1} ${face.top} ${face.emotions[face.top].toFixed(2)}`));
    overlay.append(box);
    cards.append(faceCard(face, i));
  });
  if (!faces.length) cards.append(element("p", "none", "no face found"));
}

function faceCard(face, i) {
  const card = element("div", "face-card");
  card.append(element("h3", "", `face ${i + 1}: ${face.top}`));
  for (const [name, p] of Object.entries(face.emotions)) {
    const row = element("div", name === face.top ? "row top" : "row");
    const track = element("div", "track");
    const bar = element("div", "bar");
    bar.style.width = `${(100 * p).toFixed(1)}%`;
    bar.dataset.emotion = name;
    track.append(bar);
    row.append(element("span", "name", name), track, element("span", "value", p.toFixed(3)));
    card.append(row);
  }
  return card;
}

// ---- the webcam: one frame in flight at a time, so the page never queues stale frames ----

async function startCamera() {
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  } catch (e) {
    status(`the webcam could not be started: ${e.message}`);
    return;
  }
  const video = $("#video");
  video.srcObject = state.stream;
  await video.play();
  $("#live").hidden = false;
  $("#start-camera").disabled = true;
  $("#stop-camera").disabled = false;
  state.running = true;
  state.lastDone = performance.now();
  status("");
  cameraLoop();
}

function stopCamera() {
  state.running = false;
  if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
  state.stream = null;
  $("#start-camera").disabled = false;
  $("#stop-camera").disabled = true;
}

async function cameraLoop() {
  const video = $("#video");
  const canvas = document.createElement("canvas");
  while (state.running) {
    if (!video.videoWidth) { await new Promise((r) => setTimeout(r, 50)); continue; }
    const scale = Math.min(1, SEND_WIDTH / video.videoWidth);
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise((r) => canvas.toBlob(r, "image/jpeg", 0.85));
    const sent = performance.now();
    try {
      const near = state.frames++ % FULL_SEARCH_EVERY ? state.boxes : [];
      const answer = await predict(blob, "", near);
      if (!state.running) break;
      state.boxes = answer.faces.map((f) => f.box);
      drawFaces($("#camera-stage .overlay"), $("#camera-cards"), answer.faces, canvas.width, canvas.height);
      const now = performance.now();
      const rate = 1000 / Math.max(1, now - state.lastDone);
      state.fps = state.fps ? 0.8 * state.fps + 0.2 * rate : rate;
      state.lastDone = now;
      $("#fps").textContent = `${state.fps.toFixed(1)} frames/s, ${Math.round(now - sent)} ms a frame`;
      status("");
    } catch (e) {
      status(e.message);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

// ---- dropped or chosen photos: each is sent as it is, and shown with its faces ----

async function showPhoto(file) {
  const entry = element("div", "photo-entry");
  entry.append(element("h2", "", file.name));
  const stage = element("div", "stage");
  const img = element("img", "photo");
  img.alt = file.name;
  img.src = URL.createObjectURL(file);
  const overlay = element("div", "overlay");
  stage.append(img, overlay);
  const cards = element("div", "cards");
  entry.append(stage, cards);
  $("#gallery").prepend(entry);
  await img.decode().catch(() => {});
  try {
    const answer = await predict(file, file.name);
    // the server turns a photo upright by its EXIF tag, as the browser shows it
    drawFaces(overlay, cards, answer.faces, img.naturalWidth, img.naturalHeight);
  } catch (e) {
    cards.append(element("p", "error", e.message));
  }
}

async function showPhotos(files) {
  for (const file of files) await showPhoto(file);
}

function setUp() {
  $("#start-camera").addEventListener("click", startCamera);
  $("#stop-camera").addEventListener("click", stopCamera);
  $("#photos").addEventListener("change", (e) => showPhotos([...e.target.files]));
  const drop = $("#drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    showPhotos([...e.dataTransfer.files].filter((f) => f.type.startsWith("image/") || !f.type));
  });
  loadModels().catch((e) => status(`the server did not answer: ${e.message}`));
}

setUp();

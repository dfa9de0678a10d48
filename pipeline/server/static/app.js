// The page of `facerec serve`: plain JavaScript against the server's own /api/v1, no build step.
// The API key comes from the address (#key=..., never sent to the server as part of a URL) or
// the key form, and is kept for this tab only (sessionStorage).
"use strict";

const API = "/api/v1";
const $ = (id) => document.getElementById(id);
let key = sessionStorage.getItem("facerec-key") || "";
let current = null; // {file, doc}: the photo shown and its answer
let chosen = null; // the unknown face being named
let cameraOn = false;

if (location.hash.startsWith("#key=")) {
  key = decodeURIComponent(location.hash.slice(5));
  sessionStorage.setItem("facerec-key", key);
  history.replaceState(null, "", location.pathname);
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (key) headers["X-API-Key"] = key;
  const response = await fetch(API + path, Object.assign({}, options, { headers }));
  const json = (response.headers.get("content-type") || "").includes("application/json");
  const body = json ? await response.json() : await response.blob();
  if (!response.ok) {
    if (response.status === 401 || response.status === 403) $("keyform").hidden = false;
    throw new Error(json ? body.message : response.statusText);
  }
  return body;
}

function say(text, error = false) {
  $("message").textContent = text;
  $("message").className = error ? "error" : "";
}

function drawBoxes(stage, doc, clickable) {
  stage.querySelectorAll(".box").forEach((b) => b.remove());
  doc.faces.forEach((face) => {
    const [x1, y1, x2, y2] = face.box;
    const box = document.createElement("div");
    box.className = "box" + (face.name === "unknown" ? " unknown" : "");
    Object.assign(box.style, {
      left: (100 * x1) / doc.width + "%", top: (100 * y1) / doc.height + "%",
      width: (100 * (x2 - x1)) / doc.width + "%", height: (100 * (y2 - y1)) / doc.height + "%",
    });
    const label = document.createElement("span");
    label.textContent = face.name;
    box.appendChild(label);
    if (clickable && face.name === "unknown") {
      box.title = "Name this face";
      box.addEventListener("click", () => chooseFace(face, box));
    }
    stage.appendChild(box);
  });
}

function chooseFace(face, box) {
  chosen = face;
  document.querySelectorAll(".box.selected").forEach((b) => b.classList.remove("selected"));
  box.classList.add("selected");
  $("enrol").hidden = false;
  $("enrol-name").focus();
}

async function recognizeFile(file) {
  say("Recognizing " + file.name + " ...");
  $("enrol").hidden = true;
  const form = new FormData();
  form.append("file", file);
  try {
    const doc = await api("/recognize", { method: "POST", body: form });
    current = { file, doc };
    const photo = $("photo");
    if (photo.src) URL.revokeObjectURL(photo.src);
    photo.src = URL.createObjectURL(file);
    $("stage").hidden = false;
    drawBoxes($("stage"), doc, true);
    const names = $("names");
    names.replaceChildren();
    doc.faces.forEach((face) => {
      const li = document.createElement("li");
      const far = face.distance === null ? "" : " (distance " + face.distance.toFixed(2) + ")";
      li.textContent = face.name + far;
      names.appendChild(li);
    });
    const unknown = doc.faces.filter((f) => f.name === "unknown").length;
    say(doc.faces.length + " face(s)" + (unknown ? "; click a red box to name that face" : ""));
  } catch (err) {
    say(err.message, true);
  }
}

async function enrol(event) {
  event.preventDefault();
  const name = $("enrol-name").value.trim();
  if (!current || !chosen || !name) return;
  const form = new FormData();
  form.append("file", current.file);
  form.append("box", chosen.box.join(","));
  try {
    await api("/people/" + encodeURIComponent(name) + "/faces", { method: "POST", body: form });
    say("Enrolled " + name);
    $("enrol-name").value = "";
    $("enrol").hidden = true;
    chosen = null;
    await loadPeople();
    await recognizeFile(current.file);
  } catch (err) {
    say(err.message, true);
  }
}

async function loadPeople() {
  let doc;
  try {
    doc = await api("/people");
  } catch (err) {
    say(err.message, true);
    return;
  }
  $("status").textContent = doc.people.length + " people, recognizer " + doc.recognizer.version;
  const list = $("people");
  list.replaceChildren();
  for (const person of doc.people) {
    const li = document.createElement("li");
    li.dataset.name = person.name;
    const img = document.createElement("img");
    img.alt = person.name;
    const who = document.createElement("div");
    who.className = "who";
    who.textContent = person.name;
    const count = document.createElement("div");
    count.className = "muted";
    count.textContent = person.faces + " photo(s)";
    const rename = document.createElement("button");
    rename.textContent = "Rename";
    rename.addEventListener("click", () => renamePerson(person.name));
    const remove = document.createElement("button");
    remove.textContent = "Delete";
    remove.addEventListener("click", () => deletePerson(person.name));
    li.append(img, who, count, rename, " ", remove);
    list.appendChild(li);
    if (person.faces > 0) {
      api("/people/" + encodeURIComponent(person.name) + "/thumbnail")
        .then((blob) => { img.src = URL.createObjectURL(blob); })
        .catch(() => {});
    }
  }
}

async function renamePerson(name) {
  const to = prompt("New name for " + name, name);
  if (!to || to === name) return;
  try {
    await api("/people/" + encodeURIComponent(name), {
      method: "PATCH", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: to }),
    });
    say("Renamed " + name + " to " + to);
    await loadPeople();
  } catch (err) {
    say(err.message, true);
  }
}

async function deletePerson(name) {
  if (!confirm("Delete " + name + " and their photos?")) return;
  try {
    await api("/people/" + encodeURIComponent(name), { method: "DELETE" });
    say("Deleted " + name);
    await loadPeople();
  } catch (err) {
    say(err.message, true);
  }
}

async function cameraLoop(video, canvas) {
  while (cameraOn) {
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    if (canvas.width > 0) {
      canvas.getContext("2d").drawImage(video, 0, 0);
      const blob = await new Promise((done) => canvas.toBlob(done, "image/jpeg", 0.8));
      const form = new FormData();
      form.append("file", blob, "frame.jpg");
      try {
        drawBoxes($("live"), await api("/recognize", { method: "POST", body: form }), false);
      } catch (err) {
        say(err.message, true);
      }
    }
    await new Promise((done) => setTimeout(done, 300));
  }
}

async function toggleCamera() {
  const video = $("video");
  if (cameraOn) {
    cameraOn = false;
    video.srcObject.getTracks().forEach((t) => t.stop());
    $("live").hidden = true;
    $("camera").textContent = "Start camera";
    return;
  }
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
  } catch (err) {
    say("No camera: " + err.message, true);
    return;
  }
  await video.play();
  cameraOn = true;
  $("live").hidden = false;
  $("camera").textContent = "Stop camera";
  cameraLoop(video, document.createElement("canvas"));
}

async function runAudit() {
  $("audit-summary").textContent = "Auditing...";
  $("findings").replaceChildren();
  let doc;
  try {
    doc = await api("/audit");
  } catch (err) {
    $("audit-summary").textContent = "Audit failed: " + err.message;
    return;
  }
  const counts = Object.entries(doc.counts).filter(([, n]) => n > 0);
  $("audit-summary").textContent = `${doc.photos} photos of ${doc.people} people: ` +
    (counts.length ? counts.map(([k, n]) => `${n} ${k.replace(/_/g, " ")}`).join(", ") : "nothing found");
  doc.findings.slice(0, 100).forEach((f) => {
    const li = document.createElement("li");
    li.dataset.kind = f.kind;
    const what = document.createElement("strong");
    what.textContent = f.kind.replace(/_/g, " ") + ": ";
    const photos = document.createElement("span");
    photos.textContent = f.photos.join(", ") + " - " + f.detail;
    const advice = document.createElement("div");
    advice.className = "muted";
    advice.textContent = f.advice;
    li.append(what, photos, advice);
    $("findings").append(li);
  });
}

$("audit").addEventListener("click", runAudit);
$("file").addEventListener("change", (e) => { if (e.target.files[0]) recognizeFile(e.target.files[0]); });
$("drop").addEventListener("dragover", (e) => { e.preventDefault(); $("drop").classList.add("over"); });
$("drop").addEventListener("dragleave", () => $("drop").classList.remove("over"));
$("drop").addEventListener("drop", (e) => {
  e.preventDefault();
  $("drop").classList.remove("over");
  if (e.dataTransfer.files[0]) recognizeFile(e.dataTransfer.files[0]);
});
$("enrol").addEventListener("submit", enrol);
$("enrol-cancel").addEventListener("click", () => { $("enrol").hidden = true; chosen = null; });
$("camera").addEventListener("click", toggleCamera);
$("keyform").addEventListener("submit", (e) => {
  e.preventDefault();
  key = $("key").value;
  sessionStorage.setItem("facerec-key", key);
  $("keyform").hidden = true;
  loadPeople();
});
loadPeople();

// Podium's pages work without this file; it adds what only a script can: the viewer's local time, live
// countdowns, upload progress, scores appearing without a reload, and copy buttons.
"use strict";

(function () {
  const viewerZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

  // One formatter per zone: making one costs far more than formatting, and a table has hundreds of times.
  const formatters = new Map();

  function formatIn(date, zone) {
    if (!formatters.has(zone)) {
      formatters.set(zone, new Intl.DateTimeFormat(undefined, {
        timeZone: zone, weekday: "short", month: "short", day: "numeric",
        hour: "2-digit", minute: "2-digit", timeZoneName: "short",
      }));
    }
    return formatters.get(zone).format(date);
  }

  // "2026-11-10 23:59 EST" stays as the server wrote it (the course's zone); the viewer's own time is added
  // beside it when their clock reads differently.
  function addLocalTimes(root) {
    root.querySelectorAll("time.when[data-tz]").forEach((el) => {
      if (el.dataset.localDone) return;
      el.dataset.localDone = "1";
      const date = new Date(el.getAttribute("datetime"));
      if (isNaN(date)) return;
      const courseText = formatIn(date, el.dataset.tz);
      const localText = formatIn(date, viewerZone);
      if (courseText === localText) return;
      const span = document.createElement("span");
      span.className = "yours";
      span.textContent = "your time: " + localText;
      el.after(span);
    });
  }

  function two(n) { return String(n).padStart(2, "0"); }

  function countdownText(ms) {
    if (ms <= 0) return "passed";
    const s = Math.floor(ms / 1000);
    const days = Math.floor(s / 86400);
    const clock = two(Math.floor((s % 86400) / 3600)) + ":" + two(Math.floor((s % 3600) / 60)) + ":" + two(s % 60);
    return "in " + (days ? days + (days === 1 ? " day " : " days ") : "") + clock;
  }

  function startCountdowns() {
    const items = Array.from(document.querySelectorAll(".countdown[data-until]"));
    if (!items.length) return;
    const tick = () => {
      const now = Date.now();
      items.forEach((el) => {
        const ms = new Date(el.dataset.until) - now;
        el.textContent = countdownText(ms);
        el.classList.toggle("soon", ms > 0 && ms < 86400000);
        el.classList.toggle("passed", ms <= 0);
      });
    };
    tick();
    setInterval(tick, 1000);
  }

  function megabytes(n) {
    if (n < 1e6) return Math.max(1, Math.round(n / 1e3)) + " kB";
    return (n / 1e6).toFixed(n < 1e7 ? 2 : 1) + " MB";
  }

  function formatScore(x, precision) {
    return x === null || x === undefined ? "—" : Number(x).toFixed(precision);
  }

  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((r) => r.json().then((body) => ({ ok: r.ok, body })));
  }

  // Poll a submission until it is scored or failed; `done` receives the final JSON.
  function followSubmission(url, update, done) {
    let delay = 700;
    const step = () => {
      getJSON(url).then(({ ok, body }) => {
        if (!ok) { done(body, true); return; }
        update(body);
        if (body.status === "scored" || body.status === "failed") { done(body, false); return; }
        delay = Math.min(delay * 1.3, 4000);
        setTimeout(step, delay);
      }).catch(() => setTimeout(step, 4000));
    };
    step();
  }

  // What a submission's JSON tells beyond its scores (podium.services.feedback): its place in the scoring queue while
  // it waits, then the public rank it gave; shown in the elements of `root` named by data-field.
  function showFeedback(root, sub) {
    const lines = { queue: sub.queue && sub.queue.text, public_rank: sub.public_rank && sub.public_rank.text };
    Object.entries(lines).forEach(([name, text]) => {
      root.querySelectorAll('[data-field="' + name + '"]').forEach((el) => {
        el.textContent = text || "";
        el.hidden = !text;
      });
    });
  }

  // The uploads left today, wherever the page shows the number: it goes down with an upload, and back up when one
  // cannot be scored.
  function showLeft(sub) {
    if (sub.submissions_left_today === null || sub.submissions_left_today === undefined) return;
    document.querySelectorAll('[data-field="submissions_left_today"]').forEach((el) => {
      el.textContent = String(sub.submissions_left_today);
    });
  }

  function enhanceDropzone(form) {
    const zone = form.querySelector(".dropzone");
    const input = form.querySelector('input[type="file"]');
    const name = form.querySelector(".dz-file");
    if (!zone || !input) return;
    const show = () => {
      const file = input.files[0];
      name.textContent = file ? file.name + " · " + megabytes(file.size) : "";
      zone.classList.toggle("has-file", !!file);
    };
    input.addEventListener("change", show);
    ["dragenter", "dragover"].forEach((type) => zone.addEventListener(type, (e) => {
      e.preventDefault();
      zone.classList.add("dragging");
    }));
    ["dragleave", "drop"].forEach((type) => zone.addEventListener(type, () => zone.classList.remove("dragging")));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      if (e.dataTransfer && e.dataTransfer.files.length) {
        input.files = e.dataTransfer.files;
        show();
      }
    });
  }

  function enhanceUpload() {
    const form = document.getElementById("submit-form");
    if (!form || !window.FormData || !window.XMLHttpRequest) return;
    enhanceDropzone(form);
    const status = document.getElementById("upload-status");
    const phase = document.getElementById("upload-phase");
    const bar = document.getElementById("upload-progress");
    const bytes = document.getElementById("upload-bytes");
    const result = document.getElementById("upload-result");
    const button = document.getElementById("submit-button");
    const precision = Number(form.dataset.precision || 5);
    const maxBytes = Number(form.dataset.maxBytes || 0);

    const showResult = (kind, title, message, link, note) => {
      result.hidden = false;
      result.className = "upload-result " + kind;
      result.replaceChildren();
      const heading = document.createElement("p");
      heading.className = "result-title";
      heading.textContent = title;
      result.append(heading);
      if (message) {
        const pre = document.createElement("pre");
        pre.className = "message";
        pre.textContent = message;
        result.append(pre);
      }
      if (note) {
        const p = document.createElement("p");
        p.className = "rank-change";
        p.textContent = note;
        result.append(p);
      }
      if (link) {
        const a = document.createElement("a");
        a.href = link;
        a.textContent = "Open this submission";
        result.append(a);
      }
    };

    form.addEventListener("submit", (event) => {
      const file = form.querySelector('input[type="file"]').files[0];
      if (!file) return; // the browser's own "required" message
      event.preventDefault();
      if (maxBytes && file.size > maxBytes) {
        showResult("bad", "Not uploaded.", "The file is " + megabytes(file.size) + ", more than the " +
          megabytes(maxBytes) + " limit; compress it (.csv.gz or .zip) and upload again.");
        return;
      }
      button.disabled = true;
      result.hidden = true;
      status.hidden = false;
      phase.textContent = "Uploading " + file.name + "…";
      bar.removeAttribute("value");
      bar.max = 100;

      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      xhr.upload.addEventListener("progress", (e) => {
        if (!e.lengthComputable) return;
        bar.value = Math.round((e.loaded / e.total) * 100);
        bytes.textContent = megabytes(e.loaded) + " of " + megabytes(e.total);
      });
      xhr.addEventListener("load", () => {
        let body = {};
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = { message: "The server answered " + xhr.status + "." }; }
        bar.value = 100;
        button.disabled = false;
        if (xhr.status !== 202) {
          phase.textContent = "Not accepted.";
          showResult("bad", "Not accepted.", body.message || ("The server answered " + xhr.status + "."));
          return;
        }
        phase.textContent = "Uploaded. Scoring…";
        form.reset();
        form.querySelector(".dz-file").textContent = "";
        followSubmission(body.status_url, (sub) => {
          phase.textContent = sub.status === "queued" ? "Uploaded. Waiting to be scored…" : "Uploaded. Scoring…";
          showFeedback(status, sub);
          showLeft(sub);
        }, (sub, broken) => {
          if (broken) { showResult("bad", "Could not follow the scoring.", sub.message, body.page_url); return; }
          showFeedback(status, sub);
          showLeft(sub);
          if (sub.status === "scored") {
            phase.textContent = "Scored.";
            showResult("good", "Public score: " + formatScore(sub.public_score, precision), null, body.page_url,
              sub.public_rank && sub.public_rank.text);
            result.querySelector(".result-title").id = "public-score";
          } else {
            phase.textContent = "Not scored.";
            showResult("bad", "This file could not be scored:", sub.error, body.page_url);
          }
        });
      });
      xhr.addEventListener("error", () => {
        button.disabled = false;
        phase.textContent = "Not uploaded.";
        showResult("bad", "The upload did not reach the server.", "Check your connection and upload again; nothing was recorded.");
      });
      xhr.send(new FormData(form));
    });
  }

  function followSubmissionPage() {
    const box = document.getElementById("submission");
    if (!box || !["queued", "scoring"].includes(box.dataset.status)) return;
    const precision = Number(box.dataset.precision || 5);
    const field = (name) => box.querySelector('[data-field="' + name + '"]');
    followSubmission(box.dataset.statusUrl, (sub) => showFeedback(box, sub), (sub) => {
      showFeedback(box, sub);
      const badge = box.querySelector(".status");
      if (badge) { badge.textContent = sub.status; badge.className = "status status-" + sub.status; }
      field("public_score").textContent = formatScore(sub.public_score, precision);
      if (sub.private_score !== null && sub.private_score !== undefined) {
        field("private_score").textContent = formatScore(sub.private_score, precision);
      }
      if (sub.error) { field("error").hidden = false; field("error").querySelector(".message").textContent = sub.error; }
      const pending = field("pending");
      if (pending) pending.remove();
    });
  }

  function followRescore() {
    const box = document.getElementById("rescore");
    if (!box) return;
    const text = document.getElementById("rescore-text");
    const bar = document.getElementById("rescore-progress");
    const step = () => getJSON(box.dataset.progressUrl).then(({ body }) => {
      if (!body.running && !body.total && !body.error) return;
      box.hidden = false;
      bar.max = Math.max(1, body.total);
      bar.value = body.done;
      if (body.running) {
        text.textContent = "Rescoring: " + body.done + " of " + body.total;
        setTimeout(step, 1000);
      } else if (body.error) {
        text.textContent = body.error;
      } else {
        text.textContent = "Rescored " + body.total + ": " + (body.counts.scored || 0) + " scored, " + (body.counts.failed || 0) + " failed.";
      }
    });
    step();
  }

  // The integrity report being computed: its step and count, then the page again with the report.
  function followIntegrity() {
    const box = document.getElementById("integrity");
    if (!box || box.hidden) return;
    const text = document.getElementById("integrity-text");
    const bar = document.getElementById("integrity-progress");
    const step = () => getJSON(box.dataset.progressUrl).then(({ body }) => {
      if (body.running) {
        bar.max = Math.max(1, body.total);
        bar.value = body.done;
        text.textContent = body.step + ": " + body.done + " of " + body.total;
        setTimeout(step, 1000);
      } else {
        window.location.reload();
      }
    });
    setTimeout(step, 1000);
  }

  // Without a secure context (plain http) there is no navigator.clipboard: copy through a selected text box.
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    return new Promise((resolve, reject) => {
      const box = document.createElement("textarea");
      box.value = text;
      box.setAttribute("readonly", "");
      box.className = "visually-hidden";
      document.body.append(box);
      box.select();
      const done = document.execCommand("copy");
      box.remove();
      if (done) { resolve(); } else { reject(new Error("copy refused")); }
    });
  }

  // Copy buttons are hidden until this script can make them work; the text they copy is on the page either way.
  function enhanceCopyButtons() {
    document.querySelectorAll("button.copy[data-copy]").forEach((button) => {
      const source = document.getElementById(button.dataset.copy);
      if (!source) return;
      button.hidden = false;
      const label = button.textContent;
      button.addEventListener("click", () => {
        const text = ("value" in source ? source.value : source.textContent).trim();
        copyText(text).then(() => {
          button.textContent = "Copied";
          setTimeout(() => { button.textContent = label; }, 2500);
        }, () => { button.textContent = "Select the text and copy it"; });
      });
    });
  }

  // A form that hands the browser back to another site (a deep-linking answer to the learning platform) goes by
  // itself; its button stays for browsers without scripts.
  function autoSubmit() {
    const form = document.querySelector("form[data-auto-submit]");
    if (form) form.submit();
  }

  // A table wider than the screen scrolls sideways inside its frame; the frame then takes the keyboard's focus, so
  // that the arrow keys scroll it as a mouse or a finger would, and is named after its table for a screen reader.
  function scrollingTablesTakeFocus() {
    const update = () => document.querySelectorAll(".table-wrap").forEach((wrap) => {
      if (wrap.scrollWidth > wrap.clientWidth) {
        const heading = wrap.closest("section, .panel")?.querySelector("h1, h2, h3");
        wrap.tabIndex = 0;
        wrap.setAttribute("role", "region");
        wrap.setAttribute("aria-label", "Table: " + (heading ? heading.textContent.trim() : document.title));
      } else if (wrap.hasAttribute("tabindex")) {
        ["tabindex", "role", "aria-label"].forEach((name) => wrap.removeAttribute(name));
      }
    });
    update();
    window.addEventListener("resize", update);
  }

  document.addEventListener("DOMContentLoaded", () => {
    autoSubmit();
    scrollingTablesTakeFocus();
    addLocalTimes(document);
    startCountdowns();
    enhanceUpload();
    followSubmissionPage();
    followRescore();
    followIntegrity();
    enhanceCopyButtons();
  });
})();

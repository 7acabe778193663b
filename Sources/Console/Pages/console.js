// The operator console: signs in with the API's own login, then reads and acts through
// /api/v1/admin/* with the access token (kept for this tab only). The queues page is live over
// the /api/v1/ws/admin socket. Every value from the server is put in the page as text, never
// as markup.
(() => {
  "use strict";

  const API = "/api/v1";
  const TOKEN = "ytempire.console.token";
  const page = document.body.dataset.page;
  const $ = (selector, root = document) => root.querySelector(selector);
  const FINAL = new Set(["completed", "cancelled", "discarded"]);

  // ---- Building the page, as text only ----

  function h(tag, attributes = {}, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
      else if (name === "class") element.className = value;
      else element.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null) continue;
      element.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return element;
  }

  function svg(tag, attributes = {}, ...children) {
    const element = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
    for (const child of children.flat()) {
      if (child === undefined || child === null) continue;
      element.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return element;
  }

  const badge = (state) => h("span", { class: `badge state-${state}` }, state);
  const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");
  const number = (value) => (value === undefined || value === null ? "—" : Number(value).toLocaleString());
  const jobLink = (id) => h("a", { href: `/admin/jobs/${encodeURIComponent(id)}` }, `#${id}`);

  function age(seconds) {
    if (!seconds) return "—";
    if (seconds < 1) return "<1 s";
    if (seconds < 90) return `${Math.round(seconds)} s`;
    if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
    if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
    return `${Math.round(seconds / 86400)} d`;
  }

  function rows(table, items, render, emptyText) {
    const body = $("tbody", table);
    if (!items.length) {
      const columns = $("thead tr", table).children.length;
      body.replaceChildren(h("tr", {}, h("td", { colspan: columns, class: "empty" }, emptyText)));
      return;
    }
    body.replaceChildren(...items.map((item) => h("tr", {}, render(item))));
  }

  // ---- Messages, confirmation ----

  let statusTimer;
  function say(message, kind = "info", link) {
    const status = $("#status");
    status.className = `status ${kind}`;
    status.replaceChildren(message, link ? " " : "", link || "");
    clearTimeout(statusTimer);
    statusTimer = setTimeout(() => status.replaceChildren(), kind === "error" ? 15000 : 8000);
  }

  function confirmAction(title, text, label) {
    const dialog = $("#confirm");
    $("#confirm-title").textContent = title;
    $("#confirm-text").textContent = text;
    $("#confirm-ok").textContent = label;
    dialog.returnValue = "";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.showModal();
    });
  }

  // ---- The API ----

  class Failure extends Error {
    constructor(status, envelope) {
      super((envelope && envelope.message) || `The server answered ${status}`);
      this.status = status;
      this.code = envelope && envelope.error;
      this.field = envelope && envelope.details && envelope.details.field;
    }
  }

  async function call(method, path, payload) {
    const headers = { Accept: "application/json" };
    const token = sessionStorage.getItem(TOKEN);
    if (token) headers.Authorization = `Bearer ${token}`;
    if (payload !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(API + path, { method, headers, body: payload === undefined ? undefined : JSON.stringify(payload) });
    const text = await response.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (_) { json = null; }
    if (!response.ok) {
      const failure = new Failure(response.status, json);
      if (response.status === 401 && path !== "/auth/login") signOut("Your session ended: sign in again.");
      throw failure;
    }
    return json;
  }

  function report(error) {
    if (error && error.status === 401) return;
    if (error && error.status === 403) {
      $("#main").replaceChildren(h("h1", {}, "Operators only"),
        h("p", { class: "lede" }, "This account is not an operator. An operator is made from the command line: ytempire users grant-operator EMAIL."));
      return;
    }
    say(error && error.message ? error.message : String(error), "error");
  }

  // ---- Signing in ----

  function showSignIn(message) {
    $("#main").hidden = true;
    $("#signout").hidden = true;
    $("#signin").hidden = false;
    $("#signin-message").textContent = message || "";
    $("#signin-email").focus();
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN);
    stopLive();
    showSignIn(message);
  }

  $("#signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const code = $("#signin-code").value.trim();
    const body = { email: $("#signin-email").value.trim(), password: $("#signin-password").value };
    if (code) body.totp_code = code;
    form.querySelector("button").disabled = true;
    try {
      const tokens = await call("POST", "/auth/login", body);
      sessionStorage.setItem(TOKEN, tokens.access_token);
      $("#signin-password").value = "";
      $("#signin-code").value = "";
      // A fresh page with the token: every page starts the same way.
      location.reload();
    } catch (error) {
      if (error.field === "totp_code") {
        $("#signin-code-row").hidden = false;
        $("#signin-code").focus();
      }
      $("#signin-message").textContent = error.message;
    } finally {
      form.querySelector("button").disabled = false;
    }
  });

  $("#signout").addEventListener("click", async () => {
    try { await call("POST", "/auth/logout"); } catch (_) { /* signed out here either way */ }
    signOut("Signed out.");
  });

  // ---- Queues: live table and charts ----

  const queueRows = new Map();
  const draining = new Set();
  let socket;
  let socketRetry = 1000;
  let socketTimer;
  let liveWanted = false;

  function queueState(queue) {
    if (draining.has(queue.name)) return queue.running > 0 ? "draining" : "paused";
    return queue.paused ? "paused" : "active";
  }

  function queueRow(name) {
    if (queueRows.has(name)) return queueRows.get(name);
    const cells = {};
    const cell = (key, attributes = {}) => (cells[key] = h("td", attributes));
    const toggle = h("button", { type: "button", class: "quiet", "data-action": "toggle" });
    const drain = h("button", { type: "button", class: "danger", "data-action": "drain" }, "Drain");
    const limit = h("input", { type: "number", min: 1, max: 100000, inputmode: "numeric", "aria-label": `Concurrency limit of ${name}` });
    const setLimit = h("button", { type: "button", class: "quiet", "data-action": "limit" }, "Set limit");
    const row = h("tr", { "data-queue": name },
      h("th", { scope: "row" }, h("a", { href: `/admin/jobs?queue=${encodeURIComponent(name)}` }, name)),
      cell("state"), cell("available", { class: "num" }), cell("scheduled", { class: "num" }), cell("running", { class: "num" }),
      cell("retryable", { class: "num" }), cell("discarded", { class: "num" }), cell("oldest", { class: "num" }),
      cell("done", { class: "num" }), cell("failed", { class: "num" }), cell("slots"),
      h("td", {}, h("div", { class: "row-actions" }, toggle, drain, limit, setLimit)));
    toggle.addEventListener("click", () => togglePause(name, toggle.dataset.paused === "true"));
    drain.addEventListener("click", () => drainQueue(name));
    setLimit.addEventListener("click", () => changeLimit(name, limit));
    const entry = { row, cells, toggle, limit };
    queueRows.set(name, entry);
    return entry;
  }

  // A snapshot computed before an operator's action (or before the page read the queues) may
  // arrive after the answer: for a moment after one the queue shows what was answered.
  const heldUntil = new Map();
  const HOLD_MS = 3000;
  let everyQueueHeldUntil = 0;

  function renderAnswer(queue) {
    heldUntil.set(queue.name, Date.now() + HOLD_MS);
    renderQueues([queue], true);
  }

  function renderQueues(queues, answer = false) {
    const body = $("#queues tbody");
    if (!queues.length) {
      body.replaceChildren(h("tr", {}, h("td", { colspan: 12, class: "empty" }, "No queue has had a job yet.")));
      return;
    }
    $(".empty", body)?.closest("tr")?.remove();
    for (const queue of queues) {
      if (!answer && Math.max(heldUntil.get(queue.name) || 0, everyQueueHeldUntil) > Date.now()) continue;
      const entry = queueRow(queue.name);
      const counts = queue.counts || {};
      const state = queueState(queue);
      entry.cells.state.replaceChildren(badge(state));
      entry.cells.available.textContent = number(counts.available || 0);
      entry.cells.scheduled.textContent = number(counts.scheduled || 0);
      entry.cells.running.textContent = number(queue.running);
      entry.cells.retryable.textContent = number(counts.retryable || 0);
      entry.cells.discarded.textContent = number(counts.discarded || 0);
      entry.cells.oldest.textContent = age(queue.oldest_available_seconds);
      entry.cells.done.textContent = number(queue.completed_last_5m);
      entry.cells.failed.textContent = number(queue.failed_last_5m);
      entry.cells.slots.textContent = queue.concurrency_limit ? `${queue.running} of ${queue.concurrency_limit}` : `${queue.running} (no limit)`;
      entry.toggle.textContent = queue.paused ? "Resume" : "Pause";
      entry.toggle.dataset.paused = String(queue.paused);
      entry.toggle.setAttribute("aria-label", `${queue.paused ? "Resume" : "Pause"} ${queue.name}`);
      if (document.activeElement !== entry.limit) entry.limit.value = queue.concurrency_limit || "";
      if (!entry.row.isConnected) body.append(entry.row);
      if (draining.has(queue.name) && queue.running === 0) {
        draining.delete(queue.name);
        say(`${queue.name} is drained: nothing runs on it. Resume it after the deploy.`, "ok");
      }
    }
  }

  function drawChart(host, series, lines, label) {
    const width = 420, height = 180, left = 36, right = 8, top = 10, bottom = 24;
    const values = lines.flatMap((line) => series.map((minute) => minute[line.key]).filter((value) => value !== null && value !== undefined));
    const peak = Math.max(0, ...values);
    const scale = peak <= 1 ? 1 : peak <= 5 ? 5 : Math.pow(10, Math.floor(Math.log10(peak))) * Math.ceil(peak / Math.pow(10, Math.floor(Math.log10(peak))));
    const x = (index) => left + (width - left - right) * (series.length <= 1 ? 1 : index / (series.length - 1));
    const y = (value) => top + (height - top - bottom) * (1 - value / scale);
    const format = (value) => (scale < 10 && value % 1 ? value.toFixed(1) : Math.round(value).toLocaleString());
    const parts = [];
    for (const fraction of [0, 0.5, 1]) {
      const value = scale * fraction;
      parts.push(svg("line", { class: fraction === 0 ? "axis" : "gridline", x1: left, x2: width - right, y1: y(value), y2: y(value) }));
      parts.push(svg("text", { x: left - 6, y: y(value) + 4, "text-anchor": "end" }, format(value)));
    }
    const minutes = series.length;
    for (const [index, text] of [[0, `−${minutes} min`], [Math.floor((minutes - 1) / 2), `−${Math.round(minutes / 2)} min`], [minutes - 1, "now"]]) {
      if (index < 0) continue;
      parts.push(svg("text", { x: x(index), y: height - 6, "text-anchor": index === 0 ? "start" : index === minutes - 1 ? "end" : "middle" }, text));
    }
    for (const line of lines) {
      let path = "";
      let pen = false;
      series.forEach((minute, index) => {
        const value = minute[line.key];
        if (value === null || value === undefined) { pen = false; return; }
        path += `${pen ? "L" : "M"}${x(index).toFixed(1)},${y(value).toFixed(1)} `;
        pen = true;
      });
      const style = `line ${line.key.startsWith("latency_p95") ? "p95" : line.key.startsWith("latency") ? "p50" : line.key}`;
      if (path) parts.push(svg("path", { class: style, d: path.trim() }));
      // A minute with a value between two without one is a dot: a line needs two points.
      series.forEach((minute, index) => {
        const value = minute[line.key];
        const missing = (other) => !series[other] || series[other][line.key] === null || series[other][line.key] === undefined;
        if (value !== null && value !== undefined && missing(index - 1) && missing(index + 1)) {
          parts.push(svg("circle", { class: `${style} dot`, cx: x(index).toFixed(1), cy: y(value).toFixed(1), r: 3 }));
        }
      });
    }
    const total = lines.length === 1 ? series.reduce((sum, minute) => sum + (minute[lines[0].key] || 0), 0) : null;
    const summary = total === null ? `${label}; highest ${format(peak)}` : `${label}: ${total.toLocaleString()} in all, at most ${peak.toLocaleString()} in a minute`;
    host.replaceChildren(svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": summary }, svg("title", {}, summary), parts));
  }

  function renderSeries(series) {
    drawChart($("#chart-throughput"), series, [{ key: "completed" }], "Jobs completed per minute over the last hour");
    drawChart($("#chart-failures"), series, [{ key: "failed" }], "Attempts failed per minute over the last hour");
    drawChart($("#chart-latency"), series, [{ key: "latency_p50_seconds" }, { key: "latency_p95_seconds" }],
      "Seconds from due to start over the last hour, median and 95th percentile");
  }

  function setLive(on, text) {
    const live = $("#live");
    live.classList.toggle("on", on);
    live.textContent = text;
  }

  function startLive() {
    liveWanted = true;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}${API}/ws/admin`);
    socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "auth", token: sessionStorage.getItem(TOKEN) || "" })));
    socket.addEventListener("message", (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch (_) { return; }
      if (message.type === "fleet.snapshot") {
        socketRetry = 1000;
        setLive(true, `Live · ${new Date(message.timestamp).toLocaleTimeString()}`);
        renderQueues(message.data.queues || []);
        // Not older than what the page read at load (a shared snapshot can be a moment old).
        if (Date.now() >= everyQueueHeldUntil) renderSeries(message.data.series || []);
      } else if (message.type === "error" && message.data) {
        if (["unauthorized", "session_ended", "token_expired"].includes(message.data.error)) signOut(message.data.message);
        else if (message.data.error === "forbidden") { liveWanted = false; report({ status: 403 }); }
      }
    });
    socket.addEventListener("close", () => {
      if (!liveWanted) return;
      setLive(false, "Reconnecting…");
      socketTimer = setTimeout(startLive, socketRetry);
      socketRetry = Math.min(socketRetry * 2, 30000);
    });
  }

  function stopLive() {
    liveWanted = false;
    clearTimeout(socketTimer);
    if (socket) socket.close();
    setLive(false, "");
  }

  async function refreshQueues() {
    const [list, activity] = await Promise.all([call("GET", "/admin/queues"), call("GET", "/admin/activity?minutes=60")]);
    renderQueues(list.queues, true);
    everyQueueHeldUntil = Date.now() + HOLD_MS;
    renderSeries(activity.series);
  }

  async function togglePause(name, paused) {
    try {
      const queue = await call("POST", `/admin/queues/${encodeURIComponent(name)}/${paused ? "resume" : "pause"}`);
      draining.delete(name);
      renderAnswer(queue);
      say(paused ? `${name} resumed: workers claim from it again.` : `${name} paused: no worker starts its jobs; ${queue.running} still running.`, "ok");
    } catch (error) { report(error); }
  }

  async function drainQueue(name) {
    const ok = await confirmAction(`Drain ${name}?`,
      `No worker will start a job from ${name} until you resume it. Jobs running now finish; this page shows when none is left.`, "Drain");
    if (!ok) return;
    try {
      const queue = await call("POST", `/admin/queues/${encodeURIComponent(name)}/drain`);
      draining.add(name);
      renderAnswer(queue);
      if (queue.running > 0) say(`Draining ${name}: ${queue.running} running.`, "ok");
    } catch (error) { report(error); }
  }

  async function changeLimit(name, input) {
    const text = input.value.trim();
    const limit = text === "" ? null : Number(text);
    if (limit !== null && (!Number.isInteger(limit) || limit < 1 || limit > 100000)) {
      say("A limit is a whole number from 1 to 100000, or empty to remove it.", "error");
      input.focus();
      return;
    }
    try {
      const queue = await call("PUT", `/admin/queues/${encodeURIComponent(name)}/limit`, { limit });
      renderAnswer(queue);
      say(limit === null ? `${name} has no limit now.` : `At most ${limit} jobs of ${name} run at once now.`, "ok");
    } catch (error) { report(error); }
  }

  async function queuesPage() {
    await refreshQueues();
    startLive();
  }

  // ---- Jobs: search, bulk actions ----

  const FILTERS = ["queue", "kind", "state", "worker", "arg", "created_from", "created_to"];

  function currentFilter() {
    const filter = {};
    for (const name of FILTERS) {
      const field = $(`#search [name="${name}"]`);
      const value = field.value.trim();
      if (!value) continue;
      filter[name] = field.type === "datetime-local" ? new Date(value).toISOString() : value;
    }
    return filter;
  }

  let nextBefore = null;

  async function searchJobs(append) {
    const filter = currentFilter();
    const query = new URLSearchParams(filter);
    if (!append) history.replaceState(null, "", `/admin/jobs${query.toString() ? "?" + query : ""}`);
    query.set("limit", "50");
    if (append && nextBefore) query.set("before", String(nextBefore));
    const page = await call("GET", `/admin/jobs?${query}`);
    const body = $("#jobs tbody");
    const render = (job) => h("tr", { "data-job": job.id },
      h("td", {}, jobLink(job.id)), h("td", {}, job.queue), h("td", {}, job.kind), h("td", {}, badge(job.state)),
      h("td", { class: "num" }, `${job.attempt} of ${job.max_attempts}`), h("td", {}, when(job.created_at)),
      h("td", { class: "wrap" }, job.last_error ? job.last_error.slice(0, 200) : ""));
    if (append) body.append(...page.jobs.map(render));
    else if (page.jobs.length) body.replaceChildren(...page.jobs.map(render));
    else rows($("#jobs"), [], () => null, "No job matches.");
    nextBefore = page.next_before;
    $("#more").hidden = !nextBefore;
    if (!append) say(`${page.jobs.length}${nextBefore ? "+" : ""} jobs found.`);
  }

  async function bulkAction(action) {
    const filter = currentFilter();
    const args = {};
    if (filter.arg) {
      const colon = filter.arg.indexOf(":");
      if (colon > 0) args[filter.arg.slice(0, colon)] = filter.arg.slice(colon + 1);
      delete filter.arg;
    }
    if (Object.keys(args).length) filter.args = args;
    const preview = await call("POST", "/admin/jobs/bulk", { action, filter });
    if (preview.matched === 0) { say(`No job the filter finds can be ${action === "retry" ? "retried" : action + "ed"}.`); return; }
    const described = Object.entries(filter).map(([key, value]) => `${key} ${typeof value === "object" ? JSON.stringify(value) : value}`).join(", ") || "every job";
    const verb = { retry: "Retry", cancel: "Cancel", discard: "Discard" }[action];
    const ok = await confirmAction(`${verb} ${preview.matched.toLocaleString()} jobs?`,
      `${verb} the ${preview.matched.toLocaleString()} jobs found by: ${described}. ${action === "discard" ? "Discarded jobs do not run again unless retried." : ""}`, verb);
    if (!ok) return;
    const result = await call("POST", "/admin/jobs/bulk", { action, filter, confirm_count: preview.matched });
    say(`${verb}: ${result.changed.toLocaleString()} jobs changed.`, "ok");
    await searchJobs(false);
  }

  async function jobsPage() {
    const query = new URLSearchParams(location.search);
    for (const name of FILTERS) {
      const value = query.get(name);
      if (!value) continue;
      const field = $(`#search [name="${name}"]`);
      if (field.type === "datetime-local") {
        const date = new Date(value);
        if (!isNaN(date)) field.value = new Date(date.getTime() - date.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
      } else field.value = value;
    }
    $("#search").addEventListener("submit", (event) => { event.preventDefault(); searchJobs(false).catch(report); });
    $("#more").addEventListener("click", () => searchJobs(true).catch(report));
    $("#bulk").addEventListener("submit", (event) => { event.preventDefault(); bulkAction($("#bulk-action").value).catch(report); });
    await searchJobs(false);
  }

  // ---- One job ----

  let jobTimer;

  function renderJob(detail) {
    const job = detail.job;
    const fields = [
      ["State", badge(job.state)], ["Kind", job.kind], ["Queue", h("a", { href: `/admin/jobs?queue=${encodeURIComponent(job.queue)}` }, job.queue)],
      ["Attempt", `${job.attempt} of ${job.max_attempts}`], ["Priority", job.priority], ["Runs at", when(job.run_at)],
      ["Created", when(job.created_at)], ["Last started", when(job.attempted_at)], ["Finished", when(job.finished_at)],
      ["Worker", job.worker_id || "—"], ["Cancel asked", job.cancel_requested ? "yes" : "no"],
    ];
    if (detail.user) fields.push(["User", `${detail.user.email} (${detail.user.id})`]);
    if (detail.video) {
      fields.push(["Video", h("span", {}, `${detail.video.title} (${detail.video.id}, ${detail.video.status}) `,
        h("a", { href: `/admin/jobs?arg=${encodeURIComponent("video_id:" + detail.video.id)}` }, "its jobs"))]);
    }
    $("#job-fields").replaceChildren(...fields.flatMap(([name, value]) => [h("dt", {}, name), h("dd", {}, value)]));
    $("#job-args").textContent = JSON.stringify(job.args, null, 2);
    const errors = detail.errors || [];
    $("#job-errors").replaceChildren(...(errors.length
      ? errors.map((entry) => h("li", {}, h("div", {}, `Attempt ${entry.attempt}, ${when(entry.at)}`), h("pre", {}, entry.error)))
      : [h("li", { class: "empty" }, "None.")]));
    $("#job").setAttribute("aria-busy", "false");
    $("#job").dataset.state = job.state;
    $("#job-retry").disabled = job.state === "running";
    $("#job-cancel").disabled = FINAL.has(job.state);
    $("#job-discard").disabled = FINAL.has(job.state) || job.state === "running";
    clearTimeout(jobTimer);
    // Watch a job that has not finished: its page follows it to the end.
    if (!FINAL.has(job.state)) jobTimer = setTimeout(() => loadJob().catch(report), 2000);
  }

  const jobID = () => document.body.dataset.jobId;

  async function loadJob() {
    renderJob(await call("GET", `/admin/jobs/${encodeURIComponent(jobID())}`));
  }

  async function jobAction(action) {
    const id = jobID();
    if (action !== "retry") {
      const text = action === "discard" ? `Job ${id} will not run again unless someone retries it.`
        : `Job ${id} stops: waiting, it is cancelled; running, its worker is asked to stop.`;
      if (!(await confirmAction(`${action === "discard" ? "Discard" : "Cancel"} job ${id}?`, text, action === "discard" ? "Discard" : "Cancel job"))) return;
    }
    const job = await call("POST", `/admin/jobs/${encodeURIComponent(id)}/${action}`);
    if (action === "retry" && String(job.id) !== String(id)) {
      // A failed video's job runs again as its video's new job: follow it.
      location.assign(`/admin/jobs/${encodeURIComponent(job.id)}?retried=${encodeURIComponent(id)}`);
      return;
    }
    say(`Job ${id}: ${{ retry: "retried, it runs again now", cancel: "cancelled", discard: "discarded" }[action]}.`, "ok");
    await loadJob();
  }

  async function jobPage() {
    const retried = new URLSearchParams(location.search).get("retried");
    if (retried && /^[0-9]{1,19}$/.test(retried)) say(`Job ${retried} was a failed video's: the video runs again, this is its new job.`, "ok");
    for (const action of ["retry", "cancel", "discard"]) {
      $(`#job-${action}`).addEventListener("click", () => jobAction(action).catch(report));
    }
    await loadJob();
  }

  // ---- Fleet ----

  async function fleetPage() {
    const [workers, pipeline, youtube, webhooks] = await Promise.all(
      ["/admin/workers", "/admin/pipeline", "/admin/youtube", "/admin/webhooks"].map((path) => call("GET", path)));
    rows($("#workers"), workers.workers, (w) => [h("td", {}, w.id), h("td", {}, w.host), h("td", { class: "num" }, w.pid),
      h("td", { class: "wrap" }, w.queues.join(", ")), h("td", { class: "num" }, w.running), h("td", {}, when(w.heartbeat_at)), h("td", {}, when(w.started_at))],
      "No worker is alive.");
    rows($("#leaders"), workers.leaders, (l) => [h("td", {}, l.name), h("td", {}, l.leader_id), h("td", {}, when(l.elected_at)), h("td", {}, when(l.expires_at))],
      "No leader holds a lease.");
    rows($("#chores"), workers.chores, (c) => [h("td", {}, c.name), h("td", {}, when(c.last_run_at)), h("td", { class: "num" }, `${c.duration_ms} ms`),
      h("td", { class: "wrap" }, !c.last_error ? "ok"
        : new Date(c.last_run_at) > new Date(c.last_error_at) ? `ok (last failure ${when(c.last_error_at)}: ${c.last_error})`
        : h("span", { class: "state-failed" }, `failed ${when(c.last_error_at)}: ${c.last_error}`)),
      h("td", {}, c.leader_id)],
      "No chore has run yet.");
    rows($("#schedules"), workers.schedules, (s) => [h("td", {}, s.id), h("td", {}, s.kind), h("td", {}, s.queue), h("td", {}, s.paused ? "yes" : "no"),
      h("td", {}, when(s.last_run_at)), h("td", {}, when(s.next_run_at))], "No periodic schedule.");
    const videos = Object.entries(pipeline.videos).map(([status, count]) => `${count.toLocaleString()} ${status}`).join(", ");
    $("#pipeline-summary").textContent = `Videos: ${videos || "none"}. Held by cost reservations now: $${pipeline.reserved_now.toFixed(2)}.`;
    rows($("#stages"), pipeline.stages, (s) => [h("td", {}, s.stage), h("td", { class: "num" }, s.pending), h("td", { class: "num" }, s.running),
      h("td", { class: "num" }, s.completed_last_hour), h("td", { class: "num" }, s.failed_last_hour),
      h("td", { class: "num" }, s.p50_seconds === null || s.p50_seconds === undefined ? "—" : s.p50_seconds.toFixed(1)),
      h("td", { class: "num" }, s.p99_seconds === null || s.p99_seconds === undefined ? "—" : s.p99_seconds.toFixed(1))], "No stage has run.");
    rows($("#failures"), pipeline.failures_by_code, (f) => [h("td", {}, f.code), h("td", { class: "num" }, f.count)], "No video failed in the last day.");
    $("#youtube-summary").textContent = `${youtube.waiting_uploads} uploads wait for quota. The quota resets ${when(youtube.next_reset)}.`;
    rows($("#accounts"), youtube.accounts, (a) => [h("td", {}, a.email), h("td", {}, a.channel_name), h("td", {}, badge(a.status)),
      h("td", { class: "num" }, number(a.quota_used)), h("td", { class: "num" }, number(a.quota_limit)), h("td", { class: "num" }, a.health_score),
      h("td", {}, when(a.cooling_until)), h("td", { class: "wrap" }, a.last_error || "")], "No YouTube account is connected.");
    const deliveries = Object.entries(webhooks.deliveries).map(([status, count]) => `${count.toLocaleString()} ${status}`).join(", ");
    $("#deliveries").textContent = `Deliveries: ${deliveries || "none"}.`;
    rows($("#endpoints"), webhooks.endpoints, (e) => [h("td", {}, e.endpoint_id), h("td", {}, e.host), h("td", {}, badge(e.status)),
      h("td", {}, when(e.failing_since)), h("td", { class: "wrap" }, e.disabled_reason || "")], "No endpoint is failing or disabled.");
    jobTimer = setTimeout(() => fleetPage().catch(report), 10000);
  }

  // ---- Audit ----

  let auditBefore = null;

  async function auditPage(append) {
    const query = new URLSearchParams({ limit: "50" });
    if (append && auditBefore) query.set("before", String(auditBefore));
    const page = await call("GET", `/admin/audit?${query}`);
    const render = (entry) => h("tr", {}, h("td", {}, when(entry.at)), h("td", {}, entry.actor), h("td", {}, entry.action),
      h("td", {}, entry.target || "—"), h("td", { class: "wrap" }, Object.keys(entry.details).length ? JSON.stringify(entry.details) : ""),
      h("td", { class: "num" }, entry.affected));
    if (append) $("#audit tbody").append(...page.entries.map(render));
    else rows($("#audit"), page.entries, (entry) => [...render(entry).children], "Nothing yet.");
    auditBefore = page.next_before;
    $("#more").hidden = !auditBefore;
  }

  // ---- Start ----

  const pages = {
    queues: queuesPage,
    jobs: jobsPage,
    job: jobPage,
    fleet: () => fleetPage(),
    audit: () => {
      $("#more").addEventListener("click", () => auditPage(true).catch(report));
      return auditPage(false);
    },
  };

  function start() {
    if (!sessionStorage.getItem(TOKEN)) { showSignIn(); return; }
    $("#main").hidden = false;
    $("#signout").hidden = false;
    (pages[page] || queuesPage)().catch(report);
  }

  start();
})();

// The sandbox page: plays Slack's client for ladderbot. Written here, no library, no build step.
//
// The server renders Block Kit to HTML (bot/sandbox/render.py) and keeps what each person sees; this script
// only shows it, waits for changes (a long poll on /sandbox/api/state), and sends what the person does:
// commands, clicks, choices, modal submissions and closes, tab switches and time jumps. The server turns each
// into the signed request Slack would send the bot.
"use strict";

const page = {
  person: localStorage.getItem("sandbox.person") || "",
  conv: "dm",
  revision: -1,
  poll: null, // the AbortController of the running long poll
  commands: [],
  shortcuts: [], // the app's message shortcuts (manifest.yml), offered in each message's "More actions" menu
  people: [],
  shownHtml: "",
  modalHtml: "",
  logSize: 0,
  suggestion: -1,
  stick: true, // the conversation is scrolled to its bottom
  seen: {}, // "person/conv" -> how many messages the person has seen there
};

const $ = (id) => document.getElementById(id);

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({user: page.person, ...body}),
  };
  const response = await fetch("/sandbox/api/" + path, options);
  const data = await response.json().catch(() => ({ok: false, error: "the sandbox did not answer"}));
  if (!response.ok) toast(data.error || "Something went wrong");
  return data;
}

function toast(text) {
  const box = $("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 4000);
}

// --- the workspace and who you are ---------------------------------------------------------------------

async function start() {
  const workspace = await api("workspace");
  page.people = workspace.people;
  page.commands = workspace.commands;
  page.shortcuts = workspace.shortcuts || [];
  if (!page.people.some((p) => p.id === page.person)) page.person = workspace.default_person;
  const select = $("person");
  for (const person of page.people) {
    const option = document.createElement("option");
    option.value = person.id;
    option.textContent = `${person.real_name} · ${person.role}${person.away ? " · away" : ""}`;
    option.title = `${person.title}, ${person.tz}`;
    select.append(option);
  }
  select.value = page.person;
  select.addEventListener("change", () => {
    page.person = select.value;
    localStorage.setItem("sandbox.person", page.person);
    show(page.conv);
  });
  document.querySelectorAll("[data-conv]").forEach((b) => b.addEventListener("click", () => show(b.dataset.conv)));
  document.querySelectorAll("[data-jump]").forEach((b) => b.addEventListener("click", () => jump(b.dataset.jump)));
  setUpComposer();
  setUpLog();
  // Like Slack, the conversation follows new messages (and images as they load) while you are at its bottom.
  const box = $("messages");
  box.addEventListener("scroll", () => { page.stick = box.scrollHeight - box.scrollTop - box.clientHeight < 80; });
  box.addEventListener("load", () => { if (page.stick && page.conv !== "home") box.scrollTop = box.scrollHeight; },
    true);
  document.addEventListener("click", onClick);
  document.addEventListener("change", onChange);
  document.addEventListener("keydown", onEnter);
  document.addEventListener("input", onCharacter);
  $("modal").addEventListener("cancel", (event) => { event.preventDefault(); closeModal(); });
  show("dm");
}

function show(conv) {
  page.conv = conv;
  page.revision = -1;
  page.shownHtml = "";
  page.stick = true;
  whoami();
  const inApp = conv !== "general";
  $("conv-title").textContent = inApp ? "ladderbot" : "# general";
  $("app-tabs").hidden = !inApp;
  for (const item of document.querySelectorAll("[data-conv]")) {
    const on = item.dataset.conv === conv || (item.id === "rail-dm" && inApp);
    item.classList.toggle("sb-selected", on);
    if (item.getAttribute("role") === "tab") item.setAttribute("aria-selected", String(item.dataset.conv === conv));
  }
  $("composer-form").hidden = conv === "home"; // Slack's Home tab has no composer
  $("composer").placeholder = conv === "general" ? "Message #general, or type / for commands"
    : "Message ladderbot, or type / for commands";
  $("messages").innerHTML = "";
  $("messages").dataset.conv = conv;
  delete $("messages").dataset.shown; // "person/conv" once that conversation is drawn (tests wait for it)
  $("messages").classList.toggle("sb-home", conv === "home");
  if (conv === "home") api("home", {}); // app_home_opened: the bot publishes the person's Home tab
  poll();
}

// --- waiting for changes --------------------------------------------------------------------------------

async function poll() {
  if (page.poll) page.poll.abort();
  const controller = new AbortController();
  page.poll = controller;
  while (!controller.signal.aborted) {
    const query = new URLSearchParams({user: page.person, conv: page.conv, since: String(page.revision)});
    let data;
    try {
      const response = await fetch("/sandbox/api/state?" + query, {signal: controller.signal});
      data = await response.json();
    } catch (error) {
      if (controller.signal.aborted) return;
      await new Promise((resolve) => setTimeout(resolve, 1000)); // the server restarts or is gone: retry
      continue;
    }
    if (controller.signal.aborted) return;
    if (!data.ok) return;
    page.revision = data.revision;
    draw(data);
  }
}

// New messages in a conversation the person is not looking at show as a badge in the rail, as in Slack.
function badges(totals) {
  for (const conv of ["dm", "general"]) {
    const key = page.person + "/" + conv;
    if (page.seen[key] === undefined || page.conv === conv) page.seen[key] = totals[conv];
    const fresh = totals[conv] - page.seen[key];
    $("badge-" + conv).textContent = String(fresh);
    $("badge-" + conv).hidden = fresh <= 0;
  }
}

function whoami() {
  const me = page.people.find((p) => p.id === page.person);
  if (!me) return;
  $("whoami").textContent = `${me.real_name}, ${me.title}. ${me.tz}` + (me.away ? ". Away (on leave)" : "");
}

function draw(data) {
  badges(data.unread);
  $("now").textContent = data.now_label;
  $("now").dataset.now = data.now;
  if (data.log_size !== page.logSize) refreshLog();
  const box = $("messages");
  if (data.html !== page.shownHtml) {
    const saved = saveInputs(box);
    patch(box, data.html);
    restoreInputs(box, saved);
    page.shownHtml = data.html;
    if (page.stick && page.conv !== "home") box.scrollTop = box.scrollHeight;
  }
  box.dataset.shown = `${page.person}/${data.conv}`;
  drawModal(data.modal);
}

// Messages are replaced one by one (keyed by ts), so a message that did not change keeps its DOM: a button
// being clicked or an image being loaded is not swapped out under the person.
function patch(box, html) {
  const template = document.createElement("template");
  template.innerHTML = html;
  const fresh = [...template.content.children];
  if (!fresh.length || !fresh.every((node) => node.dataset && node.dataset.ts)) {
    box.innerHTML = html;
    return;
  }
  const shown = new Map([...box.children].filter((c) => c.dataset.ts).map((c) => [c.dataset.ts, c]));
  let previous = null;
  for (const node of fresh) {
    const existing = shown.get(node.dataset.ts);
    shown.delete(node.dataset.ts);
    let keep = node;
    if (existing && existing.outerHTML === node.outerHTML) keep = existing;
    else if (existing) existing.replaceWith(node);
    const wanted = previous ? previous.nextElementSibling : box.firstElementChild;
    if (wanted !== keep) box.insertBefore(keep, wanted);
    previous = keep;
  }
  for (const gone of shown.values()) gone.remove();
  for (const stray of [...box.children]) if (!stray.dataset.ts) stray.remove();
}

function drawModal(modal) {
  const dialog = $("modal");
  if (!modal) {
    if (dialog.open) dialog.close();
    page.modalHtml = "";
    dialog.innerHTML = "";
    return;
  }
  const sameView = dialog.dataset.viewId === modal.view_id;
  if (modal.html !== page.modalHtml) {
    const saved = sameView ? saveInputs(dialog) : null;
    dialog.innerHTML = modal.html;
    if (saved) restoreInputs(dialog, saved);
    page.modalHtml = modal.html;
  }
  dialog.dataset.viewId = modal.view_id;
  if (!dialog.open) dialog.showModal();
}

// --- what the person chose in a form: kept across redraws, sent as state.values ------------------------

function controls(root) {
  return root.querySelectorAll("input[data-action-id], select[data-action-id], textarea[data-action-id]");
}

function valuesOf(control) {
  if (control.tagName === "SELECT") return [...control.selectedOptions].map((o) => o.value).filter((v) => v !== "");
  if (control.type === "checkbox" || control.type === "radio") return control.checked ? [control.value] : [];
  return control.value === "" ? [] : [control.value];
}

function collectInputs(root) {
  const grouped = new Map();
  for (const control of controls(root)) {
    const key = control.dataset.blockId + "\u0000" + control.dataset.actionId;
    if (!grouped.has(key)) {
      grouped.set(key, {block_id: control.dataset.blockId, action_id: control.dataset.actionId, values: []});
    }
    grouped.get(key).values.push(...valuesOf(control));
  }
  return [...grouped.values()];
}

function saveInputs(root) {
  return [...controls(root)].map((c) => ({
    key: [c.dataset.blockId, c.dataset.actionId, c.type, c.value].join("\u0000"),
    value: c.value,
    checked: c.checked,
    selected: c.tagName === "SELECT" ? [...c.selectedOptions].map((o) => o.value) : null,
    plainKey: [c.dataset.blockId, c.dataset.actionId].join("\u0000"),
  }));
}

function restoreInputs(root, saved) {
  const byKey = new Map(saved.map((s) => [s.key, s]));
  const byPlainKey = new Map(saved.map((s) => [s.plainKey, s]));
  for (const control of controls(root)) {
    if (control.type === "checkbox" || control.type === "radio") {
      const before = byKey.get([control.dataset.blockId, control.dataset.actionId, control.type, control.value]
        .join("\u0000"));
      if (before) control.checked = before.checked;
      continue;
    }
    const before = byPlainKey.get([control.dataset.blockId, control.dataset.actionId].join("\u0000"));
    if (!before) continue;
    if (control.tagName === "SELECT") {
      for (const option of control.options) option.selected = before.selected.includes(option.value);
    } else {
      control.value = before.value;
    }
  }
}

// --- clicks and choices ------------------------------------------------------------------------------

function sourceOf(element) {
  const dialog = element.closest("#modal");
  if (dialog) return {source: "modal", view_id: dialog.dataset.viewId, root: dialog};
  const message = element.closest(".sb-message");
  if (message) return {source: "message", channel: message.dataset.channel, ts: message.dataset.ts, root: message};
  if (page.conv === "home") return {source: "home", root: $("messages")};
  return null;
}

async function onClick(event) {
  const menu = $("more-menu");
  const more = event.target.closest("[data-more]");
  if (more) { event.preventDefault(); openMenu(more); return; }
  const shortcut = event.target.closest("[data-shortcut]");
  if (shortcut) {
    event.preventDefault();
    menu.hidden = true;
    await api("shortcut", {channel: menu.dataset.channel, ts: menu.dataset.ts, callback_id: shortcut.dataset.shortcut});
    return;
  }
  if (!menu.hidden && !event.target.closest("#more-menu")) menu.hidden = true;
  const viewButton = event.target.closest("[data-view-action]");
  if (viewButton) {
    event.preventDefault();
    if (viewButton.dataset.viewAction === "submit") submitModal(); else closeModal();
    return;
  }
  const button = event.target.closest("button[data-action-id], a[data-action-id]");
  if (!button) return;
  event.preventDefault();
  if (button.dataset.confirm && !(await confirmed(JSON.parse(button.dataset.confirm)))) return;
  if (button.dataset.url) window.open(button.dataset.url, "_blank", "noopener");
  await sendAction(button, []);
}

async function onChange(event) {
  const control = event.target.closest("select[data-action-id], input[data-action-id]");
  if (!control || control.closest("#composer-form")) return;
  const inInput = control.closest('[data-type="input"]');
  if (inInput && inInput.dataset.dispatchAction !== "true") return; // input blocks wait for the submit
  if (control.type === "text" || control.tagName === "TEXTAREA") return;
  if (control.dataset.type === "overflow") {
    const chosen = control.selectedOptions[0];
    if (chosen && chosen.dataset.url) window.open(chosen.dataset.url, "_blank", "noopener");
  }
  if (control.dataset.confirm && !(await confirmed(JSON.parse(control.dataset.confirm)))) return;
  const where = sourceOf(control);
  if (!where) return;
  const same = [...controls(where.root)].filter((c) => c.dataset.blockId === control.dataset.blockId
    && c.dataset.actionId === control.dataset.actionId);
  await sendAction(control, same.flatMap(valuesOf));
}

// A message's "More actions" menu: the app's message shortcuts, as in Slack. Picking one sends Slack's
// message_action payload for that message.
function openMenu(button) {
  const message = button.closest(".sb-message");
  const menu = $("more-menu");
  menu.innerHTML = "";
  for (const shortcut of page.shortcuts) {
    const item = document.createElement("button");
    item.type = "button";
    item.setAttribute("role", "menuitem");
    item.dataset.shortcut = shortcut.callback_id;
    item.textContent = shortcut.name;
    item.title = shortcut.description;
    const app = document.createElement("span");
    app.className = "sb-menu-app";
    app.textContent = "ladderbot";
    item.append(app);
    menu.append(item);
  }
  menu.dataset.channel = message.dataset.channel;
  menu.dataset.ts = message.dataset.ts;
  const box = button.getBoundingClientRect();
  menu.style.top = `${Math.round(box.bottom + 4)}px`;
  menu.style.left = `${Math.round(Math.max(8, box.right - 260))}px`;
  menu.hidden = false;
  if (box.bottom + 4 + menu.offsetHeight > window.innerHeight - 8) { // no room below: open it above, as Slack does
    menu.style.top = `${Math.round(Math.max(8, box.top - 4 - menu.offsetHeight))}px`;
  }
}

// Enter in a text input whose block dispatches actions (dispatch_action, with on_enter_pressed, Slack's
// default) sends block_actions with the input's value, as Slack does; on_character_entered sends one as
// the person types.
function dispatches(control, trigger) {
  if (control.closest("#composer-form") || control.tagName !== "INPUT") return false;
  if (!["text", "email", "url", "number"].includes(control.type)) return false;
  const block = control.parentElement && control.parentElement.closest("[data-type]");
  const inInput = block && block.dataset.type === "input";
  if (inInput && block.dataset.dispatchAction !== "true") return false;
  let config = {};
  try { config = JSON.parse(control.dataset.dispatchActionConfig || "{}"); } catch (error) { config = {}; }
  const triggers = config.trigger_actions_on || ["on_enter_pressed"];
  return triggers.includes(trigger);
}

async function onEnter(event) {
  if (event.key !== "Enter" || event.isComposing || event.shiftKey) return;
  const control = event.target.closest && event.target.closest("input[data-action-id]");
  if (!control || !dispatches(control, "on_enter_pressed")) return;
  event.preventDefault();
  await sendAction(control, valuesOf(control));
}

function onCharacter(event) {
  const control = event.target.closest && event.target.closest("input[data-action-id]");
  if (!control || !dispatches(control, "on_character_entered")) return;
  clearTimeout(onCharacter.timer);
  onCharacter.timer = setTimeout(() => sendAction(control, valuesOf(control)), 400);
}

async function sendAction(element, values) {
  const where = sourceOf(element);
  if (!where) return;
  const {root, ...place} = where;
  const answer = await api("action", {
    ...place,
    conv: page.conv,
    block_id: element.dataset.blockId,
    action_id: element.dataset.actionId,
    values,
    inputs: collectInputs(root),
  });
  if (answer.ok === false && answer.status) toast(`The app answered ${answer.status}`);
}

function confirmed(confirm) {
  const dialog = $("confirm");
  const text = (obj) => (obj && obj.text) || "";
  $("confirm-title").textContent = text(confirm.title) || "Are you sure?";
  $("confirm-text").textContent = text(confirm.text);
  $("confirm-ok").textContent = text(confirm.confirm) || "Yes";
  $("confirm-deny").textContent = text(confirm.deny) || "Cancel";
  $("confirm-ok").classList.toggle("sb-danger", confirm.style === "danger");
  dialog.showModal();
  return new Promise((resolve) => {
    const done = (value) => () => { dialog.close(); resolve(value); };
    $("confirm-ok").onclick = done(true);
    $("confirm-deny").onclick = done(false);
    dialog.oncancel = done(false);
  });
}

async function submitModal() {
  const dialog = $("modal");
  const answer = await api("submit", {view_id: dialog.dataset.viewId, inputs: collectInputs(dialog)});
  if (answer.errors && Object.keys(answer.errors).length) return; // shown under the fields by the next draw
}

async function closeModal() {
  const dialog = $("modal");
  if (!dialog.dataset.viewId) { dialog.close(); return; }
  await api("close", {view_id: dialog.dataset.viewId, inputs: collectInputs(dialog)});
}

// --- the composer: slash commands with suggestions and usage hints from manifest.yml -------------------

function setUpComposer() {
  const input = $("composer");
  input.addEventListener("input", suggest);
  input.addEventListener("keydown", (event) => {
    const items = [...$("suggestions").children];
    if (!items.length || $("suggestions").hidden) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      page.suggestion = (page.suggestion + (event.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
      items.forEach((item, i) => item.setAttribute("aria-selected", String(i === page.suggestion)));
    } else if (event.key === "Tab" || (event.key === "Enter" && page.suggestion >= 0)) {
      event.preventDefault();
      pick(items[Math.max(page.suggestion, 0)].dataset.command);
    } else if (event.key === "Escape") {
      $("suggestions").hidden = true;
    }
  });
  $("composer-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    suggest();
    // a slash command goes to the bot; anything else is a message from you (the bot hears none of them, as
    // in Slack: the app subscribes to no message events), which its message shortcuts work on
    await api(text.startsWith("/") ? "command" : "say", {conv: page.conv, text});
  });
}

function pick(command) {
  $("composer").value = command + " ";
  $("composer").focus();
  suggest();
}

function suggest() {
  const text = $("composer").value;
  const list = $("suggestions");
  const word = text.split(" ")[0];
  list.innerHTML = "";
  page.suggestion = -1;
  const usage = page.commands.find((c) => c.command === word);
  $("usage").textContent = usage && text.includes(" ") ? `${usage.command} ${usage.usage_hint}` : "";
  if (!text.startsWith("/") || text.includes(" ")) { list.hidden = true; return; }
  const matches = page.commands.filter((c) => c.command.startsWith(word));
  for (const c of matches) {
    const item = document.createElement("li");
    item.setAttribute("role", "option");
    item.dataset.command = c.command;
    const name = document.createElement("strong");
    name.textContent = c.command;
    const hint = document.createElement("span");
    hint.className = "sb-hint";
    hint.textContent = " " + c.usage_hint;
    const description = document.createElement("div");
    description.className = "sb-description";
    description.textContent = c.description;
    item.append(name, hint, description);
    item.addEventListener("mousedown", (event) => { event.preventDefault(); pick(c.command); });
    list.append(item);
  }
  list.hidden = !matches.length;
}

// --- time -----------------------------------------------------------------------------------------------

async function jump(kind) {
  const buttons = document.querySelectorAll("[data-jump]");
  buttons.forEach((b) => { b.disabled = true; });
  try {
    const answer = await api("time", {jump: kind});
    if (answer.ok) {
      $("now").textContent = answer.now_label;
      toast(`Now ${answer.now_label}: ${answer.report}`);
    }
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

// --- the API log --------------------------------------------------------------------------------------

function setUpLog() {
  $("log-toggle").addEventListener("click", () => {
    const panel = $("log");
    panel.hidden = !panel.hidden;
    $("log-toggle").setAttribute("aria-expanded", String(!panel.hidden));
    if (!panel.hidden) refreshLog();
  });
  $("log-clear").addEventListener("click", () => { $("log-list").innerHTML = ""; });
}

async function refreshLog() {
  if (refreshLog.running) return;
  refreshLog.running = true;
  try {
    const data = await api("log?after=" + page.logSize);
    page.logSize = data.size;
    $("log-count").textContent = String(data.size);
    const list = $("log-list");
    for (const call of data.calls) {
      const item = document.createElement("li");
      item.className = "sb-log-call" + (call.response && call.response.ok === false ? " sb-log-error" : "");
      const details = document.createElement("details");
      const summary = document.createElement("summary");
      const ok = call.response && call.response.ok ? "ok" : (call.response && call.response.error) || call.status;
      const to = call.params && (call.params.channel || call.params.channel_id || call.params.user_id
        || call.params.user || call.params.users);
      summary.textContent = `${call.method}${to ? " → " + to : ""} · ${ok}`;
      const args = document.createElement("pre");
      args.textContent = "arguments " + JSON.stringify(readable(call.params), null, 2);
      const response = document.createElement("pre");
      response.textContent = "response " + JSON.stringify(call.response, null, 2);
      details.append(summary, args, response);
      item.append(details);
      list.prepend(item);
    }
  } finally {
    refreshLog.running = false;
  }
}

function readable(params) {
  // blocks, view and the like arrive JSON-encoded in a form: show them as JSON
  const out = {};
  for (const [key, value] of Object.entries(params || {})) {
    if (typeof value === "string" && /^[[{]/.test(value)) {
      try { out[key] = JSON.parse(value); continue; } catch (error) { /* keep the text */ }
    }
    out[key] = value;
  }
  return out;
}

start();

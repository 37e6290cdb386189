/*
 * Deskpilot chat widget: one self-contained file, no dependencies, no build step.
 *
 *   <script src="https://support.example.com/widget.js" data-endpoint="/chatkit"></script>
 *
 * Speaks the ChatKit protocol to `data-endpoint` (POST, JSON in, SSE out). Requests carry
 * cookies (`credentials: "include"`): the server recognises an anonymous visitor by its
 * HttpOnly session cookie. The open thread's id is kept in localStorage so a reload shows the
 * conversation again. Optional attributes: data-title, data-open="true".
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var endpoint = new URL((script && script.dataset.endpoint) || "/chatkit", script ? script.src : location.href).href;
  var title = (script && script.dataset.title) || "Support";
  var storageKey = "deskpilot.thread:" + endpoint;
  var HANDOFF_TEXT = "I'd like to talk to a person";

  var STYLE = [
    ":host{all:initial;font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1f2328}",
    ".launcher{position:fixed;right:20px;bottom:20px;border:0;border-radius:24px;padding:12px 18px;background:#2457d6;color:#fff;font:inherit;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.2)}",
    ".panel{position:fixed;right:20px;bottom:76px;width:min(380px,calc(100vw - 40px));height:min(560px,calc(100vh - 100px));display:flex;flex-direction:column;background:#fff;border:1px solid #d0d7de;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.18);overflow:hidden}",
    ".panel[hidden]{display:none}",
    "header{display:flex;justify-content:space-between;align-items:center;padding:10px 14px;background:#2457d6;color:#fff;font-weight:600}",
    "header button{background:none;border:0;color:#fff;font-size:20px;cursor:pointer}",
    ".log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:10px}",
    ".msg{max-width:88%;padding:8px 12px;border-radius:12px;white-space:pre-wrap;word-wrap:break-word}",
    ".user{align-self:flex-end;background:#2457d6;color:#fff}",
    ".assistant{align-self:flex-start;background:#f1f3f5}",
    ".sources{margin:6px 0 0;padding:0;list-style:none;font-size:13px}",
    ".sources a{color:#0b4fbf}",
    ".feedback{margin-top:6px;display:flex;gap:6px}",
    ".feedback button{border:1px solid #d0d7de;background:#fff;border-radius:6px;cursor:pointer;padding:2px 8px}",
    ".feedback button[aria-pressed=true]{background:#dbe7ff;border-color:#2457d6}",
    ".error{margin:0;padding:6px 12px;color:#a40e26;background:#ffebe9;font-size:13px}",
    ".error:empty{display:none}",
    ".status{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}",
    "form{display:flex;gap:6px;padding:8px;border-top:1px solid #d0d7de}",
    "textarea{flex:1;resize:none;font:inherit;padding:6px 8px;border:1px solid #d0d7de;border-radius:8px}",
    "form button,.handoff{font:inherit;border-radius:8px;border:1px solid #2457d6;background:#2457d6;color:#fff;padding:6px 12px;cursor:pointer}",
    ".handoff{margin:0 8px 8px;background:#fff;color:#2457d6}",
    "button:disabled{opacity:.5;cursor:default}",
    "button:focus-visible,textarea:focus-visible,a:focus-visible{outline:2px solid #2457d6;outline-offset:2px}"
  ].join("\n");

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text) node.textContent = text;
    return node;
  }

  // ---- layout -------------------------------------------------------------------------------
  var host = el("div", { id: "deskpilot-widget" });
  var root = host.attachShadow({ mode: "open" });
  var style = el("style");
  style.textContent = STYLE;
  var launcher = el("button", { class: "launcher", type: "button", "aria-expanded": "false",
    "aria-controls": "deskpilot-panel", "data-testid": "deskpilot-launcher" }, "Chat with " + title);
  var panel = el("section", { class: "panel", id: "deskpilot-panel", "aria-label": title + " chat" });
  panel.hidden = true;
  var header = el("header");
  header.appendChild(el("span", {}, title));
  var close = el("button", { type: "button", "aria-label": "Close chat" }, "\u00d7");
  header.appendChild(close);
  var log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": "Conversation",
    "data-testid": "deskpilot-log" });
  var errorLine = el("p", { class: "error", role: "alert", "data-testid": "deskpilot-error" });
  var status = el("p", { class: "status", role: "status" });
  var handoff = el("button", { class: "handoff", type: "button", "data-testid": "deskpilot-handoff" },
    "Talk to a person");
  var form = el("form", { "aria-label": "Send a message" });
  var inputId = "deskpilot-input";
  var label = el("label", { for: inputId, class: "status" }, "Your message");
  var input = el("textarea", { id: inputId, rows: "2", placeholder: "Ask a question\u2026",
    "data-testid": "deskpilot-input" });
  var send = el("button", { type: "submit", "data-testid": "deskpilot-send" }, "Send");
  form.append(label, input, send);
  panel.append(header, log, errorLine, status, handoff, form);
  root.append(style, launcher, panel);

  // ---- state --------------------------------------------------------------------------------
  var threadId = null;
  var busy = false;
  var historyLoaded = false;

  function scrollDown() { log.scrollTop = log.scrollHeight; }
  function showError(message) { errorLine.textContent = message || ""; }
  function setBusy(value) {
    busy = value;
    send.disabled = value;
    handoff.disabled = value;
  }
  function remember(id) {
    threadId = id;
    try { localStorage.setItem(storageKey, id); } catch (e) { /* storage may be blocked */ }
  }
  function forget() {
    threadId = null;
    try { localStorage.removeItem(storageKey); } catch (e) { /* ignore */ }
  }

  // ---- rendering ----------------------------------------------------------------------------
  function renderUser(text, itemId) {
    var node = el("div", { class: "msg user", "data-role": "user" }, text);
    if (itemId) node.dataset.itemId = itemId;
    log.appendChild(node);
    scrollDown();
    return node;
  }

  function assistantNode(itemId) {
    var existing = itemId && log.querySelector('[data-item-id="' + CSS_escape(itemId) + '"]');
    if (existing) return existing;
    var node = el("div", { class: "msg assistant", "data-role": "assistant", "data-testid": "deskpilot-answer" });
    node.dataset.itemId = itemId;
    node.appendChild(el("div", { class: "text" }));
    log.appendChild(node);
    return node;
  }

  function CSS_escape(value) {
    return window.CSS && window.CSS.escape ? window.CSS.escape(value) : String(value).replace(/["\\]/g, "\\$&");
  }

  function safeUrl(url) {
    try {
      var parsed = new URL(url, location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (e) { return null; }
  }

  function renderSources(node, contents) {
    var seen = {};
    var list = el("ul", { class: "sources", "aria-label": "Sources" });
    (contents || []).forEach(function (part) {
      (part.annotations || []).forEach(function (annotation) {
        var source = annotation.source || {};
        var url = source.type === "url" ? safeUrl(source.url) : null;
        if (!url || seen[url]) return;
        seen[url] = true;
        var li = el("li");
        var link = el("a", { href: url, target: "_blank", rel: "noopener noreferrer",
          "data-testid": "deskpilot-source" }, source.title || url);
        li.appendChild(link);
        list.appendChild(li);
      });
    });
    var old = node.querySelector(".sources");
    if (old) old.remove();
    if (list.children.length) node.appendChild(list);
  }

  function renderFeedback(node, itemId) {
    if (node.querySelector(".feedback")) return;
    var box = el("div", { class: "feedback", role: "group", "aria-label": "Was this answer helpful?" });
    [["positive", "\ud83d\udc4d", "Helpful"], ["negative", "\ud83d\udc4e", "Not helpful"]].forEach(function (spec) {
      var button = el("button", { type: "button", "aria-label": spec[2], "aria-pressed": "false",
        "data-testid": "deskpilot-feedback-" + spec[0] }, spec[1]);
      button.addEventListener("click", function () { sendFeedback(box, button, itemId, spec[0]); });
      box.appendChild(button);
    });
    node.appendChild(box);
  }

  function finishAssistant(item) {
    var node = assistantNode(item.id);
    var text = (item.content || []).map(function (part) { return part.text || ""; }).join("");
    node.querySelector(".text").textContent = text;
    node.removeAttribute("aria-busy");
    renderSources(node, item.content);
    renderFeedback(node, item.id);
    scrollDown();
  }

  function renderItem(item) {
    if (item.type === "user_message") {
      var text = (item.content || []).map(function (part) { return part.text || ""; }).join("");
      renderUser(text, item.id);
    } else if (item.type === "assistant_message") {
      finishAssistant(item);
    }
  }

  // ---- protocol -----------------------------------------------------------------------------
  function post(body) {
    return fetch(endpoint, {
      method: "POST",
      credentials: "include",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream, application/json" },
      body: JSON.stringify(body)
    }).then(function (response) {
      if (response.ok) return response;
      return response.text().then(function (raw) {
        var message;
        try { message = JSON.parse(raw).error; } catch (e) { message = null; }
        var error = new Error(message || ("The chat service answered " + response.status + "."));
        error.status = response.status;
        throw error;
      });
    });
  }

  function request(type, params) {
    return post({ type: type, params: params }).then(function (response) { return response.json(); });
  }

  function handleEvent(event) {
    switch (event.type) {
      case "thread.created":
        remember(event.thread.id);
        break;
      case "thread.item.added":
        if (event.item.type === "assistant_message") {
          var node = assistantNode(event.item.id);
          node.setAttribute("aria-busy", "true");
          scrollDown();
        }
        break;
      case "thread.item.updated":
        var update = event.update || {};
        if (update.type === "assistant_message.content_part.text_delta") {
          assistantNode(event.item_id).querySelector(".text").textContent += update.delta;
          scrollDown();
        } else if (update.type === "assistant_message.content_part.done") {
          assistantNode(event.item_id).querySelector(".text").textContent = update.content.text;
        }
        break;
      case "thread.item.done":
        if (event.item.type === "assistant_message") {
          finishAssistant(event.item);
          status.textContent = "New answer received";
        } else if (event.item.type === "user_message") {
          var pending = log.querySelector('.user:not([data-item-id])');
          if (pending) pending.dataset.itemId = event.item.id;
        }
        break;
      case "error":
        showError(event.message || "Something went wrong. Please try again.");
        break;
      case "notice":
        status.textContent = event.message || "";
        break;
    }
  }

  // Reads `data: {...}` frames from an SSE response body and hands each event over.
  function readStream(response) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) return;
        buffer += decoder.decode(chunk.value, { stream: true });
        var frames = buffer.split("\n\n");
        buffer = frames.pop();
        frames.forEach(function (frame) {
          var data = frame.split("\n").filter(function (line) { return line.indexOf("data:") === 0; })
            .map(function (line) { return line.slice(5).replace(/^ /, ""); }).join("\n");
          if (!data) return;
          try { handleEvent(JSON.parse(data)); } catch (e) { showError("Received an unreadable reply."); }
        });
        return pump();
      });
    }
    return pump();
  }

  function sendMessage(text) {
    text = text.trim();
    if (!text || busy) return;
    showError("");
    setBusy(true);
    renderUser(text);
    var input_ = { content: [{ type: "input_text", text: text }], attachments: [], inference_options: {} };
    var body = threadId
      ? { type: "threads.add_user_message", params: { thread_id: threadId, input: input_ } }
      : { type: "threads.create", params: { input: input_ } };
    return post(body).then(readStream).catch(function (error) {
      if (error.status === 404 && threadId) forget(); // the thread is gone: start anew next time
      showError(error.message || "Could not reach the chat service.");
    }).then(function () {
      setBusy(false);
      log.querySelectorAll("[aria-busy]").forEach(function (node) { node.removeAttribute("aria-busy"); });
    });
  }

  function sendFeedback(box, button, itemId, kind) {
    if (!threadId) return;
    request("items.feedback", { thread_id: threadId, item_ids: [itemId], kind: kind }).then(function () {
      box.querySelectorAll("button").forEach(function (b) { b.setAttribute("aria-pressed", String(b === button)); });
      status.textContent = "Thanks for your feedback";
    }).catch(function (error) { showError(error.message); });
  }

  function loadHistory() {
    if (historyLoaded) return Promise.resolve();
    historyLoaded = true;
    var stored = null;
    try { stored = localStorage.getItem(storageKey); } catch (e) { /* ignore */ }
    if (!stored) return Promise.resolve();
    threadId = stored;
    function page(after) {
      return request("items.list", { thread_id: stored, order: "asc", limit: 50, after: after })
        .then(function (result) {
          (result.data || []).forEach(renderItem);
          if (result.has_more && result.after) return page(result.after);
        });
    }
    return request("threads.get_by_id", { thread_id: stored }).then(function (thread) {
      (thread.items.data || []).forEach(renderItem);
      if (thread.items.has_more && thread.items.after) return page(thread.items.after);
    }).catch(function (error) {
      if (error.status === 404) { forget(); return; }
      showError(error.message || "Could not load the conversation.");
    });
  }

  // ---- wiring -------------------------------------------------------------------------------
  function setOpen(open) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    if (open) {
      loadHistory().then(scrollDown);
      input.focus();
    } else {
      launcher.focus();
    }
  }

  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  close.addEventListener("click", function () { setOpen(false); });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim() || busy) return;
    input.value = "";
    sendMessage(text);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  handoff.addEventListener("click", function () { sendMessage(HANDOFF_TEXT); });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") setOpen(false);
  });

  function mount() {
    document.body.appendChild(host);
    if (script && script.dataset.open === "true") setOpen(true);
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();

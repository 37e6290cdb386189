/*
 * Deskpilot chat widget: one self-contained file, no dependencies, no build step.
 *
 *   <script src="https://support.example.com/widget.js" data-endpoint="/chatkit"
 *           data-title="Acme Support" data-accent="#0a7f3f" data-position="left"
 *           data-greeting="Hi! How can we help?" data-lang="de"
 *           data-prompts="How do I reset my password?|Where are my invoices?"></script>
 *
 * Speaks the ChatKit protocol to `data-endpoint` (POST, JSON in, SSE out). Requests carry
 * cookies (`credentials: "include"`): the server recognises an anonymous visitor by its
 * HttpOnly session cookie. The open thread's id is kept in localStorage so a reload shows the
 * conversation again.
 *
 * Branding: the data attributes above (plus data-launcher-label, data-open="true"), or from
 * script after this one: Deskpilot.configure({title, accent, launcherLabel, position, greeting,
 * prompts: [...], lang}); Deskpilot.open(); Deskpilot.close().
 *
 * Signed-in visitors: Deskpilot.configure({getUserToken: function (existing) {...}}) returns
 * (or resolves to) the host site's signed user token, sent as `Authorization: Bearer`. It is
 * called with null first, and with the expired token when the server answers 401: the widget
 * then retries the request once with the fresh token (ChatKit JS's getClientSecret pattern).
 *
 * Handoff: once a person owns the conversation (a message marked `handoff`, or a turn the AI
 * left unanswered), the open widget
 * polls `items.list` for new messages (every 2 s, backing off to 30 s while nothing comes),
 * shows a person's messages with their name, "You're chatting with <name>", and when they
 * closed the conversation.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var data = (script && script.dataset) || {};
  var endpoint = new URL(data.endpoint || "/chatkit", script ? script.src : location.href).href;
  var storageKey = "deskpilot.thread:" + endpoint;
  var MAX_PROMPTS = 4;
  var COMPACT_WIDTH = 480; // below this width (CSS px at scale 1) the panel is full-screen
  var DEFAULT_ACCENT = "#2457d6";
  var BUBBLE = [241, 243, 245]; // #f1f3f5, the lightest surface accent-coloured text sits on

  // ---- UI strings -----------------------------------------------------------------------------
  var STRINGS = {
    en: {
      title: "Support",
      launcher: "Chat with {title}",
      panel: "{title} chat",
      close: "Close chat",
      greeting: "Hi! How can we help you today?",
      prompts: "Suggested questions",
      conversation: "Conversation",
      message: "Your message",
      placeholder: "Ask a question\u2026",
      send: "Send",
      form: "Send a message",
      handoff: "Talk to a person",
      // Sent as typed by the "talk to a person" button: a request for a person the server's
      // escalation plugin recognises (plugins/escalation/phrases.py), in the UI's language,
      // so the hand-over's own messages come in that language too.
      handoffMessage: "I'd like to talk to a person",
      sources: "Sources",
      newTab: "(opens in a new tab)",
      feedback: "Was this answer helpful?",
      helpful: "Helpful",
      notHelpful: "Not helpful",
      thanks: "Thanks for your feedback",
      answer: "{title}: {text}",
      failed: "Something went wrong. Please try again.",
      unreachable: "Could not reach the chat service.",
      status: "The chat service answered {status}.",
      unreadable: "Received an unreadable reply.",
      history: "Could not load the conversation.",
      chattingWith: "You're chatting with {name}",
      closedBy: "{name} closed this conversation",
      person: "{name} (support team)"
    },
    de: {
      title: "Support",
      launcher: "Chat mit {title}",
      panel: "{title}-Chat",
      close: "Chat schlie\u00dfen",
      greeting: "Hallo! Wie k\u00f6nnen wir Ihnen helfen?",
      prompts: "Vorgeschlagene Fragen",
      conversation: "Unterhaltung",
      message: "Ihre Nachricht",
      placeholder: "Stellen Sie eine Frage\u2026",
      send: "Senden",
      form: "Nachricht senden",
      handoff: "Mit einem Menschen sprechen",
      handoffMessage: "Ich m\u00f6chte mit einem Menschen sprechen",
      sources: "Quellen",
      newTab: "(\u00f6ffnet in einem neuen Tab)",
      feedback: "War diese Antwort hilfreich?",
      helpful: "Hilfreich",
      notHelpful: "Nicht hilfreich",
      thanks: "Danke f\u00fcr Ihr Feedback",
      answer: "{title}: {text}",
      failed: "Etwas ist schiefgelaufen. Bitte versuchen Sie es erneut.",
      unreachable: "Der Chat-Dienst ist nicht erreichbar.",
      status: "Der Chat-Dienst antwortete mit {status}.",
      unreadable: "Die Antwort war nicht lesbar.",
      history: "Die Unterhaltung konnte nicht geladen werden.",
      chattingWith: "Sie chatten mit {name}",
      closedBy: "{name} hat die Unterhaltung geschlossen",
      person: "{name} (Support-Team)"
    },
    fr: {
      title: "Assistance",
      launcher: "Discuter avec {title}",
      panel: "Discussion {title}",
      close: "Fermer la discussion",
      greeting: "Bonjour ! Comment pouvons-nous vous aider ?",
      prompts: "Questions sugg\u00e9r\u00e9es",
      conversation: "Conversation",
      message: "Votre message",
      placeholder: "Posez une question\u2026",
      send: "Envoyer",
      form: "Envoyer un message",
      handoff: "Parler \u00e0 une personne",
      handoffMessage: "Je voudrais parler \u00e0 une personne",
      sources: "Sources",
      newTab: "(s'ouvre dans un nouvel onglet)",
      feedback: "Cette r\u00e9ponse vous a-t-elle aid\u00e9 ?",
      helpful: "Utile",
      notHelpful: "Pas utile",
      thanks: "Merci pour votre avis",
      answer: "{title} : {text}",
      failed: "Une erreur s'est produite. Veuillez r\u00e9essayer.",
      unreachable: "Le service de discussion est injoignable.",
      status: "Le service de discussion a r\u00e9pondu {status}.",
      unreadable: "R\u00e9ponse illisible re\u00e7ue.",
      history: "Impossible de charger la conversation.",
      chattingWith: "Vous discutez avec {name}",
      closedBy: "{name} a clos cette conversation",
      person: "{name} (\u00e9quipe d'assistance)"
    },
    es: {
      title: "Soporte",
      launcher: "Chatear con {title}",
      panel: "Chat de {title}",
      close: "Cerrar el chat",
      greeting: "\u00a1Hola! \u00bfEn qu\u00e9 podemos ayudarle?",
      prompts: "Preguntas sugeridas",
      conversation: "Conversaci\u00f3n",
      message: "Su mensaje",
      placeholder: "Haga una pregunta\u2026",
      send: "Enviar",
      form: "Enviar un mensaje",
      handoff: "Hablar con una persona",
      handoffMessage: "Quiero hablar con una persona",
      sources: "Fuentes",
      newTab: "(se abre en una pesta\u00f1a nueva)",
      feedback: "\u00bfLe ha resultado \u00fatil esta respuesta?",
      helpful: "\u00datil",
      notHelpful: "No es \u00fatil",
      thanks: "Gracias por su opini\u00f3n",
      answer: "{title}: {text}",
      failed: "Algo ha salido mal. Int\u00e9ntelo de nuevo.",
      unreachable: "No se pudo conectar con el servicio de chat.",
      status: "El servicio de chat respondi\u00f3 {status}.",
      unreadable: "Se recibi\u00f3 una respuesta ilegible.",
      history: "No se pudo cargar la conversaci\u00f3n.",
      chattingWith: "Est\u00e1 chateando con {name}",
      closedBy: "{name} ha cerrado esta conversaci\u00f3n",
      person: "{name} (equipo de soporte)"
    },
    it: {
      title: "Assistenza",
      launcher: "Chatta con {title}",
      panel: "Chat di {title}",
      close: "Chiudi la chat",
      greeting: "Ciao! Come possiamo aiutarla?",
      prompts: "Domande suggerite",
      conversation: "Conversazione",
      message: "Il suo messaggio",
      placeholder: "Faccia una domanda\u2026",
      send: "Invia",
      form: "Invia un messaggio",
      handoff: "Parla con un operatore",
      handoffMessage: "Vorrei parlare con un operatore",
      sources: "Fonti",
      newTab: "(si apre in una nuova scheda)",
      feedback: "Questa risposta le \u00e8 stata utile?",
      helpful: "Utile",
      notHelpful: "Non utile",
      thanks: "Grazie per il suo riscontro",
      answer: "{title}: {text}",
      failed: "Qualcosa \u00e8 andato storto. Riprovi.",
      unreachable: "Impossibile raggiungere il servizio di chat.",
      status: "Il servizio di chat ha risposto {status}.",
      unreadable: "Ricevuta una risposta illeggibile.",
      history: "Impossibile caricare la conversazione.",
      chattingWith: "Sta chattando con {name}",
      closedBy: "{name} ha chiuso questa conversazione",
      person: "{name} (team di assistenza)"
    },
    nl: {
      title: "Support",
      launcher: "Chat met {title}",
      panel: "{title}-chat",
      close: "Chat sluiten",
      greeting: "Hallo! Waarmee kunnen we u helpen?",
      prompts: "Voorgestelde vragen",
      conversation: "Gesprek",
      message: "Uw bericht",
      placeholder: "Stel een vraag\u2026",
      send: "Versturen",
      form: "Een bericht versturen",
      handoff: "Met een medewerker praten",
      handoffMessage: "Ik wil met een medewerker spreken",
      sources: "Bronnen",
      newTab: "(opent in een nieuw tabblad)",
      feedback: "Was dit antwoord nuttig?",
      helpful: "Nuttig",
      notHelpful: "Niet nuttig",
      thanks: "Bedankt voor uw feedback",
      answer: "{title}: {text}",
      failed: "Er is iets misgegaan. Probeer het opnieuw.",
      unreachable: "De chatdienst is niet bereikbaar.",
      status: "De chatdienst antwoordde {status}.",
      unreadable: "Er kwam een onleesbaar antwoord.",
      history: "Het gesprek kon niet worden geladen.",
      chattingWith: "U chat met {name}",
      closedBy: "{name} heeft dit gesprek gesloten",
      person: "{name} (supportteam)"
    },
    pt: {
      title: "Suporte",
      launcher: "Conversar com {title}",
      panel: "Chat de {title}",
      close: "Fechar o chat",
      greeting: "Ol\u00e1! Como podemos ajudar?",
      prompts: "Perguntas sugeridas",
      conversation: "Conversa",
      message: "Sua mensagem",
      placeholder: "Fa\u00e7a uma pergunta\u2026",
      send: "Enviar",
      form: "Enviar uma mensagem",
      handoff: "Falar com uma pessoa",
      handoffMessage: "Quero falar com uma pessoa",
      sources: "Fontes",
      newTab: "(abre em uma nova aba)",
      feedback: "Esta resposta foi \u00fatil?",
      helpful: "\u00datil",
      notHelpful: "N\u00e3o foi \u00fatil",
      thanks: "Obrigado pelo seu feedback",
      answer: "{title}: {text}",
      failed: "Algo deu errado. Tente novamente.",
      unreachable: "N\u00e3o foi poss\u00edvel acessar o servi\u00e7o de chat.",
      status: "O servi\u00e7o de chat respondeu {status}.",
      unreadable: "Recebemos uma resposta ileg\u00edvel.",
      history: "N\u00e3o foi poss\u00edvel carregar a conversa.",
      chattingWith: "Voc\u00ea est\u00e1 conversando com {name}",
      closedBy: "{name} encerrou esta conversa",
      person: "{name} (equipe de suporte)"
    }
  };

  // ---- icons: inline SVG, so no icon font or emoji font is needed -----------------------------
  // Decorative inside a labelled control (aria-hidden). Thumbs and send: Feather icons (MIT).
  var ICONS = {
    chat: "M21 11.5a8.4 8.4 0 0 1-9 8.4 9 9 0 0 1-3.8-.8L3 21l1.9-5.2A8.4 8.4 0 0 1 12 3a8.5 8.5 0 0 1 9 8.5z",
    close: "M18 6 6 18M6 6l12 12",
    send: "M22 2 11 13M22 2l-7 20-4-9-9-4 20-7z",
    person: "M20 21v-2a4 4 0 0 0-4-4H8a4 4 0 0 0-4 4v2M12 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8z",
    up: "M14 9V5a3 3 0 0 0-3-3l-4 9v11h11.28a2 2 0 0 0 2-1.7l1.38-9a2 2 0 0 0-2-2.3zM7 22H4a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2h3",
    down: "M10 15v4a3 3 0 0 0 3 3l4-9V2H5.72a2 2 0 0 0-2 1.7l-1.38 9a2 2 0 0 0 2 2.3zm7-13h2.67A2.31 2.31 0 0 1 22 4v7a2.31 2.31 0 0 1-2.33 2H17"
  };

  function icon(name) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    [["viewBox", "0 0 24 24"], ["width", "20"], ["height", "20"], ["fill", "none"],
      ["stroke", "currentColor"], ["stroke-width", "2"], ["stroke-linecap", "round"],
      ["stroke-linejoin", "round"], ["aria-hidden", "true"], ["focusable", "false"],
      ["class", "icon"]].forEach(function (pair) { svg.setAttribute(pair[0], pair[1]); });
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", ICONS[name]);
    svg.appendChild(path);
    return svg;
  }

  var SAFE = {
    top: "env(safe-area-inset-top,0px)", right: "env(safe-area-inset-right,0px)",
    bottom: "env(safe-area-inset-bottom,0px)", left: "env(safe-area-inset-left,0px)"
  };
  var STYLE = [
    ".ui{all:initial;position:absolute;inset:0;pointer-events:none;color-scheme:light;" +
      "font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1f2328;" +
      "-webkit-text-size-adjust:100%;text-size-adjust:100%}",
    ".ui *,.ui *::before,.ui *::after{box-sizing:border-box}",
    ".icon{flex:none;display:block}",
    ".launcher{pointer-events:auto;position:absolute;right:calc(16px + " + SAFE.right + ");" +
      "bottom:calc(16px + " + SAFE.bottom + ");display:inline-flex;align-items:center;gap:8px;" +
      "max-width:calc(100% - 32px);min-height:48px;border:0;border-radius:24px;padding:12px 18px;" +
      "background:var(--accent);color:var(--on-accent);font:inherit;font-weight:600;cursor:pointer;" +
      "box-shadow:0 4px 14px rgba(0,0,0,.25);touch-action:manipulation}",
    ".launcher span{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}",
    ".left .launcher{right:auto;left:calc(16px + " + SAFE.left + ")}",
    ".panel{pointer-events:auto;position:absolute;right:calc(16px + " + SAFE.right + ");" +
      "bottom:calc(76px + " + SAFE.bottom + ");width:min(380px,calc(100% - 32px));" +
      "height:min(600px,calc(100% - 96px));display:flex;flex-direction:column;background:#fff;" +
      "border:1px solid #d0d7de;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.18);overflow:hidden}",
    ".left .panel{right:auto;left:calc(16px + " + SAFE.left + ")}",
    // Phones: the whole frame, which is the visual viewport (so the keyboard never covers the
    // composer); safe-area insets keep controls clear of notches and the home indicator.
    ".compact .panel{inset:0;width:100%;height:100%;border:0;border-radius:0;box-shadow:none;" +
      "padding:0 " + SAFE.right + " " + SAFE.bottom + " " + SAFE.left + "}",
    ".panel[hidden]{display:none}",
    ".panel:focus{outline:none}",
    "header{display:flex;justify-content:space-between;align-items:center;gap:8px;padding:6px 6px 6px 14px;" +
      "background:var(--accent);color:var(--on-accent);font-weight:600}",
    ".compact header{padding-top:calc(6px + " + SAFE.top + ")}",
    ".title{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}",
    "header button{flex:none;display:grid;place-items:center;width:40px;height:40px;border:0;" +
      "border-radius:8px;background:none;color:inherit;cursor:pointer;padding:0}",
    ".compact header button{width:44px;height:44px}",
    "header button:focus-visible{outline:2px solid var(--on-accent);outline-offset:-4px}",
    ".log{flex:1;min-height:0;overflow-y:auto;overscroll-behavior:contain;padding:12px;display:flex;" +
      "flex-direction:column;gap:10px}",
    ".start{display:flex;flex-direction:column;gap:10px}",
    ".start[hidden]{display:none}",
    ".greeting{margin:4px 0;font-size:17px;font-weight:600}",
    ".prompts{list-style:none;margin:0;padding:0;display:flex;flex-direction:column;gap:8px}",
    ".prompts:empty{display:none}",
    ".prompt{width:100%;min-height:44px;text-align:left;font:inherit;padding:8px 12px;border:1px solid #8c959f;" +
      "border-radius:10px;background:#fff;color:var(--ink);cursor:pointer}",
    ".msg{max-width:88%;padding:8px 12px;border-radius:12px;white-space:pre-wrap;overflow-wrap:anywhere}",
    ".user{align-self:flex-end;background:var(--accent);color:var(--on-accent)}",
    ".assistant{align-self:flex-start;background:#f1f3f5}",
    ".who{display:block;font-size:12px;font-weight:600;color:#424a53;margin-bottom:2px}",
    ".person{border-left:3px solid var(--accent)}",
    ".agent{margin:0;padding:6px 12px;font-size:13px;color:#1f2328;background:#f6f8fa;" +
      "border-bottom:1px solid #d0d7de}",
    ".agent:empty{display:none}",
    ".sources{margin:6px 0 0;padding:0;list-style:none;font-size:13px;white-space:normal}",
    ".sources li{margin:2px 0}",
    ".sources a{color:var(--ink)}",
    ".feedback{margin-top:6px;display:flex;gap:6px;white-space:normal}",
    ".feedback button{display:grid;place-items:center;width:36px;height:32px;border:1px solid #8c959f;" +
      "background:#fff;color:#424a53;border-radius:6px;cursor:pointer;padding:0}",
    ".feedback button[aria-pressed=true]{background:var(--accent);border-color:var(--accent);color:var(--on-accent)}",
    ".feedback .icon{width:18px;height:18px}",
    ".error{margin:0;padding:6px 12px;color:#a40e26;background:#ffebe9;font-size:13px}",
    ".error:empty{display:none}",
    ".sr{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;" +
      "clip:rect(0 0 0 0);clip-path:inset(50%);white-space:nowrap;border:0}",
    ".handoff{align-self:flex-start;display:inline-flex;align-items:center;gap:6px;margin:0 8px 8px;" +
      "font:inherit;font-size:14px;border-radius:8px;border:1px solid var(--ink);background:#fff;" +
      "color:var(--ink);padding:6px 12px;cursor:pointer}",
    ".handoff .icon{width:16px;height:16px}",
    "form{display:flex;gap:6px;padding:8px;border-top:1px solid #d0d7de;background:#fff}",
    "textarea{flex:1;min-width:0;resize:none;font:inherit;font-size:16px;line-height:1.35;padding:8px 10px;" +
      "border:1px solid #8c959f;border-radius:8px;color:#1f2328;background:#fff}",
    "textarea::placeholder{color:#59636e;opacity:1}",
    ".send{display:inline-flex;align-items:center;gap:6px;font:inherit;font-weight:600;border-radius:8px;" +
      "border:1px solid var(--accent);background:var(--accent);color:var(--on-accent);padding:6px 12px;cursor:pointer}",
    ".send .icon{width:16px;height:16px}",
    "button:disabled{opacity:.5;cursor:default}",
    "button:focus-visible,textarea:focus-visible,a:focus-visible,.log:focus-visible{outline:2px solid var(--ink);outline-offset:2px}",
    ".launcher:focus-visible{outline:3px solid var(--ink);outline-offset:2px;box-shadow:0 0 0 2px #fff}"
  ].join("\n");

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text) node.textContent = text;
    return node;
  }

  // ---- configuration ----------------------------------------------------------------------------
  var config = { title: null, accent: null, launcherLabel: null, position: "right", greeting: null,
    prompts: [], lang: null, getUserToken: null };

  function plainText(option, value) {
    if (typeof value !== "string") throw new TypeError(option + " must be a string");
    return value.trim() || null;
  }
  var VALIDATE = {
    title: plainText,
    launcherLabel: plainText,
    greeting: plainText,
    accent: function (option, value) {
      value = plainText(option, value);
      if (value && !(window.CSS && CSS.supports("color", value))) {
        throw new TypeError(option + ": " + JSON.stringify(value) + " is not a CSS colour");
      }
      return value;
    },
    position: function (option, value) {
      if (value !== "left" && value !== "right") {
        throw new TypeError(option + " must be \"left\" or \"right\", not " + JSON.stringify(value));
      }
      return value;
    },
    prompts: function (option, value) {
      if (!Array.isArray(value) || value.some(function (p) { return typeof p !== "string"; })) {
        throw new TypeError(option + " must be a list of strings");
      }
      value = value.map(function (p) { return p.trim(); }).filter(Boolean);
      if (value.length > MAX_PROMPTS) {
        throw new RangeError(option + ": at most " + MAX_PROMPTS + " suggested questions, got " + value.length);
      }
      return value;
    },
    getUserToken: function (option, value) {
      if (value !== null && typeof value !== "function") {
        throw new TypeError(option + " must be a function (existing token) -> token, or null");
      }
      return value;
    },
    lang: function (option, value) {
      value = plainText(option, value);
      if (value && !shippedLanguage(value)) {
        throw new RangeError(option + ": " + JSON.stringify(value) + " is not shipped (" +
          Object.keys(STRINGS).join(", ") + ")");
      }
      return value;
    }
  };

  function shippedLanguage(tag) {
    var primary = String(tag || "").toLowerCase().split("-")[0];
    return STRINGS.hasOwnProperty(primary) ? primary : null;
  }

  function configure(options) {
    if (!options || typeof options !== "object") throw new TypeError("Deskpilot.configure takes an object");
    var next = {};
    Object.keys(options).forEach(function (option) {
      if (!VALIDATE.hasOwnProperty(option)) {
        throw new TypeError("Deskpilot.configure: unknown option " + JSON.stringify(option) +
          " (known: " + Object.keys(VALIDATE).join(", ") + ")");
      }
      next[option] = VALIDATE[option]("Deskpilot.configure: " + option, options[option]);
    });
    Object.keys(next).forEach(function (option) { config[option] = next[option]; });
    apply();
  }

  // Data attributes are read once; a bad one is reported and left at its default.
  function configureFromAttributes() {
    var attributes = { title: "title", accent: "accent", launcherLabel: "launcher-label",
      position: "position", greeting: "greeting", prompts: "prompts", lang: "lang" };
    Object.keys(attributes).forEach(function (option) {
      var value = data[option];
      if (value === undefined) return;
      if (option === "prompts") value = value.split("|");
      try {
        config[option] = VALIDATE[option]("data-" + attributes[option], value);
      } catch (error) {
        if (window.console) console.warn("Deskpilot widget: " + error.message + "; using the default");
      }
    });
  }

  function language() {
    if (config.lang) return shippedLanguage(config.lang);
    var wanted = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
    for (var i = 0; i < wanted.length; i++) {
      if (shippedLanguage(wanted[i])) return shippedLanguage(wanted[i]);
    }
    return "en";
  }

  var strings = STRINGS.en;
  function t(key, vars) {
    vars = vars || {};
    return strings[key].replace(/\{(\w+)\}/g, function (_, name) {
      return name === "title" ? title() : String(vars[name]);
    });
  }
  function title() { return config.title || strings.title; }

  // ---- colour: a readable text colour for any accent (WCAG 2 contrast) --------------------------
  var probe = null;
  function rgb(colour) {
    // Computed styles give rgb() for hex, names, hsl(); a canvas resolves the rest (oklch, lab...).
    probe = probe || el("span");
    probe.style.color = colour;
    ui.appendChild(probe);
    var computed = getComputedStyle(probe).color;
    probe.remove();
    var match = /^rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)$/.exec(computed);
    var parts;
    if (match) {
      parts = [+match[1], +match[2], +match[3], match[4] === undefined ? 1 : +match[4]];
    } else {
      var context = el("canvas").getContext("2d");
      context.fillStyle = colour;
      context.fillRect(0, 0, 1, 1);
      var pixel = context.getImageData(0, 0, 1, 1).data;
      parts = [pixel[0], pixel[1], pixel[2], pixel[3] / 255];
    }
    // A translucent accent is shown over white: contrast is computed for what is seen.
    return [0, 1, 2].map(function (i) { return Math.round(parts[i] * parts[3] + 255 * (1 - parts[3])); });
  }
  function luminance(colour) {
    var channel = colour.map(function (value) {
      value /= 255;
      return value <= 0.04045 ? value / 12.92 : Math.pow((value + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * channel[0] + 0.7152 * channel[1] + 0.0722 * channel[2];
  }
  function contrast(a, b) {
    var la = luminance(a), lb = luminance(b);
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  }
  function css(colour) { return "rgb(" + colour.join(",") + ")"; }

  function applyColours() {
    if (!host.isConnected) return; // computed styles need the page: mount() comes back here
    var accent = rgb(config.accent || DEFAULT_ACCENT);
    var white = [255, 255, 255], black = [0, 0, 0];
    // Black or white: one of the two always reaches 4.5:1 against any opaque colour.
    var onAccent = contrast(accent, white) >= contrast(accent, black) ? white : black;
    // Text and focus rings in the accent on light surfaces: darkened until they reach 4.5:1.
    var ink = accent;
    for (var step = 1; contrast(ink, BUBBLE) < 4.5 && step <= 20; step++) {
      ink = accent.map(function (value) { return Math.round(value * (1 - step / 20)); });
    }
    ui.style.setProperty("--accent", css(accent));
    ui.style.setProperty("--on-accent", css(onAccent));
    ui.style.setProperty("--ink", css(ink));
  }

  // ---- layout -------------------------------------------------------------------------------
  var host = el("div", { id: "deskpilot-widget" });
  var root = host.attachShadow({ mode: "open" });
  var style = el("style");
  style.textContent = STYLE;
  var ui = el("div", { class: "ui" });
  var launcher = el("button", { class: "launcher", type: "button", "aria-expanded": "false",
    "aria-haspopup": "dialog", "aria-controls": "deskpilot-panel", "data-testid": "deskpilot-launcher" });
  var launcherText = el("span");
  launcher.append(icon("chat"), launcherText);
  var panel = el("div", { class: "panel", id: "deskpilot-panel", role: "dialog", tabindex: "-1",
    "data-testid": "deskpilot-panel" });
  panel.hidden = true;
  var header = el("header");
  var titleNode = el("span", { class: "title" });
  var close = el("button", { type: "button", "data-i18n-label": "close", "data-testid": "deskpilot-close" });
  close.appendChild(icon("close"));
  header.append(titleNode, close);
  var log = el("div", { class: "log", role: "region", tabindex: "0", "data-i18n-label": "conversation",
    "data-testid": "deskpilot-log" });
  var start = el("div", { class: "start", "data-testid": "deskpilot-start" });
  var greeting = el("p", { class: "greeting" });
  var prompts = el("ul", { class: "prompts", "data-i18n-label": "prompts" });
  start.append(greeting, prompts);
  log.appendChild(start);
  var errorLine = el("p", { class: "error", role: "alert", "data-testid": "deskpilot-error" });
  // New answers are read out from here, politely and whole (not delta by delta).
  var status = el("p", { class: "sr", role: "status", "aria-live": "polite", "aria-atomic": "true",
    "data-testid": "deskpilot-status" });
  var handoff = el("button", { class: "handoff", type: "button", "data-testid": "deskpilot-handoff" });
  handoff.append(icon("person"), el("span", { "data-i18n": "handoff" }));
  var form = el("form", { "data-i18n-label": "form" });
  var inputId = "deskpilot-input";
  var label = el("label", { for: inputId, class: "sr", "data-i18n": "message" });
  var input = el("textarea", { id: inputId, rows: "2", "data-testid": "deskpilot-input" });
  var send = el("button", { class: "send", type: "submit", "data-testid": "deskpilot-send" });
  send.append(icon("send"), el("span", { "data-i18n": "send" }));
  form.append(label, input, send);
  // Who answers once a person has the conversation, and when they closed it.
  var agentBar = el("p", { class: "agent", "data-testid": "deskpilot-agent" });
  panel.append(header, agentBar, log, errorLine, status, handoff, form);
  ui.append(launcher, panel);
  root.append(style, ui);

  // Everything that depends on the configuration; run again by Deskpilot.configure.
  function apply() {
    var lang = language();
    strings = STRINGS[lang];
    ui.setAttribute("lang", lang);
    ui.classList.toggle("left", config.position === "left");
    root.querySelectorAll("[data-i18n]").forEach(function (node) { node.textContent = t(node.dataset.i18n); });
    root.querySelectorAll("[data-i18n-label]").forEach(function (node) {
      node.setAttribute("aria-label", t(node.dataset.i18nLabel));
    });
    launcherText.textContent = config.launcherLabel || t("launcher");
    titleNode.textContent = title();
    panel.setAttribute("aria-label", t("panel"));
    greeting.textContent = config.greeting || t("greeting");
    input.setAttribute("placeholder", t("placeholder"));
    prompts.replaceChildren.apply(prompts, config.prompts.map(function (prompt) {
      var button = el("button", { class: "prompt", type: "button", "data-testid": "deskpilot-prompt" }, prompt);
      button.addEventListener("click", function () {
        input.focus(); // the prompt disappears with the start screen: keep focus in the panel
        sendMessage(prompt);
      });
      var item = el("li");
      item.appendChild(button);
      return item;
    }));
    applyColours();
  }

  // The frame the launcher and panel are laid out in is the visual viewport, at scale 1: fixed
  // positioning alone follows the layout viewport, which a too-wide host page, pinch zoom or the
  // on-screen keyboard make larger than what is on screen.
  var compact = false;
  function fit() {
    var vv = window.visualViewport;
    var scale = vv ? vv.scale || 1 : 1;
    var width = vv ? vv.width * scale : document.documentElement.clientWidth;
    var height = vv ? vv.height * scale : window.innerHeight;
    if (vv) {
      setHostStyle("width", width + "px");
      setHostStyle("height", height + "px");
      setHostStyle("transform", "translate(" + vv.offsetLeft + "px," + vv.offsetTop + "px) scale(" + 1 / scale + ")");
    }
    compact = width < COMPACT_WIDTH;
    ui.classList.toggle("compact", compact);
    if (compact && !panel.hidden) panel.setAttribute("aria-modal", "true");
    else panel.removeAttribute("aria-modal");
  }
  var fitQueued = false;
  function queueFit() {
    if (fitQueued) return;
    fitQueued = true;
    requestAnimationFrame(function () { fitQueued = false; fit(); });
  }
  function setHostStyle(property, value) { host.style.setProperty(property, value, "important"); }
  // Without visualViewport: the layout viewport, in dynamic viewport units where supported.
  [["position", "fixed"], ["left", "0"], ["top", "0"], ["width", "100%"], ["height", "100%"],
    ["height", "100dvh"], ["margin", "0"], ["padding", "0"], ["border", "0"], ["display", "block"],
    ["transform-origin", "0 0"], ["pointer-events", "none"], ["z-index", "2147483000"]
  ].forEach(function (pair) { setHostStyle(pair[0], pair[1]); });

  // ---- state --------------------------------------------------------------------------------
  var threadId = null;
  var busy = false;
  var historyLoaded = false;

  function scrollDown() { log.scrollTop = log.scrollHeight; }
  function showError(message) { errorLine.textContent = message || ""; }
  function announce(message) { status.textContent = message; }
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
  // The start screen (greeting, suggested questions) shows until the first message.
  function updateStart() { start.hidden = !!log.querySelector(".msg"); }

  // ---- rendering ----------------------------------------------------------------------------
  function renderUser(text, itemId) {
    var node = el("div", { class: "msg user", "data-role": "user" }, text);
    if (itemId) node.dataset.itemId = itemId;
    log.appendChild(node);
    updateStart();
    scrollDown();
    return node;
  }

  function assistantNode(itemId) {
    var existing = itemId && log.querySelector('[data-item-id="' + cssEscape(itemId) + '"]');
    if (existing) return existing;
    var node = el("div", { class: "msg assistant", "data-role": "assistant", "data-testid": "deskpilot-answer" });
    node.dataset.itemId = itemId;
    node.appendChild(el("div", { class: "text" }));
    log.appendChild(node);
    updateStart();
    return node;
  }

  function cssEscape(value) {
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
    var list = el("ul", { class: "sources", "data-i18n-label": "sources", "aria-label": t("sources") });
    (contents || []).forEach(function (part) {
      (part.annotations || []).forEach(function (annotation) {
        var source = annotation.source || {};
        var url = source.type === "url" ? safeUrl(source.url) : null;
        if (!url || seen[url]) return;
        seen[url] = true;
        var li = el("li");
        var link = el("a", { href: url, target: "_blank", rel: "noopener noreferrer",
          "data-testid": "deskpilot-source" }, source.title || url);
        link.append(" ", el("span", { class: "sr", "data-i18n": "newTab" }, t("newTab")));
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
    var box = el("div", { class: "feedback", role: "group", "data-i18n-label": "feedback",
      "aria-label": t("feedback") });
    [["positive", "up", "helpful"], ["negative", "down", "notHelpful"]].forEach(function (spec) {
      var button = el("button", { type: "button", "aria-pressed": "false", "data-i18n-label": spec[2],
        "aria-label": t(spec[2]), "data-testid": "deskpilot-feedback-" + spec[0] });
      button.appendChild(icon(spec[1]));
      button.addEventListener("click", function () { sendFeedback(box, button, itemId, spec[0]); });
      box.appendChild(button);
    });
    node.appendChild(box);
  }

  // A person's message carries who wrote it as an entity annotation (data.deskpilot).
  function personOf(item) {
    var found = null;
    (item.content || []).forEach(function (part) {
      (part.annotations || []).forEach(function (annotation) {
        var source = annotation.source || {};
        if (source.type === "entity" && source.data && source.data.deskpilot) found = source.data.deskpilot;
      });
    });
    return found;
  }

  function showPerson(person) {
    var name = person.author || t("title");
    if (person.event === "closed") {
      agentBar.textContent = t("closedBy", { name: name });
      agentBar.dataset.state = "closed";
    } else {
      agentBar.textContent = t("chattingWith", { name: name });
      agentBar.dataset.state = "person";
    }
  }

  function finishAssistant(item) {
    var node = assistantNode(item.id);
    var text = (item.content || []).map(function (part) { return part.text || ""; }).join("");
    node.querySelector(".text").textContent = text;
    node.removeAttribute("aria-busy");
    var person = personOf(item);
    if (person && person.event === "handoff") {
      // The AI handed the conversation over: from now on, watch for the person's replies.
      person = null;
      watchForPerson();
    } else if (person && person.event === "handoff_pending") {
      person = null;  // the hand-over's own question (an email address): nobody's there yet
    }
    if (person) {
      node.classList.add("person");
      node.setAttribute("data-testid", "deskpilot-person-message");
      if (!node.querySelector(".who")) {
        node.insertBefore(el("span", { class: "who", "data-testid": "deskpilot-person-name" },
          t("person", { name: person.author || t("title") })), node.firstChild);
      }
      showPerson(person);
    } else {
      renderSources(node, item.content);
      renderFeedback(node, item.id);
    }
    lastItemId = item.id;
    scrollDown();
    return text;
  }

  function renderItem(item) {
    var known = log.querySelector('[data-item-id="' + cssEscape(item.id) + '"]');
    if (item.type === "user_message") {
      lastItemId = item.id;
      if (known) return false;
      var text = (item.content || []).map(function (part) { return part.text || ""; }).join("");
      renderUser(text, item.id);
      return true;
    } else if (item.type === "assistant_message") {
      finishAssistant(item);
      return !known;
    }
    return false;
  }

  // ---- protocol -----------------------------------------------------------------------------
  // The signed user token, from the host's getUserToken callback (null: anonymous).
  var userToken = null;
  function freshToken(existing) {
    if (!config.getUserToken) return Promise.resolve(null);
    return Promise.resolve(config.getUserToken(existing)).then(function (token) {
      userToken = token || null;
      return userToken;
    });
  }

  function send_(body, token) {
    var headers = { "Content-Type": "application/json", Accept: "text/event-stream, application/json" };
    if (token) headers.Authorization = "Bearer " + token;
    return fetch(endpoint, { method: "POST", credentials: "include", headers: headers,
      body: JSON.stringify(body) });
  }

  function post(body) {
    var ready = userToken || !config.getUserToken ? Promise.resolve(userToken) : freshToken(null);
    return ready.then(function (token) {
      return send_(body, token).then(function (response) {
        // An expired (or revoked) token: ask the host for a fresh one and try once more.
        if (response.status !== 401 || !config.getUserToken) return response;
        return freshToken(token).then(function (fresh) { return send_(body, fresh); });
      });
    }).then(function (response) {
      if (response.ok) return response;
      return response.text().then(function (raw) {
        var message;
        try { message = JSON.parse(raw).error; } catch (e) { message = null; }
        var error = new Error(message || t("status", { status: response.status }));
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
        noteThread(event.thread);
        break;
      case "thread.updated":
        noteThread(event.thread);
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
          announce(t("answer", { text: finishAssistant(event.item) }));
        } else if (event.item.type === "user_message") {
          var pending = log.querySelector(".user:not([data-item-id])");
          if (pending) pending.dataset.itemId = event.item.id;
          lastItemId = event.item.id;
        }
        break;
      case "error":
        showError(event.message || t("failed"));
        break;
      case "notice":
        announce(event.message || "");
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
          var payload = frame.split("\n").filter(function (line) { return line.indexOf("data:") === 0; })
            .map(function (line) { return line.slice(5).replace(/^ /, ""); }).join("\n");
          if (!payload) return;
          try { handleEvent(JSON.parse(payload)); } catch (e) { showError(t("unreadable")); }
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
    var answersBefore = log.querySelectorAll(".assistant").length;
    return post(body).then(readStream).then(function () {
      // No answer at all: a person owns the conversation and the AI kept quiet.
      if (log.querySelectorAll(".assistant").length === answersBefore) watchForPerson();
    }).catch(function (error) {
      if (error.status === 404 && threadId) forget(); // the thread is gone: start anew next time
      showError(error.message || t("unreachable"));
    }).then(function () {
      setBusy(false);
      log.querySelectorAll("[aria-busy]").forEach(function (node) { node.removeAttribute("aria-busy"); });
      schedulePoll(true);
    });
  }

  // ---- a person's replies, without a reload ---------------------------------------------------
  var escalated = false;
  var lastItemId = null;
  var POLL_FIRST = 2000, POLL_MAX = 30000;
  var pollDelay = POLL_FIRST, pollTimer = null;

  function watchForPerson() {
    if (escalated) return;
    escalated = true;
    schedulePoll(true);
  }

  // Thread metadata reaches a client only through a server of its own (ChatKit's responses
  // leave it out); the handoff marker on a message and a silent turn say the same.
  function noteThread(thread) {
    if (thread && thread.metadata && thread.metadata.escalated) watchForPerson();
  }

  function schedulePoll(soon) {
    if (soon) pollDelay = POLL_FIRST;
    if (pollTimer) clearTimeout(pollTimer);
    pollTimer = null;
    if (!escalated || !threadId || panel.hidden) return;
    pollTimer = setTimeout(poll, pollDelay);
  }

  function poll() {
    pollTimer = null;
    if (busy || document.visibilityState === "hidden") { schedulePoll(); return; }
    var params = { thread_id: threadId, order: "asc", limit: 50 };
    if (lastItemId) params.after = lastItemId;
    request("items.list", params).then(function (result) {
      var items = result.data || [];
      var fresh = items.map(renderItem).some(Boolean);
      // Something new: look again soon; nothing: back off, up to POLL_MAX.
      pollDelay = fresh || result.has_more ? POLL_FIRST : Math.min(pollDelay * 1.5, POLL_MAX);
      var last = items[items.length - 1];
      if (fresh && last.type === "assistant_message") {
        var person = personOf(last);
        var text = (last.content || []).map(function (part) { return part.text || ""; }).join("");
        announce(person ? (person.author || t("title")) + ": " + text : t("answer", { text: text }));
      }
    }, function () {
      pollDelay = Math.min(pollDelay * 2, POLL_MAX);
    }).then(function () { schedulePoll(); });
  }

  function sendFeedback(box, button, itemId, kind) {
    if (!threadId) return;
    request("items.feedback", { thread_id: threadId, item_ids: [itemId], kind: kind }).then(function () {
      box.querySelectorAll("button").forEach(function (b) { b.setAttribute("aria-pressed", String(b === button)); });
      announce(t("thanks"));
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
      noteThread(thread);
      if (thread.items.has_more && thread.items.after) return page(thread.items.after);
    }).catch(function (error) {
      if (error.status === 404) { forget(); return; }
      showError(error.message || t("history"));
    });
  }

  // ---- wiring -------------------------------------------------------------------------------
  // Opened by touch, focus goes to the panel, not the composer: the on-screen keyboard would
  // otherwise cover half the screen before the visitor chose to type.
  function setOpen(open, byTouch) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    fit();
    if (open) {
      loadHistory().then(function () { scrollDown(); schedulePoll(true); });
      (byTouch ? panel : input).focus();
    } else {
      launcher.focus();
    }
  }

  function focusable() {
    return Array.prototype.filter.call(
      panel.querySelectorAll("button,a[href],textarea,[tabindex='0']"),
      function (node) { return !node.disabled && node.getClientRects().length > 0; });
  }

  var pointerType = "";
  launcher.addEventListener("pointerdown", function (event) { pointerType = event.pointerType; });
  launcher.addEventListener("keydown", function () { pointerType = ""; });
  launcher.addEventListener("click", function () {
    setOpen(panel.hidden, pointerType === "touch");
    pointerType = "";
  });
  close.addEventListener("click", function () { setOpen(false); });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim() || busy) return;
    input.value = "";
    sendMessage(text);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  handoff.addEventListener("click", function () { sendMessage(t("handoffMessage")); });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      event.stopPropagation();
      setOpen(false);
    } else if (event.key === "Tab" && compact) {
      // Full-screen, the panel is modal: Tab cycles inside it.
      var items = focusable();
      var first = items[0], last = items[items.length - 1];
      var active = root.activeElement;
      if (event.shiftKey && (active === first || active === panel)) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && active === last) {
        event.preventDefault();
        first.focus();
      }
    }
  });

  configureFromAttributes();
  apply();

  window.Deskpilot = {
    configure: configure,
    open: function () { setOpen(true); },
    close: function () { if (!panel.hidden) setOpen(false); }
  };

  function mount() {
    document.body.appendChild(host);
    applyColours();
    fit();
    if (window.visualViewport) {
      window.visualViewport.addEventListener("resize", queueFit);
      window.visualViewport.addEventListener("scroll", queueFit);
    }
    window.addEventListener("resize", queueFit);
    if (data.open === "true") setOpen(true);
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();

/* KPI tree editor: collapsing, drag-and-drop moves, formula help, pasting targets and their
 * warnings. Every listener is delegated on the document, so fragments swapped in by htmx work
 * without re-initialising anything. Without this script the pages still work as plain links and
 * forms (the parent select in the node form is the keyboard alternative to drag and drop). */
(function () {
  "use strict";

  // Links in the tree are boosted into the side panel: keep the reader's place in a long tree
  // (the panel is brought into view below, only when it is off screen).
  if (window.htmx) window.htmx.config.scrollIntoViewOnBoost = false;

  const $ = (selector, root) => (root || document).querySelector(selector);
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));

  function editor() { return $("#kt-editor"); }

  function csrfToken() {
    const ed = editor();
    if (ed && ed.dataset.csrf) return ed.dataset.csrf;
    const input = $("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function say(text, isError) {
    const alert = $("#kt-alert");
    const flash = $("#kt-flash");
    if (isError) {
      if (!alert) { window.alert(text); return; }
      alert.textContent = text;
      alert.hidden = !text;
      if (flash) flash.textContent = "";
    } else {
      if (alert) { alert.textContent = ""; alert.hidden = true; }
      if (flash) flash.textContent = text;
    }
  }

  function refreshTree() {
    if (window.htmx && $("#kt-tree")) window.htmx.trigger(document.body, "kpitree-changed");
    else window.location.reload();
  }

  // -- collapsing ---------------------------------------------------------------------------------
  // Collapsed nodes are remembered by code, so a refreshed tree keeps them collapsed.
  const collapsed = new Set();

  function setCollapsed(li, yes) {
    li.classList.toggle("kt-collapsed", yes);
    const toggle = $(":scope > .kt-card .kt-toggle", li);
    if (toggle) toggle.setAttribute("aria-expanded", String(!yes));
    const code = li.id.replace(/^node-/, "");
    if (yes) collapsed.add(code); else collapsed.delete(code);
  }

  document.addEventListener("click", (event) => {
    const toggle = event.target.closest(".kt-toggle");
    if (toggle) {
      const li = toggle.closest(".kt-node");
      setCollapsed(li, !li.classList.contains("kt-collapsed"));
      return;
    }
    const expand = event.target.closest("[data-expand]");
    if (expand) {
      const open = expand.dataset.expand === "all";
      $$(".kt-node").forEach((li) => {
        if ($(":scope > .kt-children", li)) setCollapsed(li, !open);
      });
      return;
    }
    const chip = event.target.closest(".kt-chip");
    if (chip) {
      const input = formulaInputOf(chip);
      if (input) insertCode(input, chip.dataset.insert, null);
      return;
    }
    const option = event.target.closest(".kt-suggest li");
    if (option) {
      const input = formulaInputOf(option);
      if (input) acceptSuggestion(input, option.dataset.insert);
    }
  });

  // -- drag and drop: drop a node on another to move it (with its subtree) under that node --------
  let dragged = null;

  function dropTargetOf(event) {
    const target = event.target.closest && event.target.closest("[data-code], [data-drop-parent]");
    if (!target || !dragged || target === dragged) return null;
    if (target.closest(".kt-formula")) return null;
    return target;
  }

  function clearDropMarks() {
    $$(".kt-drop-target").forEach((el) => el.classList.remove("kt-drop-target"));
  }

  document.addEventListener("dragstart", (event) => {
    const card = event.target.closest && event.target.closest("[data-move-url]");
    if (!card) return;
    dragged = card;
    card.classList.add("kt-dragging-node");
    document.body.classList.add("kt-dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.code);
  });

  document.addEventListener("dragend", () => {
    if (dragged) dragged.classList.remove("kt-dragging-node");
    dragged = null;
    document.body.classList.remove("kt-dragging");
    clearDropMarks();
  });

  document.addEventListener("dragover", (event) => {
    const target = dropTargetOf(event);
    if (!target) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    if (!target.classList.contains("kt-drop-target")) {
      clearDropMarks();
      target.classList.add("kt-drop-target");
    }
  });

  document.addEventListener("drop", (event) => {
    const target = dropTargetOf(event);
    if (!target) return;
    event.preventDefault();
    const card = dragged;
    const parent = target.dataset.dropParent !== undefined ? target.dataset.dropParent : target.dataset.code;
    clearDropMarks();
    moveNode(card, parent);
  });

  async function moveNode(card, parent) {
    let data;
    try {
      const response = await fetch(card.dataset.moveUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
        body: new URLSearchParams({ parent: parent }),
      });
      data = await response.json();
    } catch (error) {
      data = { ok: false, message: (editor() && editor().dataset.errorText) || String(error) };
    }
    say(data.message, !data.ok);
    if (data.ok) refreshTree();
  }

  // -- formula: child codes offered as you type, checked as you type, with a preview --------------
  // The grammar is the server's (kpitree/formula.py): the page gives each child code as a formula
  // writes it (the chips' data-insert), and the formula check says whether the text is valid and
  // where it is not. What is here is only the typing help around them.
  let checkTimer = null;
  let checkSeq = 0;

  function formulaBoxOf(el) {
    const field = el.closest(".kt-field");
    return field ? $(".kt-formula", field) : null;
  }

  function formulaInputOf(el) {
    const field = el.closest(".kt-field");
    return field ? $("[data-formula]", field) : null;
  }

  function children(box) {
    return $$(".kt-chip", box).map((chip) => ({ code: chip.dataset.code, text: chip.dataset.insert }));
  }

  // The code being typed before the caret (after a "[" or not), which a suggestion replaces.
  function wordBeforeCaret(input) {
    const before = input.value.slice(0, input.selectionStart);
    const bracket = before.match(/\[([A-Za-z0-9_.-]*)$/);
    if (bracket) return { text: bracket[1], start: before.length - bracket[0].length };
    const word = before.match(/[A-Za-z_][A-Za-z0-9_.-]*$/);
    return word ? { text: word[0], start: before.length - word[0].length } : { text: "", start: before.length };
  }

  function insertCode(input, text, start) {
    const caret = input.selectionStart == null ? input.value.length : input.selectionStart;
    const from = start == null ? caret : start;
    const before = input.value.slice(0, from);
    const after = input.value.slice(caret);
    input.value = before + text + after;
    const pos = before.length + text.length;
    input.focus();
    input.setSelectionRange(pos, pos);
    closeSuggestions(input);
    scheduleCheck(input);
  }

  function acceptSuggestion(input, text) {
    insertCode(input, text, wordBeforeCaret(input).start);
  }

  function suggestionList(input) {
    const box = formulaBoxOf(input);
    return box ? $(".kt-suggest", box) : null;
  }

  function closeSuggestions(input) {
    const list = suggestionList(input);
    if (list) { list.hidden = true; list.replaceChildren(); }
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function suggest(input) {
    const box = formulaBoxOf(input);
    const list = suggestionList(input);
    if (!box || !list) return;
    const word = wordBeforeCaret(input).text.toLowerCase();
    const offered = children(box).filter(({ code }) => word && code.toLowerCase().startsWith(word) && code.toLowerCase() !== word);
    if (!offered.length) { closeSuggestions(input); return; }
    list.replaceChildren(...offered.map(({ code, text }, i) => {
      const li = document.createElement("li");
      li.id = "kt-suggest-" + i;
      li.setAttribute("role", "option");
      li.dataset.code = code;
      li.dataset.insert = text;
      li.textContent = code;
      li.setAttribute("aria-selected", i === 0 ? "true" : "false");
      return li;
    }));
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    input.setAttribute("aria-activedescendant", "kt-suggest-0");
  }

  document.addEventListener("focusin", (event) => {
    const input = event.target;
    if (!input.matches || !input.matches("[data-formula]")) return;
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", "kt-suggest");
    if (!input.hasAttribute("aria-expanded")) input.setAttribute("aria-expanded", "false");
  });

  document.addEventListener("focusout", (event) => {
    const input = event.target;
    if (input.matches && input.matches("[data-formula]")) {
      // Let a click on a suggestion land first.
      setTimeout(() => { if (document.activeElement !== input) closeSuggestions(input); }, 150);
    }
  });

  document.addEventListener("keydown", (event) => {
    const input = event.target;
    if (!input.matches || !input.matches("[data-formula]")) return;
    const list = suggestionList(input);
    if (!list || list.hidden) return;
    const options = $$("li", list);
    let index = options.findIndex((o) => o.getAttribute("aria-selected") === "true");
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      index = (index + (event.key === "ArrowDown" ? 1 : options.length - 1)) % options.length;
      options.forEach((o, i) => o.setAttribute("aria-selected", i === index ? "true" : "false"));
      input.setAttribute("aria-activedescendant", options[index].id);
    } else if (event.key === "Enter" || event.key === "Tab") {
      if (index >= 0) { event.preventDefault(); acceptSuggestion(input, options[index].dataset.insert); }
    } else if (event.key === "Escape") {
      event.preventDefault();
      closeSuggestions(input);
    }
  });

  function scheduleCheck(input) {
    clearTimeout(checkTimer);
    checkTimer = setTimeout(() => checkFormula(input), 250);
  }

  async function checkFormula(input) {
    const box = formulaBoxOf(input);
    if (!box) return;
    const message = $(".kt-formula-msg", box);
    const preview = $(".kt-formula-preview", box);
    const url = new URL(box.dataset.checkUrl, window.location.href);
    url.searchParams.set("formula", input.value);
    if (box.dataset.node) url.searchParams.set("node", box.dataset.node);
    const mine = ++checkSeq;
    let data;
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      data = await response.json();
    } catch (error) {
      return; // the server checks again on save
    }
    if (mine !== checkSeq) return; // a newer check is on its way
    if (data.empty) {
      message.className = "kt-formula-msg";
      message.replaceChildren();
      preview.hidden = true;
      input.removeAttribute("aria-invalid");
      return;
    }
    if (!data.ok) {
      message.className = "kt-formula-msg is-bad";
      const text = document.createElement("span");
      text.textContent = data.message;
      const parts = [text];
      if (data.position !== null && data.position !== undefined) {
        const where = document.createElement("code");
        const pos = Math.min(data.position, input.value.length);
        const mark = document.createElement("mark");
        mark.textContent = input.value.charAt(pos) || " ";
        where.append(input.value.slice(0, pos), mark, input.value.slice(pos + 1));
        parts.push(document.createElement("br"), where);
      }
      message.replaceChildren(...parts);
      input.setAttribute("aria-invalid", "true");
      preview.hidden = true;
      return;
    }
    message.className = "kt-formula-msg is-ok";
    message.textContent = box.dataset.okText || "OK";
    input.removeAttribute("aria-invalid");
    if (data.preview) {
      const p = data.preview;
      let text = p.display;
      if (p.period_label) text += " (" + p.period_label + ")";
      if (p.missing && p.missing.length) text += " — " + (box.dataset.missingText || "") + " " + p.missing.join(", ");
      if (!p.period) text = box.dataset.noDataText || "—";
      $("output", preview).textContent = text;
      preview.hidden = false;
    } else {
      preview.hidden = true;
    }
  }

  // -- targets: paste twelve months at once; warnings as you type --------------------------------
  function warnRow(row) {
    const table = row.closest("table");
    const input = $(".kt-target-input", row);
    const cell = $(".kt-warn", row);
    if (!table || !input || !cell) return;
    const ratio = parseFloat(table.dataset.warnRatio);
    const typed = window.KpiNumbers.parse(input.value); // static/js/numbers.js
    const value = typed === null ? NaN : typed;
    const warnings = [];
    [["Benchmark", row.dataset.benchmark], ["History", row.dataset.history]].forEach(([kind, ref]) => {
      if (ref === undefined || ref === "" || Number.isNaN(value)) return;
      const reference = Number(ref);
      if (!reference) return;
      const gap = (value - reference) / Math.abs(reference);
      if (Math.abs(gap) > ratio) {
        const template = table.dataset["msg" + (gap > 0 ? "Above" : "Below") + kind] || "%(pct)s";
        warnings.push(template.replace("%(pct)s", window.KpiNumbers.pct(Math.abs(gap) * 100, 0)));
      }
    });
    cell.replaceChildren(...warnings.map((text) => {
      const span = document.createElement("span");
      span.className = "kt-warning";
      span.textContent = "⚠ " + text;
      return span;
    }));
  }

  document.addEventListener("paste", (event) => {
    const input = event.target;
    if (!input.matches || !input.matches(".kt-target-input")) return;
    const text = (event.clipboardData || window.clipboardData).getData("text");
    const parts = text.replace(/[\r\n]+$/, "").split(/\t|\r?\n/).map((s) => s.trim());
    if (parts.length < 2) return; // one value: the browser's own paste
    event.preventDefault();
    const inputs = $$(".kt-target-input", input.closest("table"));
    const start = inputs.indexOf(input);
    parts.slice(0, inputs.length - start).forEach((part, i) => {
      inputs[start + i].value = part;
      warnRow(inputs[start + i].closest("tr"));
    });
  });

  document.addEventListener("input", (event) => {
    const input = event.target;
    if (!input.matches) return;
    if (input.matches("[data-formula]")) {
      suggest(input);
      scheduleCheck(input);
    } else if (input.matches(".kt-target-input")) {
      warnRow(input.closest("tr"));
    }
  });

  document.addEventListener("change", (event) => {
    const select = event.target;
    if (!select.matches) return;
    if (select.matches("[data-rationale-all]") && select.value) {
      $$("select[name^=rationale_]", select.closest("form")).forEach((s) => { s.value = select.value; });
    } else if (select.matches("[data-template-match]")) {
      // Offer the template of the engagement's outsourcing type and phase.
      const option = select.selectedOptions[0];
      const form = select.closest("form");
      const match = option && $(`#id_template option[data-type="${option.dataset.type}"][data-phase="${option.dataset.phase}"]`, form);
      if (match) match.selected = true;
    }
  });

  // -- htmx: keep collapsed nodes collapsed, bring the panel into view, report failures -----------
  document.addEventListener("htmx:afterSwap", (event) => {
    const target = event.detail.target;
    if (target.id === "kt-tree") {
      collapsed.forEach((code) => {
        const li = document.getElementById("node-" + code);
        if (li && $(":scope > .kt-children", li)) setCollapsed(li, true);
      });
    } else if (target.id === "kt-panel") {
      const title = $(".kt-panel-title", target);
      const rect = target.getBoundingClientRect();
      if (rect.top < 0 || rect.top > window.innerHeight * 0.8) target.scrollIntoView({ block: "start" });
      if (!focusFixingField(target) && title) title.focus({ preventScroll: true });
    }
  });

  // A design finding's "fix it" link opens the node form with ?focus=<field>: the server puts it
  // in data-focus (only a field the form has); focus that field and mark its row.
  function focusFixingField(scope) {
    const body = $("[data-focus]", scope);
    const field = body && $("[name='" + body.dataset.focus + "']", body);
    if (!field) return false;
    const row = field.closest("p, div, label");
    if (row) row.classList.add("kt-fixing");
    field.focus({ preventScroll: false });
    return true;
  }
  focusFixingField(document);  // the form opened as a page of its own (no htmx)

  document.addEventListener("htmx:responseError", (event) => {
    const ed = editor();
    say((ed && ed.dataset.errorText) || "Error " + event.detail.xhr.status, true);
  });
})();

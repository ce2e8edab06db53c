/* flask-itms: small progressive enhancements. Everything works without this file.
 *
 * 1. Panel forms (data-itms-async) are sent with fetch and the answer, the refreshed panel,
 *    replaces the old one in place; focus moves to its notice so screen readers hear it.
 * 2. <time data-itms-time> is shown in the reader's own time zone.
 * 3. A template body (data-itms-count) shows its encoding and segment count as it is typed,
 *    counted the way flask_itms.messages.segments counts it.
 */
(function () {
  "use strict";
  if (window.itmsEnhanced) {
    return;
  }
  window.itmsEnhanced = true;

  var PARTIAL_HEADER = "X-ITMS-Partial";
  var FRAGMENT_HEADER = "X-ITMS-Fragment";

  // -- local times -------------------------------------------------------------------------

  var timeFormat = window.Intl && Intl.DateTimeFormat
    ? new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", year: "numeric", hour: "numeric", minute: "2-digit" })
    : null;

  function localTimes(root) {
    if (!timeFormat) {
      return;
    }
    root.querySelectorAll("time[data-itms-time]").forEach(function (element) {
      var when = new Date(element.getAttribute("datetime"));
      if (isNaN(when.getTime())) {
        return;
      }
      element.title = element.textContent;
      element.textContent = timeFormat.format(when);
    });
  }

  // -- the panel, in place -----------------------------------------------------------------

  function setBusy(panel, busy) {
    panel.setAttribute("aria-busy", busy ? "true" : "false");
    panel.querySelectorAll("button").forEach(function (button) {
      button.disabled = busy;
    });
  }

  function showProblem(panel, text) {
    var notices = panel.querySelector("[data-itms-notices]");
    if (!notices) {
      return;
    }
    var notice = document.createElement("p");
    notice.className = "itms-notice itms-notice--error";
    notice.setAttribute("role", "alert");
    notice.textContent = text;
    notices.replaceChildren(notice);
    notices.focus();
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-itms-async")) {
      return;
    }
    var panel = form.closest("[data-itms-panel]");
    if (!panel || !window.fetch || !window.FormData) {
      return; // the browser posts the form and the server redirects back: the no-script path
    }
    event.preventDefault();
    if (panel.getAttribute("aria-busy") === "true") {
      return;
    }
    var body = new FormData(form);
    var headers = {};
    headers[PARTIAL_HEADER] = "panel";
    setBusy(panel, true);
    fetch(form.action, { method: "POST", body: body, headers: headers, credentials: "same-origin" })
      .then(function (response) {
        if (response.headers.get(FRAGMENT_HEADER) !== "panel") {
          throw new Error("The server answered " + response.status + ".");
        }
        return response.text();
      })
      .then(function (html) {
        var holder = document.createElement("template");
        holder.innerHTML = html;
        var fresh = holder.content.querySelector("[data-itms-panel]");
        if (!fresh) {
          throw new Error("The answer held no panel.");
        }
        panel.replaceWith(fresh);
        localTimes(fresh);
        var notices = fresh.querySelector("[data-itms-notices]");
        var target = notices && notices.textContent.trim() ? notices : fresh.querySelector(".itms-panel__title");
        if (target) {
          target.focus();
        }
      })
      .catch(function (error) {
        setBusy(panel, false);
        showProblem(panel, "That did not go through (" + error.message + ") Reload the page and try again.");
      });
  });

  // -- live segment count ------------------------------------------------------------------

  // 3GPP TS 23.038: the GSM 7-bit default alphabet, and the extension table (two septets each).
  var GSM7 = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var GSM7_EXTENSION = "\f^{}\\[~]|€";
  var NAME = "[A-Za-z_][A-Za-z0-9_]*(?:\\.[A-Za-z_][A-Za-z0-9_]*)*";
  var PLACEHOLDER = new RegExp("\\$\\{(" + NAME + ")\\}", "g");
  var MALFORMED = new RegExp("\\$\\{(?!" + NAME + "\\})");

  function segments(text) {
    var characters = Array.from(text);
    var gsm = characters.every(function (c) {
      return GSM7.indexOf(c) >= 0 || GSM7_EXTENSION.indexOf(c) >= 0;
    });
    var widths = characters.map(function (c) {
      return gsm ? (GSM7_EXTENSION.indexOf(c) >= 0 ? 2 : 1) : c.length;
    });
    var single = gsm ? 160 : 70;
    var part = gsm ? 153 : 67;
    var total = widths.reduce(function (sum, width) { return sum + width; }, 0);
    var count = total === 0 ? 0 : 1;
    if (total > single) {
      var used = 0;
      widths.forEach(function (width) {
        if (used + width > part) {
          count += 1;
          used = 0;
        }
        used += width;
      });
    }
    return { encoding: gsm ? "GSM-7" : "UCS-2", characters: total, segments: count };
  }

  function describe(counted) {
    return counted.encoding + " · " + counted.segments + " segment" + (counted.segments === 1 ? "" : "s") +
      " · " + counted.characters + " character" + (counted.characters === 1 ? "" : "s");
  }

  function fill(body, samples) {
    var unknown = [];
    var text = body.replace(PLACEHOLDER, function (match, name) {
      if (Object.prototype.hasOwnProperty.call(samples, name)) {
        return samples[name];
      }
      unknown.push("${" + name + "}");
      return match;
    });
    var problem = "";
    if (MALFORMED.test(body)) {
      problem = "A placeholder is malformed: write ${name} or ${dotted.name}.";
    } else if (unknown.length) {
      problem = "Unknown placeholder " + unknown.join(", ") + ": it will be refused when you save.";
    }
    return { text: problem ? body : text, problem: problem };
  }

  function counter(textarea) {
    var output = document.getElementById(textarea.getAttribute("data-itms-count"));
    var problemBox = document.getElementById(textarea.getAttribute("data-itms-problem"));
    var previewBox = document.getElementById(textarea.getAttribute("data-itms-preview"));
    var samples = {};
    try {
      samples = JSON.parse(textarea.getAttribute("data-itms-samples") || "{}");
    } catch (error) {
      samples = {};
    }
    function update() {
      var filled = fill(textarea.value.trim(), samples);
      if (output) {
        output.textContent = describe(segments(filled.text));
      }
      if (problemBox) {
        problemBox.textContent = filled.problem;
      }
      if (previewBox) {
        previewBox.textContent = filled.text;
      }
    }
    // The server wrote the first count; recount as the editor types.
    textarea.addEventListener("input", update);
  }

  window.itmsSegments = segments; // for tests and host scripts

  function start() {
    localTimes(document);
    document.querySelectorAll("textarea[data-itms-count]").forEach(counter);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

// LabLink console: live progress. The pages work without this script;
// with it, every element marked data-op follows its operation through the
// server's Server-Sent Events, and the parts of the page marked
// data-refresh are fetched again when an operation ends; notices marked
// data-announce are announced; the schedule form's number of VMs is off
// while a destroy is chosen.
(function () {
  "use strict";

  var words = {
    queued: "Queued", running: "Running", succeeded: "Succeeded",
    failed: "Failed", interrupted: "Interrupted"
  };
  var followed = {};

  function announce(text) {
    var region = document.getElementById("announce");
    if (!region) { return; }
    // A change of text is what screen readers announce: clear it first so
    // that the same sentence twice is announced twice.
    region.textContent = "";
    window.setTimeout(function () { region.textContent = text; }, 50);
  }

  function live(status) { return status === "queued" || status === "running"; }

  function progressText(op) {
    if (op.status === "queued") { return "Waiting for its turn"; }
    if (op.resources_total === 0 && op.status === "running") { return "Planning"; }
    if (op.resources_total === 0) { return "No resource changes"; }
    return op.resources_completed + " of " + op.resources_total + " resources";
  }

  function show(el, op) {
    var bar = el.querySelector("progress");
    if (bar) {
      if (op.resources_total > 0) {
        bar.max = op.resources_total;
        bar.value = op.resources_completed;
        bar.textContent = op.resources_completed + " of " + op.resources_total;
      } else if (!live(op.status)) {
        bar.max = 1;
        bar.value = op.status === "succeeded" ? 1 : 0;
      }
    }
    var text = el.querySelector("[data-progress-text]");
    if (text) { text.textContent = progressText(op); }
    el.querySelectorAll("[data-pill]").forEach(function (pill) {
      pill.className = "pill pill-" + op.status;
      pill.textContent = words[op.status] || op.status;
    });
  }

  function refresh() {
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (resp) {
        if (!resp.ok) { throw new Error("HTTP " + resp.status); }
        return resp.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-refresh][id]").forEach(function (old) {
          var next = fresh.getElementById(old.id);
          if (next) { old.replaceWith(document.importNode(next, true)); }
        });
        start();
      })
      .catch(function () {
        announce("The page could not be updated; reload it to see the result.");
      });
  }

  function follow(el) {
    var id = el.getAttribute("data-op");
    var label = el.getAttribute("data-label") || "Operation " + id;
    var last = el.getAttribute("data-status");
    var source = new EventSource("/api/operations/" + encodeURIComponent(id) + "/events");
    source.addEventListener("operation", function (ev) {
      var op;
      try { op = JSON.parse(ev.data); } catch (e) { return; }
      var now = document.querySelectorAll("[data-op='" + id + "']");
      now.forEach(function (node) { show(node, op); });
      if (op.status !== last) {
        last = op.status;
        var sentence = label + ": " + (words[op.status] || op.status);
        if (op.status === "failed" && op.error) { sentence += ". " + op.error; }
        announce(sentence + ".");
      }
      if (!live(op.status)) {
        source.close();
        delete followed[id];
        refresh();
      }
    });
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) {
        delete followed[id];
        announce("Live updates of " + label + " stopped; reload the page to see where it is.");
      }
    };
    followed[id] = source;
  }

  function start() {
    document.querySelectorAll("[data-op]").forEach(function (el) {
      var id = el.getAttribute("data-op");
      if (!followed[id]) { follow(el); }
    });
  }

  // The form that adds a schedule: the number of VMs belongs to a launch,
  // so it is disabled (and not sent) while a destroy is chosen.
  function scheduleForm() {
    var count = document.getElementById("num_vms");
    var launch = document.getElementById("action-launch");
    if (!count || !launch) { return; }
    function sync() { count.disabled = !launch.checked; }
    document.querySelectorAll("input[name='action']").forEach(function (radio) {
      radio.addEventListener("change", sync);
    });
    sync();
  }

  // A notice of what the last action did (a schedule added or
  // cancelled) is announced as well as shown.
  function notices() {
    var notice = document.querySelector("[data-announce]");
    if (notice) { announce(notice.textContent.trim()); }
  }

  start();
  scheduleForm();
  notices();
}());

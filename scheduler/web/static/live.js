// Live refresh: every data-refresh seconds, fetch this page again and swap its <main> in.
// The server renders (and escapes) everything; this file never reads job data. Pauses
// while the tab is hidden or while you are typing in a form or have a menu open.
(function () {
  "use strict";
  var every = parseFloat(document.body.getAttribute("data-refresh") || "0");
  var status = document.getElementById("live-status");
  if (!(every > 0) || !window.fetch || !window.DOMParser) {
    return;
  }

  function busy() {
    var content = document.getElementById("content");
    var active = document.activeElement;
    if (!content) {
      return true;
    }
    if (active && active !== document.body && content.contains(active) &&
        /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName)) {
      return true;
    }
    return content.querySelector("details[open]") !== null;
  }

  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }

  function later(seconds) {
    window.setTimeout(tick, seconds * 1000);
  }

  function swap(text) {
    var fresh = new DOMParser().parseFromString(text, "text/html").getElementById("content");
    var here = document.getElementById("content");
    if (fresh && here && !busy()) {
      here.replaceWith(document.adoptNode(fresh));
      document.body.setAttribute("data-updated", String(Date.now()));
    }
    say("live · " + new Date().toLocaleTimeString());
  }

  function tick() {
    if (document.hidden || busy()) {
      later(every);
      return;
    }
    fetch(window.location.href, {
      credentials: "same-origin", cache: "no-store", redirect: "error",
      headers: {"X-Live": "1"}
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      return response.text();
    }).then(function (text) {
      swap(text);
      later(every);
    }).catch(function () {
      say("offline · retrying");
      later(Math.max(every * 2, 5));
    });
  }

  say("live");
  later(every);
}());

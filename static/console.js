(function () {
  "use strict";
  function done(button, ok) {
    button.setAttribute("data-copied", ok ? "true" : "false");
    button.textContent = ok ? "Copied" : "Press Ctrl+C to copy";
  }
  function selectText(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }
  function fallback(button, target) {
    selectText(target);
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    done(button, ok);
  }
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest ? ev.target.closest("[data-copy]") : null;
    if (!button) { return; }
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target) { return; }
    var text = target.textContent.trim();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(button, true); }, function () { fallback(button, target); });
    } else {
      fallback(button, target);
    }
  });
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { ev.preventDefault(); }
  });
})();
